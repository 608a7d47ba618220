"""Disk used by the history store: bytes per configuration per day, and a simulated month.

Builds the database that 1,000 configurations polled every 5 s leave behind after 30
simulated days, through the real write path (``HistoryStore.write_poll`` and
``downsample_and_prune``) on a fake clock. Polling every 5 s for a month would mean
518 million raw rows, almost all of them pruned again after 6 hours, so the
simulation only writes what the retention rules can keep:

* more than 7 days back: one poll per hour (the hour tier keeps one row per hour);
* 7 days to 6 hours back: one poll per minute (the minute tier keeps one per minute);
* the last 6 hours: a poll every 5 s (the raw tier keeps every sample).

The tiers end up with exactly the rows a real month leaves (the row kept for each
minute and hour is a real sample either way), and pruning runs every simulated hour
on the way, so the file also carries the free pages that pruning leaves behind.

Prints rows and bytes per tier, bytes per configuration per day in each tier, and
the file size (plus WAL) at the end.

    python benchmarks/bench_store_disk.py [--configs 1000] [--days 30]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from tui.models import COUNTERS
from tui.store import TIER_HOUR, TIER_MINUTE, TIER_RAW, HistoryStore, Retention

START = 1_800_000_000.0
HOUR, MINUTE, DAY = 3600.0, 60.0, 86400.0


class Traffic:
    """Running totals that grow at a steady per-configuration rate (realistic magnitudes)."""

    def __init__(self, n: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.ids = [f"{rng.getrandbits(128):032x}" for _ in range(n)]
        self.base = [[rng.randrange(10**4, 10**9) for _ in COUNTERS] for _ in range(n)]
        idle = [rng.random() < 0.2 for _ in range(n)]
        # tokens per second; calls ~ tokens / 500; events rarely
        rates = [0.0 if idle[i] else 10 ** rng.uniform(0.5, 3.3) for i in range(n)]
        ratio = [rng.uniform(1.0, 3.0) for _ in range(n)]
        self.rates = [
            (r / 500, r, r * q, r * 0.97, r * q * 1.01, r / 50000, r / 80000, r / 200000)
            for r, q in zip(rates, ratio, strict=True)
        ]

    def poll(self, t: float) -> list[tuple[str, tuple[int | None, ...]]]:
        s = t - START
        return [
            (ai_llm_id, tuple(b + int(r * s) for b, r in zip(base, rate, strict=True)))
            for ai_llm_id, base, rate in zip(self.ids, self.base, self.rates, strict=True)
        ]


def schedule(days: float, retention: Retention) -> list[float]:
    """Poll times: hourly, then per minute, then every 5 s, as described above."""
    end = START + days * DAY
    minute_from = end - retention.minute
    raw_from = end - retention.raw
    times: list[float] = []
    t = START + 3.0
    while t < minute_from:
        times.append(t)
        t += HOUR
    t = max(t, minute_from)
    while t < raw_from:
        times.append(t)
        t += MINUTE
    while t <= end:
        times.append(t)
        t += 5.0
    return times


def tier_bytes(path: Path, tier: int, limit_configs: int) -> tuple[int, int]:
    """(rows, bytes) of one tier's rows for a few configurations, copied to a packed file."""
    out = path.with_name(f"tier{tier}.sqlite3")
    out.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'sample'").fetchone()[0]
    conn.execute(f"ATTACH '{out}' AS t")
    conn.execute(sql.replace("CREATE TABLE sample", "CREATE TABLE t.sample"))
    conn.execute(
        "INSERT INTO t.sample SELECT * FROM main.sample WHERE tier = ? AND config <= ?",
        (tier, limit_configs),
    )
    conn.commit()
    rows = conn.execute("SELECT count(*) FROM t.sample").fetchone()[0]
    conn.execute("DETACH t")
    conn.close()
    conn = sqlite3.connect(out)
    conn.execute("VACUUM")
    conn.close()
    empty = 2 * 4096  # header page + the table's root page
    size = out.stat().st_size - empty
    out.unlink()
    return int(rows), size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--dir", help="where to build the database (default: a temporary dir)")
    args = ap.parse_args(argv)

    retention = Retention()
    tmp = tempfile.TemporaryDirectory(prefix="flashtop-disk-")
    folder = Path(args.dir or tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "history-bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    traffic = Traffic(args.configs)
    times = schedule(args.days, retention)
    print(
        f"{args.configs} configurations, {args.days:g} simulated days, retention raw "
        f"{retention.raw / HOUR:g} h / minute {retention.minute / DAY:g} d / hour "
        f"{retention.hour / DAY:g} d; {len(times)} polls written"
    )
    t0 = time.perf_counter()
    deleted = 0
    with HistoryStore.open(path, retention=retention) as store:
        next_prune = times[0]
        for i, at in enumerate(times):
            store.write_poll(at, traffic.poll(at))
            if at >= next_prune:
                deleted += store.downsample_and_prune(at)
                next_prune = at + HOUR
            if i % 2000 == 0:
                day = (at - START) / DAY
                print(f"  day {day:5.1f}  {time.perf_counter() - t0:6.1f} s", flush=True)
        end = times[-1]
        deleted += store.downsample_and_prune(end)
        counts = store.counts()
        page_size = store.conn.execute("PRAGMA page_size").fetchone()[0]
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        free = store.conn.execute("PRAGMA freelist_count").fetchone()[0]
        wal = Path(f"{path}-wal")
        wal_size = wal.stat().st_size if wal.exists() else 0
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wall = time.perf_counter() - t0
    size = path.stat().st_size

    print(f"built in {wall:.0f} s; {deleted:,} rows pruned on the way")
    print()
    sample_configs = min(args.configs, 50)
    print(f"{'tier':<8}{'rows':>13}{'bytes/row':>11}{'per config per day':>22}")
    per_day = {TIER_RAW: DAY / 5.0, TIER_MINUTE: DAY / MINUTE, TIER_HOUR: DAY / HOUR}
    figures: dict[int, float] = {}
    for tier, name in ((TIER_RAW, "raw"), (TIER_MINUTE, "minute"), (TIER_HOUR, "hour")):
        rows, nbytes = tier_bytes(path, tier, sample_configs)
        per_row = nbytes / rows if rows else 0.0
        figures[tier] = per_row * per_day[tier]
        print(
            f"{name:<8}{counts.get(tier, 0):>13,}{per_row:>11.1f}{figures[tier] / 1024:>18.1f} KiB"
        )
    print()
    print(
        "bytes per configuration per day after downsampling (the hour tier, kept 400 days): "
        f"{figures[TIER_HOUR]:,.0f} B"
    )
    print(
        "  while in the minute tier (days 1-7; its hour rows are kept as well): "
        f"{(figures[TIER_MINUTE] + figures[TIER_HOUR]) / 1024:,.1f} KiB"
    )
    print(f"  the raw tier's 6 hours at 5 s: {figures[TIER_RAW] / 4 / 1024:,.1f} KiB per config")
    print()
    live = (pages - free) * page_size
    print(
        f"database after {args.days:g} days: {size / 1e6:,.1f} MB "
        f"({live / 1e6:,.1f} MB in use, {free * page_size / 1e6:,.1f} MB free pages), "
        f"WAL before checkpoint {wal_size / 1e6:.1f} MB"
    )
    print(f"  = {size / args.configs / 1e6:.2f} MB per configuration")
    long_term = figures[TIER_HOUR] * retention.hour / DAY + figures[TIER_MINUTE] * 7
    long_term += figures[TIER_RAW] / 4
    print(
        f"steady state once 400 days are kept (estimate): "
        f"{long_term * args.configs / 1e9:,.2f} GB for {args.configs} configurations"
    )
    if not args.dir:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
