"""Start-up: how long loading the stored history of 1,000 configurations takes.

Builds a history file the way the monitor writes it (1,000 configurations polled every
5 s for the last ``--hours`` simulated hours, through ``HistoryStore.write_poll``),
then times :func:`tui.store.start_history` -- what the app runs before its first
poll: open the file (schema check, WAL), load the last hour (raw samples for the last
2 minutes, one per minute for 15 minutes, one per 5 minutes before that) and build
the in-memory series. Each run uses a fresh connection and a fresh ``History``.

Target (issue 6): at most 300 ms for 1,000 configurations. The 30-day file of the
disk benchmark is timed by ``bench_store_disk.py`` itself (issue 18), for today's
design and the compact one side by side.

    python benchmarks/bench_startup_load.py [--configs 1000] [--hours 2] [--db FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tui.counters import TOKENS_IN, TOKENS_OUT
from tui.history import History
from tui.models import COUNTERS
from tui.settings import Settings

TARGET_MS = 300.0
START = 1_800_000_000.0


def build(path: Path, configs: int, hours: float) -> float:
    from tui.store import HistoryStore

    rng = random.Random(7)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(configs)]
    totals = [[rng.randrange(10**4, 10**9) for _ in COUNTERS] for _ in range(configs)]
    rates = [10 ** rng.uniform(0.5, 3.3) for _ in range(configs)]
    steps = round(hours * 720)
    with HistoryStore.open(path) as store:
        for step in range(steps):
            at = START + 5.0 * step
            page = []
            for i, ai_llm_id in enumerate(ids):
                v = totals[i]
                grow = int(rates[i] * 5)
                v[0] += grow // 500
                v[1] += grow
                v[2] += 2 * grow
                v[3] += grow
                v[4] += 2 * grow
                page.append((ai_llm_id, tuple(v)))
            store.write_poll(at, page)
    return START + 5.0 * (steps - 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=2.0, help="history to build (default 2)")
    ap.add_argument("--db", help="time an existing history file instead of building one")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="flashtop-start-")
    os.environ["XDG_DATA_HOME"] = tmp.name  # start_history finds the profile's file here
    from tui.store import HistoryStore, start_history, store_path

    path = store_path("bench")
    path.parent.mkdir(parents=True)
    if args.db:
        shutil.copyfile(args.db, path)
        with HistoryStore.open(path) as s:  # a file of an older schema is converted here
            end = s.conn.execute("SELECT max(at) FROM poll WHERE tier = 0").fetchone()[0] / 1000
        print(f"timing {args.db} ({path.stat().st_size / 1e6:.0f} MB)")
    else:
        t0 = time.perf_counter()
        end = build(path, args.configs, args.hours)
        print(
            f"built {args.hours:g} h of 5-second history for {args.configs} configurations "
            f"in {time.perf_counter() - t0:.0f} s ({path.stat().st_size / 1e6:.0f} MB)"
        )
    settings = Settings(profile="bench")
    now = end + 5.0
    times: list[float] = []
    history = History()
    for _ in range(args.runs):
        history = History()
        t0 = time.perf_counter()
        writer = start_history(settings, history, now)
        times.append((time.perf_counter() - t0) * 1000)
        writer.close()
        assert writer.problem is None, writer.problem
    held = sum(len(s) for s in history.series.values())
    some = next(iter(history.series.values()))
    print(
        f"loaded {len(history.series)} configurations, {held} samples "
        f"({held / max(1, len(history.series)):.0f} each); one series: "
        f"{some.rate_per_minute((TOKENS_IN, TOKENS_OUT)):.0f} tokens/min, "
        f"1 h rate {'ok' if some.rate_per_minute((TOKENS_IN,), 3600.0, 3240.0) else 'missing'}, "
        f"sparkline {len([d for d in some.interval_deltas((TOKENS_IN,), 12) if d is not None])}"
        "/12 intervals"
    )
    print(
        "start_history (open + load + build series), ms: "
        f"min {min(times):.0f}, median {statistics.median(times):.0f}, max {max(times):.0f} "
        f"over {args.runs} runs"
    )
    ok = statistics.median(times) <= TARGET_MS
    print(f"target: <= {TARGET_MS:.0f} ms: " + ("met" if ok else "MISSED"))
    tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
