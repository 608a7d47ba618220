"""Disk used by the history file after a simulated month: today's design beside the compact one.

Builds the file that 1,000 configurations polled every 5 s leave behind after 30
simulated days, through the real write path (``write_poll`` and
``downsample_and_prune``) on a fake clock, once with the row-per-sample store as it
was before issue 18 (loaded from git by ``legacy.py``) and once with the current
compact store. 10 % of the configurations have traffic (they change in every poll,
their counters growing at a steady rate with jitter, as the demo server's do); the
others are idle.

Polling every 5 s for a month would mean 518 million samples, almost all of them
pruned again after 6 hours, so the simulation only writes what the retention rules
can keep (the same for both designs):

* more than 7 days back: one poll per hour (the hour tier keeps one sample per hour);
* 7 days to 6 hours back: one poll per minute (the minute tier keeps one per minute);
* the last 6 hours: a poll every 5 s (the raw tier keeps every sample).

The tiers end up with exactly the samples a real month leaves (what changed between
two kept samples is what a real month's samples would show at those times), and
pruning runs every simulated hour on the way, so the file also carries what pruning
leaves behind. Bytes per sample are measured by copying one tier's rows into a
fresh file (VACUUMed) and dividing: for the compact store, a tier's chunks and
pending samples by its changed samples, its poll rows by its unchanged samples.

    python benchmarks/bench_store_disk.py [--configs 1000] [--days 30] [--design both]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from perf_common import machine

from tui.models import COUNTERS
from tui.settings import Settings
from tui.store import TIER_HOUR, TIER_MINUTE, TIER_RAW, HistoryStore, Retention

START = 1_800_000_000.0
HOUR, MINUTE, DAY = 3600.0, 60.0, 86400.0
PROMETHEUS = 1.3  # bytes a sample, Prometheus TSDB's published figure (Gorilla encoding)
TARGET_MB, TARGET_CHANGED, TARGET_UNCHANGED = 100.0, 8.0, 0.5
TARGET_STARTUP_MS = 300.0
NAMES = {TIER_RAW: "raw", TIER_MINUTE: "minute", TIER_HOUR: "hour"}


class Traffic:
    """Running totals as the demo server makes them: ``share`` of the configurations
    have traffic, tokens in and out growing at a steady rate with jitter (up to 0.8 s
    of traffic, drawn afresh for each poll), calls and LLM tokens following from
    them, policy events now and then; the rest stay put."""

    JITTER = 0.8

    def __init__(self, n: int, share: float = 0.1, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.rng = random.Random(seed + 1)
        self.ids = [f"{rng.getrandbits(128):032x}" for _ in range(n)]
        self.base = [tuple(rng.randrange(10**4, 10**9) for _ in COUNTERS) for _ in range(n)]
        self.active = sorted(rng.sample(range(n), round(n * share)))
        # tokens per second in, out/in ratio, tokens per call, LLM share in and out,
        # seconds between policy events
        self.shape = {
            i: (
                10 ** rng.uniform(0.5, 3.3),
                rng.uniform(1.0, 3.0),
                rng.uniform(300.0, 3000.0),
                rng.uniform(0.9, 1.0),
                rng.uniform(0.9, 1.0),
                rng.uniform(600.0, 7200.0),
            )
            for i in self.active
        }
        active = set(self.active)
        self.idle = [(self.ids[i], self.base[i]) for i in range(n) if i not in active]

    def poll(self, t: float) -> list[tuple[str, tuple[int | None, ...]]]:
        s = t - START
        u = self.rng.random
        j = self.JITTER
        out: list[tuple[str, tuple[int | None, ...]]] = list(self.idle)
        for i in self.active:
            b = self.base[i]
            rate, ratio, per_call, llm_in, llm_out, every = self.shape[i]
            tin = int(rate * (s + j * u()))
            tout = int(rate * ratio * (s + j * u()))
            events = int(s // every)
            out.append(
                (
                    self.ids[i],
                    (
                        b[0] + int(tin / per_call),
                        b[1] + tin,
                        b[2] + tout,
                        b[3] + int(tin * llm_in),
                        b[4] + int(tout * llm_out),
                        b[5] + events,
                        b[6] + events,
                        b[7] + events // 2,
                    ),
                )
            )
        return out


def schedule(days: float, retention: Any) -> list[float]:
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


def packed_size(path: Path, copy: list[tuple[str, str, tuple[Any, ...]]]) -> int:
    """Bytes that the rows selected by ``copy`` ((table, where, args)) take in a fresh,
    VACUUMed file, less the file's empty pages."""
    out = path.with_name("part.sqlite3")
    out.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.execute(f"ATTACH '{out}' AS t")
    tables = {table for table, _, _ in copy}
    for table in sorted(tables):
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL", (table,)
        ).fetchall():
            sql = sql.replace("CREATE TABLE ", "CREATE TABLE t.", 1)
            sql = sql.replace("CREATE INDEX ", "CREATE INDEX t.", 1)
            sql = sql.replace("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX t.", 1)
            conn.execute(sql)
    for table, where, args in copy:
        conn.execute(f"INSERT INTO t.{table} SELECT * FROM main.{table} WHERE {where}", args)
    conn.commit()
    conn.execute("DETACH t")
    conn.close()
    conn = sqlite3.connect(out)
    conn.execute("VACUUM")
    objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    conn.close()
    size = out.stat().st_size - (1 + objects) * 4096  # header page + a root page each
    out.unlink()
    return max(size, 0)


def build(design: str, path: Path, args: argparse.Namespace) -> dict[str, Any]:
    retention = Retention()
    traffic = Traffic(args.configs, args.changing)
    times = schedule(args.days, retention)
    if design == "today":
        from legacy import load

        opener: Any = load("store").HistoryStore
    else:
        opener = HistoryStore
    t0 = time.perf_counter()
    write_s = 0.0
    writes = 0
    wal: list[int] = []
    wal_path = Path(f"{path}-wal")
    timed_from = times[-1] - retention.raw
    with opener.open(path) as store:
        next_prune = times[0]
        for i, at in enumerate(times):
            page = traffic.poll(at)
            # The hour before the timed polls: what a poll writes to the write-ahead
            # log (every dirty page whole; later copied into the file), each poll's
            # alone (the log emptied before it).
            walled = timed_from - HOUR <= at < timed_from
            if walled:
                store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            w0 = time.perf_counter()
            store.write_poll(at, page)
            if walled:
                wal.append(wal_path.stat().st_size)
            if at >= timed_from:
                write_s += time.perf_counter() - w0
                writes += 1
            if at >= next_prune:
                store.downsample_and_prune(at)
                next_prune = at + HOUR
            if i % 3000 == 0:
                day = (at - START) / DAY
                print(f"  {design}: day {day:5.1f}  {time.perf_counter() - t0:6.1f} s", flush=True)
        store.downsample_and_prune(times[-1])
        counts = store.counts()
        conn = store.conn
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out: dict[str, Any] = {
        "startup": time_startup(design, path, times[-1] + 5.0, args.runs),
        "wall": time.perf_counter() - t0,
        "polls": len(times),
        "write_ms": write_s / max(writes, 1) * 1000,
        "wal_kb": statistics.mean(wal) / 1024 if wal else 0.0,
        "size": path.stat().st_size,
        "live": (pages - free) * page_size,
        "counts": counts,
        "tiers": {},
    }
    for tier in (TIER_RAW, TIER_MINUTE, TIER_HOUR):
        if design == "today":
            nbytes = packed_size(path, [("sample", "tier = ?", (tier,))])
            out["tiers"][tier] = (counts.get(tier, 0), counts.get(tier, 0), nbytes, 0)
            continue
        conn = sqlite3.connect(path)
        changed = conn.execute("SELECT count(*) FROM pending WHERE tier = ?", (tier,)).fetchone()[
            0
        ] + sum(
            struct.unpack_from("<BIB", data)[1]
            for (data,) in conn.execute("SELECT data FROM chunk WHERE tier = ?", (tier,))
        )
        conn.close()
        chunk_bytes = packed_size(
            path, [("chunk", "tier = ?", (tier,)), ("pending", "tier = ?", (tier,))]
        )
        poll_bytes = packed_size(path, [("poll", "tier = ?", (tier,))])
        out["tiers"][tier] = (counts.get(tier, 0), changed, chunk_bytes, poll_bytes)
    return out


def time_startup(design: str, path: Path, now: float, runs: int) -> list[float]:
    """Milliseconds of ``start_history`` (open, load the last hour, build the series:
    what the app runs before its first poll) on the file, ``runs`` times, each with a
    fresh connection and a fresh ``History``."""
    if design == "today":
        from legacy import load

        module: Any = load("store")
        history_class: Any = load("history").History
    else:
        import tui.store as module
        from tui.history import History as history_class
    real = module.store_path
    module.store_path = lambda profile: path
    settings = Settings(profile="bench")
    out: list[float] = []
    try:
        for _ in range(runs):
            history = history_class()
            t0 = time.perf_counter()
            writer = module.start_history(settings, history, now)
            out.append((time.perf_counter() - t0) * 1000)
            writer.close()
            assert writer.problem is None, writer.problem
            assert len(history.series) > 0
    finally:
        module.store_path = real
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--changing", type=float, default=0.1, help="share of configurations changing")
    ap.add_argument("--design", choices=("both", "today", "compact"), default="both")
    ap.add_argument("--dir", help="where to build the files (default: a temporary dir)")
    ap.add_argument("--runs", type=int, default=7, help="start-up loads timed per design")
    args = ap.parse_args(argv)

    print(f"machine: {machine()}, SQLite {sqlite3.sqlite_version}")
    tmp = tempfile.TemporaryDirectory(prefix="flashtop-disk-")
    folder = Path(args.dir or tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    designs = ("today", "compact") if args.design == "both" else (args.design,)
    results: dict[str, dict[str, Any]] = {}
    print(
        f"{args.configs} configurations, {args.changing:.0%} changing, {args.days:g} simulated "
        "days, retention raw 6 h / minute 7 d / hour 400 d, 5 s polls"
    )
    for design in designs:
        path = folder / f"history-{design}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        results[design] = build(design, path, args)
        r = results[design]
        print(
            f"  {design}: {r['polls']} polls written in {r['wall']:.0f} s; a 5 s poll "
            f"written in {r['write_ms']:.1f} ms"
        )
    print()
    print(f"{'':<34}" + "".join(f"{d:>18}" for d in designs))

    def line(label: str, fmt: Any) -> None:
        print(f"{label:<34}" + "".join(f"{fmt(results[d]):>18}" for d in designs))

    line("file after the month", lambda r: f"{r['size'] / 1e6:,.1f} MB")
    line("  in use (less free pages)", lambda r: f"{r['live'] / 1e6:,.1f} MB")
    line("  per configuration", lambda r: f"{r['size'] / args.configs / 1e3:,.1f} kB")
    line("writing a 5 s poll", lambda r: f"{r['write_ms']:.1f} ms")
    line("  written to the WAL a poll (mean)", lambda r: f"{r['wal_kb']:,.0f} KB")
    line(
        "start-up load, median of runs",
        lambda r: f"{statistics.median(r['startup']):.0f} ms",
    )
    line(
        "  min / max",
        lambda r: f"{min(r['startup']):.0f} / {max(r['startup']):.0f} ms",
    )
    for tier in (TIER_RAW, TIER_MINUTE, TIER_HOUR):
        name = NAMES[tier]
        line(f"{name}: samples", lambda r, t=tier: f"{r['tiers'][t][0]:,}")
        line(f"{name}: bytes a sample (all)", lambda r, t=tier: _per(r, t, "all"))
        line(f"{name}: bytes a changed sample", lambda r, t=tier: _per(r, t, "changed"))
        line(f"{name}: bytes an unchanged sample", lambda r, t=tier: _per(r, t, "unchanged"))
    print(f"{'reference: Prometheus TSDB':<34}{f'{PROMETHEUS} B a sample (published)':>36}")
    if "compact" in results:
        r = results["compact"]
        worst_changed = max(_value(r, t, "changed") for t in r["tiers"])
        worst_unchanged = max(_value(r, t, "unchanged") for t in r["tiers"])
        print()
        startup = statistics.median(r["startup"])
        print(
            f"targets: start-up load <= {TARGET_STARTUP_MS:g} ms: {startup:.0f} ms "
            f"{'met' if startup <= TARGET_STARTUP_MS else 'MISSED'}; "
            f"file <= {TARGET_MB:g} MB: {r['size'] / 1e6:.1f} MB "
            f"{'met' if r['size'] / 1e6 <= TARGET_MB else 'MISSED'}; changed sample <= "
            f"{TARGET_CHANGED:g} B in every tier: worst {worst_changed:.2f} B "
            f"{'met' if worst_changed <= TARGET_CHANGED else 'MISSED'}; unchanged <= "
            f"{TARGET_UNCHANGED:g} B: worst {worst_unchanged:.3f} B "
            f"{'met' if worst_unchanged <= TARGET_UNCHANGED else 'MISSED'}"
        )
    if not args.dir:
        tmp.cleanup()
    return 0


def _value(r: dict[str, Any], tier: int, what: str) -> float:
    samples, changed, chunk_bytes, poll_bytes = r["tiers"][tier]
    if what == "all":
        return (chunk_bytes + poll_bytes) / samples if samples else 0.0
    if what == "changed":
        return chunk_bytes / changed if changed else 0.0
    unchanged = samples - changed
    return poll_bytes / unchanged if unchanged else 0.0


def _per(r: dict[str, Any], tier: int, what: str) -> str:
    samples, changed, _, poll_bytes = r["tiers"][tier]
    if what == "unchanged" and samples == changed and not poll_bytes:
        return "(every row)"
    return f"{_value(r, tier, what):.2f} B"


if __name__ == "__main__":
    sys.exit(main())
