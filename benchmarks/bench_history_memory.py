"""Memory of the monitor's history: 1,000 configurations polled every 5 s for 24 simulated hours.

Runs what the app runs for each poll -- fresh ``LlmStats`` objects as the client would
parse them, ``History.record`` (the in-memory ring buffers) and the store's background
writer (SQLite, pruning every simulated minute) -- on a fake clock, as fast as it can.
Prints the resident set size (VmRSS from /proc/self/status) every simulated hour,
the peak, and how much it moved over the last 12 simulated hours.

Targets (issue 6): at most 150 MB resident, flat over the last 12 simulated hours.

Issue 18: ``--design both`` (the default) runs it twice, each in its own process:
with today's history and history file (before issue 18, from git: proto ``legacy``)
and with the current ones, and prints the figures side by side.

    python benchmarks/bench_history_memory.py [--configs 1000] [--hours 24] [--no-store]
        [--design both|today|compact]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import proto_patches
from perf_common import print_designs, run_designs

if __name__ == "__main__" and sys.argv[-2:] == ["--design", "today"]:
    proto_patches.legacy()  # before tui.history and tui.store are imported

from tui.history import History
from tui.models import COUNTERS, LlmStats
from tui.store import HistoryStore, StoreWriter

TARGET_MB = 150.0
FLAT_MB = 5.0  # what "flat" allows over the last 12 hours: allocator noise, not growth
START = 1_800_000_000.0


def status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field} in /proc/self/status")


class Traffic:
    """Counters for n configurations: steady, bursty and idle ones, like the demo server."""

    def __init__(self, n: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.ids = [f"{rng.getrandbits(128):032x}" for _ in range(n)]
        self.kind = [rng.choices(("steady", "bursty", "idle"), (5, 3, 2))[0] for _ in range(n)]
        self.rate = [10 ** rng.uniform(0.5, 3.3) for _ in range(n)]
        self.values = [
            [rng.randrange(10**4, 10**9) for _ in COUNTERS] for _ in range(n)
        ]  # running totals

    def poll(self, step: int) -> list[LlmStats]:
        rng = self.rng
        out = []
        for i, ai_llm_id in enumerate(self.ids):
            v = self.values[i]
            kind = self.kind[i]
            if kind == "steady" or (kind == "bursty" and rng.random() < 0.1):
                tin = int(self.rate[i] * 5 * rng.uniform(0.2, 1.8)) + 1
                tout = tin * 2
                v[0] += max(1, tin // 500)
                v[1] += tin
                v[2] += tout
                v[3] += tin
                v[4] += tout
                if rng.random() < 0.001:
                    v[5] += 1
                    v[6] += 1
            out.append(LlmStats(ai_llm_id=ai_llm_id, values=tuple(v)))
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--no-store", action="store_true", help="history in memory only")
    ap.add_argument("--design", choices=("both", "today", "compact"), default="both")
    args = ap.parse_args(argv)
    if args.design == "both":
        return side_by_side(list(argv if argv is not None else sys.argv[1:]))

    traffic = Traffic(args.configs)
    history = History()
    tmp = tempfile.TemporaryDirectory(prefix="flashtop-bench-")
    writer: StoreWriter | None = None
    if not args.no_store:
        writer = StoreWriter(HistoryStore.open(Path(tmp.name) / "history.sqlite3"))
    per_hour = round(3600 / args.interval)
    steps = round(args.hours * per_hour)
    gc.collect()
    base = status_mb("VmRSS")
    print(
        f"{args.configs} configurations, a poll every {args.interval:g} s, "
        f"{args.hours:g} simulated hours ({steps} polls), "
        f"store: {'no' if writer is None else 'yes'}"
    )
    print(f"start: {base:.1f} MB resident")
    print(f"{'sim hour':>8}  {'RSS MB':>7}  {'wall s':>7}")
    samples: list[tuple[float, float]] = []
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        at = START + args.interval * step
        page = traffic.poll(step)
        if writer is not None:
            writer.flush()  # the previous poll is written: never drop one in a benchmark
            writer.submit(at, page)
        history.record(page, at)
        if step % per_hour == 0:
            hour = step / per_hour
            rss = status_mb("VmRSS")
            samples.append((hour, rss))
            print(f"{hour:8.0f}  {rss:7.1f}  {time.perf_counter() - t0:7.1f}", flush=True)
    wall = time.perf_counter() - t0
    if writer is not None:
        writer.flush()
        writer.close()
        print(
            f"store: {writer.written} polls written, {writer.dropped} dropped, "
            f"{writer.failed} failed"
        )
    peak = status_mb("VmHWM")
    held = sum(len(s) for s in history.series.values())
    last = [rss for hour, rss in samples if hour >= args.hours / 2]
    drift = max(last) - min(last) if last else 0.0
    print(f"samples held in memory: {held} ({held / max(1, args.configs):.0f} per configuration)")
    print(
        f"resident at end: {samples[-1][1] if samples else base:.1f} MB; "
        f"peak (VmHWM): {peak:.1f} MB"
    )
    print(f"movement over the last {args.hours / 2:g} simulated hours: {drift:.1f} MB")
    print(f"wall time: {wall:.0f} s ({wall / steps * 1000:.2f} ms per poll)")
    ok = peak <= TARGET_MB and drift <= FLAT_MB
    print(
        f"target: peak <= {TARGET_MB:.0f} MB and flat (<= {FLAT_MB:.0f} MB movement): "
        + ("met" if ok else "MISSED")
    )
    result = {"peak": peak, "end": samples[-1][1] if samples else base, "drift": drift}
    result["wall_ms_per_poll"] = wall / steps * 1000
    print("RESULT " + json.dumps(result), flush=True)
    tmp.cleanup()
    return 0 if ok else 1


def side_by_side(argv: list[str]) -> int:
    """Run it for each design in its own process (the last arguments name it)."""
    got = run_designs(__file__, argv)
    if isinstance(got, int):
        return got
    rows = [
        (label, lambda r, key=key, unit=unit: f"{r[key]:.1f} {unit}")
        for key, label, unit in (
            ("end", "resident at the end", "MB"),
            ("peak", "peak (VmHWM)", "MB"),
            ("drift", "movement, last half", "MB"),
            ("wall_ms_per_poll", "wall time per poll", "ms"),
        )
    ]
    print_designs("", rows, got)
    return 0


if __name__ == "__main__":
    sys.exit(main())
