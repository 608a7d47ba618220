"""Variants of flashtop for comparison, patched into the process under test.

The prototypes measured here in the first round (O(1) token rates and a bytearray
ring in ``tui/history.py``, parsing off the event loop in ``tui/client.py``, a quiet
status bar, ``gc.freeze``) are now part of flashtop. What is left are switches that
take a piece *out*, so its cost is measured in the same run as flashtop itself:

* ``nomarks``: no changed-cell marks (what the marks cost in bytes and CPU).
* ``nofreeze``: no ``gc.freeze()`` after the first poll (what the freeze is worth).
* ``nostore``: polls not handed to the history file's writer thread (what writing
  them costs the event loop, with which that thread shares the interpreter lock).
* ``legacy-history``: the in-memory history as it was before issue 18 (one 80-byte
  record per sample), for today's-design figures beside the current ones.
* ``legacy``: that history and the history file as it was before issue 18 (a row
  per sample and tier).
* ``gcstats``: takes nothing out; prints the garbage collector's pauses per
  generation at exit (to tell a collector's cost from the rest).
* ``gcyoung700``: young collections at Python's default threshold after the first
  poll (what ``GC_YOUNG_THRESHOLD`` is worth).
* ``stockinput``: the terminal's input thread wakes every 0.1 s, as Textual's own
  does (what sleeping until a key, an escape timeout or quit is worth).
* ``notick``: the app's once-a-second tick every hour instead (what it costs).
* ``gapN`` (``gap16``, say): changed runs of a line up to N cells apart repainted as
  one (flashtop's own is ``SPAN_GAP``): fewer regions against more bytes.

Apply with ``--proto NAME[,NAME]`` (``bench_poll_scale.py``, ``bench_memory_scale.py``)
or run flashtop through :func:`main` (``bench_idle_pty.py --proto``):

    python benchmarks/proto_patches.py run NAMES -- FLASHTOP ARGS   # flashtop, patched
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def legacy_history() -> None:
    """Not a proposal: today's in-memory history (80-byte record per sample, before
    issue 18), loaded from git by ``legacy.py``, in place of ``tui.history``. Must be
    applied before anything imports ``tui.history``."""
    import legacy

    sys.modules["tui.history"] = legacy.load("history")


def legacy() -> None:
    """Not a proposal: today's history and history file (before issue 18, from git by
    ``legacy.py``) in place of ``tui.history`` and ``tui.store``, for today's-design
    figures beside the current ones. Must be applied before anything imports them."""
    import legacy as old

    history = old.load("history")
    store = old.load("store")
    store.StoreWriter.take_notice = lambda self: None  # the monitor asks since issue 18
    sys.modules["tui.history"] = history
    sys.modules["tui.store"] = store


def nofreeze() -> None:
    """Not a proposal: flashtop without its ``gc.freeze()`` after the first poll."""
    import tui.app as a

    a.gc.freeze = lambda: None  # type: ignore[attr-defined]


def nostore() -> None:
    """Not a proposal: nothing handed to the history file's writer thread."""
    from tui.store import StoreWriter

    StoreWriter.submit = lambda self, at, stats: None  # type: ignore[method-assign,assignment]


def gcstats() -> None:
    """Not a proposal: print the garbage collector's pauses per generation at exit."""
    import atexit
    import gc
    import time

    began: list[float] = [0.0]
    spent = [[0, 0.0, 0.0] for _ in range(3)]  # count, total ms, max ms

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - began[0]) * 1000
        row = spent[info["generation"]]
        row[0] += 1
        row[1] += ms
        row[2] = max(row[2], ms)

    gc.callbacks.append(note)

    def report() -> None:
        for gen, (n, total, worst) in enumerate(spent):
            print(f"gc generation {gen}: {n} collections, {total:.0f} ms, max {worst:.1f} ms")

    atexit.register(report)


def gcyoung700() -> None:
    """Not a proposal: young collections at Python's default 700 objects after the
    first poll, not ``tui.app.GC_YOUNG_THRESHOLD`` (what raising it is worth)."""
    import tui.app as a

    a.GC_YOUNG_THRESHOLD = 700


# ---------------------------------------------------------------- no marks (to explain)


def nomarks() -> None:
    """Not a proposal: changed cells are not marked (to show what the marks cost)."""
    import tui.app as a

    init = a.FlashtopApp.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["mark_changes"] = False
        init(self, *args, **kwargs)

    a.FlashtopApp.__init__ = __init__  # type: ignore[method-assign]


# ------------------------------------------------- the input thread at Textual's rhythm


def stockinput() -> None:
    """Not a proposal: the input thread looks at its parser every 0.1 s, as Textual's
    own does, instead of sleeping until a key, an escape timeout or quit."""
    import tui.terminal as t

    t.input_wait = lambda parser: t.STOCK_INPUT_WAIT  # type: ignore[assignment]


def notick() -> None:
    """Not a proposal: the app's once-a-second tick (status bar age, toasts, the
    screens' clocks) every hour instead (what the tick costs an idle monitor)."""
    import tui.app as a

    a.TICK_SECONDS = 3600.0


PATCHES: dict[str, Callable[[], None]] = {
    "nomarks": nomarks,
    "nofreeze": nofreeze,
    "nostore": nostore,
    "gcstats": gcstats,
    "gcyoung700": gcyoung700,
    "legacy-history": legacy_history,
    "legacy": legacy,
    "stockinput": stockinput,
    "notick": notick,
}


def span_gap(cells: int) -> None:
    """Not a proposal: changed runs of a line up to ``cells`` apart repainted as one
    (``gapN``; flashtop's own is ``tui.widgets.stats_table.SPAN_GAP``)."""
    import tui.widgets.stats_table as table

    table.SPAN_GAP = cells


def apply(names: str) -> list[str]:
    applied = [n for n in names.split(",") if n]
    for name in applied:
        if name.startswith("gap") and name[3:].isdigit():
            span_gap(int(name[3:]))
            continue
        PATCHES[name]()
    return applied


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"] and len(argv) >= 2:
        apply(argv[1])
        rest = argv[2:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        from tui.cli import main as flashtop

        return flashtop(rest)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
