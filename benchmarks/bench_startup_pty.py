"""Start-up (issue 8, benchmark 4): the monitor to first data, and ``stats`` without Textual.

* ``flashtop --demo`` in a 120x40 pseudo-terminal: time from spawning the process to
  the first frame that shows a configuration name ("support-bot"). Target <= 1.5 s.
* ``flashtop stats --demo``: wall time of the whole command (it starts the demo
  server, logs in, fetches once and prints). Target <= 0.5 s. And
  ``python -X importtime -m tui stats --demo`` must not import Textual.

Python's bytecode cache is on for these runs (in a temporary PYTHONPYCACHEPREFIX,
filled by one untimed run), as after any install; the figures without any cache
(every module compiled from source) are printed too.

    python benchmarks/bench_startup_pty.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from perf_common import PYTHON, PtyRun, base_env, machine

FIRST_DATA_TARGET = 1.5
STATS_TARGET = 0.5
FLASHTOP = str(Path(PYTHON).with_name("flashtop"))


def first_data(env: dict[str, str], tmp: Path) -> float:
    """Seconds from spawn to the first frame with a configuration name."""
    run = PtyRun([FLASHTOP, "--demo"], {**env, **base_env(tmp)}).start()
    try:
        at = run.wait_for_text(b"support-bot", 30)
        if at is None:
            raise SystemExit("flashtop --demo showed no data within 30 s")
        return at - run.started
    finally:
        run.stop(b"q")


def stats_wall(env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [FLASHTOP, "stats", "--demo"], env=env, check=True, capture_output=True, timeout=60
    )
    return time.perf_counter() - t0


def imports_textual(env: dict[str, str]) -> tuple[list[str], int]:
    """Modules named textual* that ``stats`` imports, and how many modules it imports."""
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "tui", "stats", "--demo"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    names = [
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    names = [n for n in names if n != "package"]
    return [n for n in names if n.split(".")[0].strip() == "textual"], len(names)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="flashtop-start-"))
    print(f"machine: {machine()}")
    env = base_env(tmp / "home")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    warm = {**env, "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
    cold = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(tmp / "none")}
    first_data(warm, tmp / "warmup")  # fills the bytecode cache
    stats_wall(warm)
    results: dict[str, list[float]] = {"first data": [], "stats": [], "cold first": []}
    for i in range(args.runs):
        results["first data"].append(first_data(warm, tmp / f"run{i}"))
        results["stats"].append(stats_wall(warm))
    for i in range(min(args.runs, 3)):
        results["cold first"].append(first_data(cold, tmp / f"cold{i}"))
    cold_stats = statistics.median(stats_wall(cold) for _ in range(3))
    textual, modules = imports_textual(warm)
    shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"flashtop --demo to first data (spawn -> frame with 'support-bot', 120x40 pty, "
        f"{args.runs} runs): median {med['first data']:.2f} s (min "
        f"{min(results['first data']):.2f}, max {max(results['first data']):.2f}); "
        f"without a bytecode cache {med['cold first']:.2f} s"
    )
    print(
        f"flashtop stats --demo, whole command: median {med['stats']:.2f} s (min "
        f"{min(results['stats']):.2f}, max {max(results['stats']):.2f}); without a "
        f"bytecode cache {cold_stats:.2f} s"
    )
    print(
        f"python -X importtime -m tui stats --demo: {modules} modules imported, "
        f"Textual modules among them: {len(textual)}"
        + (f" ({', '.join(textual[:5])})" if textual else "")
    )
    ok_first = med["first data"] <= FIRST_DATA_TARGET
    ok_stats = med["stats"] <= STATS_TARGET and not textual
    print(
        f"targets: first data <= {FIRST_DATA_TARGET} s: "
        + ("met" if ok_first else "MISSED")
        + f"; stats <= {STATS_TARGET} s without Textual: "
        + ("met" if ok_stats else "MISSED")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
