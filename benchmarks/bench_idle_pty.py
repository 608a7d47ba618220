"""Idle cost and bytes to the terminal (issue 8, benchmarks 2 and 3), side by side.

Five programs run at the same time, each on its own pseudo-terminal of 120x40
(TERM=xterm-256color), their output drained and counted by a thread:

* ``flashtop --interval 2`` against a demo server in this process with 100
  configurations of which 10 change per poll (the rest stay idle), history file on;
* the same with churn (issue 13): which 10 configurations are busy moves on every
  poll (``DemoServer(rotate=2)``), and the table is sorted by TOK/MIN, so rates rise
  and fall and rows would re-rank all the time (leave it out with ``--no-churn``);
* ``htop -d 20`` (a refresh every 2 s);
* a bare Textual app that only shows a static DataTable of 100 rows (the floor);
* the same DataTable where 10 rows x 10 cells change by ``update_cell`` every 2 s.

After a warm-up (flashtop's sparklines and 1-minute rates reach their steady state)
CPU time (utime + stime from ``/proc/<pid>/stat``) and bytes written are measured over
the same window. The full-redraw size is what htop writes for Ctrl-L, and for the
Textual apps a complete 120x40 frame from their compositor, encoded in 256 colours
as their driver does (Textual never repaints everything on its own, not even on a
resize).

Targets: flashtop <= 0.5 % of one core; <= 4 KiB per poll when 10 of 100 rows change;
the same under churn.

    python benchmarks/bench_idle_pty.py [--seconds 60] [--warmup 30]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perf_common import PYTHON, ROOT, PtyRun, base_env, machine

CHURN = "flashtop, churn: busy set rotates each poll"
CPU_TARGET = 0.5  # percent of one core
BYTES_TARGET = 4096
STATS = "/ai/llm/stats"
HTOP = "htop -d 20"
DATATABLE = "DataTable, update_cell 10x10 / 2 s"


@dataclass
class Flashtop:
    """One flashtop under test, with its own demo server."""

    proto: str
    #: Seconds between moves of the demo's active configurations (None: they stay).
    rotate: float | None = None
    #: Run flashtop from this source tree instead (PYTHONPATH), to compare two versions.
    tree: str | None = None
    server: Any = None
    token: str = ""
    polls: list[float] = field(default_factory=list)


def ctrl_l_redraw(run: PtyRun, settle: float = 1.0) -> int:
    """Bytes htop writes for Ctrl-L (clear and redraw everything)."""
    t0 = time.time()
    run.write(b"\x0c")
    time.sleep(settle)
    return run.total_bytes(t0, t0 + settle)


def full_frame_bytes(app: Any, ready: Callable[[], bool]) -> int:
    """Bytes of a complete 120x40 frame of a Textual ``app``, encoded as its driver
    would for TERM=xterm-256color (Textual repaints only what changed, even on a
    resize, so a full frame is taken from its compositor, headless)."""
    from rich.console import Console

    console = Console(
        file=io.StringIO(), color_system="256", force_terminal=True, width=120, height=40
    )

    async def run() -> int:
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 30
            while not ready() and time.monotonic() < deadline:
                await pilot.pause(0.1)
            await pilot.pause(0.5)
            update = app.screen._compositor.render_full_update()
            return len(update.render_segments(console).encode())

    return asyncio.run(run())


def flashtop_frame(base_url: str, token: str) -> int:
    from tui.app import FlashtopApp
    from tui.settings import Settings
    from tui.tokens import AuthSession, TokenSet

    session = AuthSession(TokenSet(token, None, obtained_at=time.time()), source="env")
    app = FlashtopApp(Settings(profile="frame", base_url=base_url, interval=2.0), session)
    return full_frame_bytes(
        app, lambda: bool(app.monitor.names) and len(app.overview.table.order) > 0
    )


def table_frame() -> int:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from static_table_app import TableApp

    app = TableApp(None)
    return full_frame_bytes(app, lambda: app.is_running)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="measured window")
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds before measuring")
    ap.add_argument("--configs", type=int, default=100)
    ap.add_argument("--changing", type=int, default=10)
    ap.add_argument(
        "--compare",
        metavar="DIR",
        help="also run the flashtop of another source tree (e.g. a git worktree of an "
        "older commit), steady and under churn, in the same run",
    )
    ap.add_argument(
        "--no-churn",
        action="store_true",
        help="leave out the flashtop whose active configurations rotate every poll",
    )
    ap.add_argument(
        "--proto",
        default="",
        help="also run flashtop with these variants (see proto_patches.py), alongside",
    )
    args = ap.parse_args(argv)

    from tui.demo_server import DemoServer

    tmp = Path(tempfile.mkdtemp(prefix="flashtop-idle-"))
    env = base_env(tmp / "others")
    htop = shutil.which("htop")
    table_app = str(ROOT / "benchmarks" / "static_table_app.py")
    # Each flashtop gets its own demo server (to count its polls) and data dir.
    flashtops: dict[str, Flashtop] = {"flashtop": Flashtop("")}
    if not args.no_churn:
        # Issue 13: which configurations are busy moves on every poll, and the table
        # is sorted by TOK/MIN (flashtop's default), so rates and ranks keep changing.
        flashtops[CHURN] = Flashtop("", rotate=2.0)
    if args.compare:
        flashtops[f"flashtop of {args.compare}"] = Flashtop("", tree=args.compare)
        if not args.no_churn:
            flashtops[f"flashtop of {args.compare}, churn"] = Flashtop(
                "", rotate=2.0, tree=args.compare
            )
    if args.proto:
        flashtops[f"flashtop, variant {args.proto}"] = Flashtop(args.proto)
        if not args.no_churn:
            flashtops[f"flashtop, churn, variant {args.proto}"] = Flashtop(args.proto, rotate=2.0)
    runs: dict[str, PtyRun] = {}
    for i, (name, ft) in enumerate(flashtops.items()):
        ft.server = DemoServer(
            n_configs=args.configs, changing=args.changing, rotate=ft.rotate
        ).start()
        access, _refresh = ft.server.issue_tokens()
        ft.token = access
        ft_env = {**base_env(tmp / f"flashtop{i}"), "FLASHBACK_TOKEN": access}  # never printed
        if ft.tree:
            ft_env["PYTHONPATH"] = ft.tree
        ft_args = ["--base-url", ft.server.base_url, "--interval", "2"]
        if ft.proto:
            proto = str(ROOT / "benchmarks" / "proto_patches.py")
            argv_ = [PYTHON, proto, "run", ft.proto, "--", *ft_args]
        else:
            argv_ = [str(Path(PYTHON).with_name("flashtop")), *ft_args]
        runs[name] = PtyRun(argv_, ft_env).start()
    runs["static DataTable (floor)"] = PtyRun([PYTHON, table_app], env).start()
    runs[DATATABLE] = PtyRun([PYTHON, table_app, "--update", "2"], env).start()
    if htop:
        runs[HTOP] = PtyRun([htop, "-d", "20"], {**env, "HOME": str(tmp)}).start()
    print(f"machine: {machine()}")
    print(
        f"idle cost: {len(runs)} programs in parallel, each on its own 120x40 pty "
        f"(TERM=xterm-256color); flashtop: {args.configs} configurations, {args.changing} "
        f"changing per poll, interval 2 s, history file on; warm-up {args.warmup:g} s, "
        f"window {args.seconds:g} s"
    )
    if not htop:
        print("htop not found: install it (apt-get install -y htop) for the comparison")
    redraws = dict.fromkeys(runs, 0)
    try:
        for name in flashtops:
            if runs[name].wait_for_text(b"support-bot", 30) is None:
                print(runs[name].output()[-2000:].decode(errors="replace"))
                raise SystemExit(f"{name} showed no data within 30 s")
        time.sleep(args.warmup)
        t0 = time.time()
        cpu0 = {name: r.cpu() for name, r in runs.items()}
        time.sleep(args.seconds)
        t1 = time.time()
        cpu1 = {name: r.cpu() for name, r in runs.items()}
        for ft in flashtops.values():
            assert ft.server is not None
            with ft.server._lock:
                ft.polls = [r.at for r in ft.server.requests if r.path == STATS and t0 <= r.at < t1]
        if htop:
            redraws[HTOP] = ctrl_l_redraw(runs[HTOP])
    finally:
        for r in runs.values():
            r.stop(b"q")
    try:
        ft = flashtops["flashtop"]
        assert ft.server is not None
        redraws["flashtop"] = flashtop_frame(ft.server.base_url, ft.token)
        redraws["static DataTable (floor)"] = redraws[DATATABLE] = table_frame()
    finally:
        for ft in flashtops.values():
            if ft.server is not None:
                ft.server.stop()

    window = t1 - t0
    print(
        f"{'program':<44} {'CPU % of a core':>15} {'bytes/s':>8} {'per 2 s':>8} {'full redraw':>11}"
    )
    for name, r in runs.items():
        share = (cpu1[name] - cpu0[name]) / window * 100
        b = r.total_bytes(t0, t1)
        redraw = redraws.get(name) or redraws["flashtop"]
        print(f"{name:<44} {share:>15.2f} {b / window:>8.0f} {b / window * 2:>8.0f} {redraw:>11}")
    for name, ft in flashtops.items():
        r = runs[name]
        total = r.total_bytes(t0, t1)
        after = sum(r.total_bytes(p, p + 0.5) for p in ft.polls)
        n = max(len(ft.polls), 1)
        cpu = (cpu1[name] - cpu0[name]) / window * 100
        print(
            f"{name}: {len(ft.polls)} polls in {window:.0f} s; {total / n:.0f} B per poll "
            f"(everything written in a poll interval): {after / n:.0f} B within 0.5 s after "
            f"the request (the poll's frame), {(total - after) / n:.0f} B later (cells "
            f"unmarked, 1-second status ticks); full redraw {redraws['flashtop']} B"
        )
        print(
            f"  targets: CPU <= {CPU_TARGET} % ({cpu:.2f} %): "
            + ("met" if cpu <= CPU_TARGET else "MISSED")
            + f"; bytes per poll <= {BYTES_TARGET} ({total / n:.0f}): "
            + ("met" if total / n <= BYTES_TARGET else "MISSED")
        )
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
