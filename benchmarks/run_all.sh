#!/usr/bin/env bash
# Run the performance benchmarks of issue 8 in one go and print their figures
# (about 9 minutes on 2 cores). Each also runs alone: python benchmarks/<script>.py
#
#   benchmarks/run_all.sh            # the issue-8 benchmarks
#   benchmarks/run_all.sh --quick    # fewer polls and a 30-second idle window (~4 min)
#   benchmarks/run_all.sh --all      # also the history/store benchmarks of issue 6 (~5 min more)
#
# Uses the Python that runs flashtop: $PYTHON, else .venv/bin/python or venv/bin/python
# next to the checkout, else python3. htop is needed for the idle comparison.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    for candidate in .venv/bin/python venv/bin/python ../venv/bin/python; do
        if [ -x "$candidate" ]; then PY="$candidate"; break; fi
    done
fi
PY="${PY:-python3}"

QUICK=0
ALL=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        --all) ALL=1 ;;
        *) echo "usage: $0 [--quick] [--all]" >&2; exit 2 ;;
    esac
done

POLLS=30
IDLE=60
if [ "$QUICK" = 1 ]; then POLLS=8; IDLE=30; fi

run() {
    echo
    echo "=== $* ==="
    "$PY" "$@"
}

command -v htop >/dev/null || echo "note: htop is not installed; the idle comparison runs without it"
run benchmarks/bench_poll_scale.py --polls "$POLLS"
# What two pieces are worth, in the same conditions (see proto_patches.py):
run benchmarks/bench_poll_scale.py --sizes 10000 --polls "$POLLS" --proto nofreeze
run benchmarks/bench_poll_scale.py --sizes 10000 --polls "$POLLS" --proto nostore
run benchmarks/bench_idle_pty.py --seconds "$IDLE" --proto nomarks
run benchmarks/bench_rank_churn.py
run benchmarks/bench_startup_pty.py
run benchmarks/bench_memory_scale.py
if [ "$ALL" = 1 ]; then
    run benchmarks/bench_history_memory.py
    run benchmarks/bench_store_disk.py
    run benchmarks/bench_startup_load.py
fi
