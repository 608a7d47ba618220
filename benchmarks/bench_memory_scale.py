"""Memory at scale (issue 8, benchmark 5): RSS at 10,000 configurations after 1,000 polls.

The real :class:`~tui.app.FlashtopApp` runs headless at 120x40; every poll's page is
the demo server's answer (10 % of the configurations changing), parsed as the client
parses it, and handed to the app exactly as its poller does (``Monitor._overview_result``), on a
fake clock 2 s apart. To finish in about two minutes the table is drawn for every 25th
poll only (memory does not depend on it). The history file is off: its memory is
SQLite's page cache (bounded), measured with the store by ``bench_history_memory.py``.

Also reported: how long one full garbage collection takes then (with the app's
``gc.freeze()`` undone, so the collector walks everything alive).

    python benchmarks/bench_memory_scale.py [--configs 10000] [--polls 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import proto_patches
from perf_common import machine, print_designs, rss_mb, run_designs

START = 1_800_000_000.0


async def run(configs: int, polls: int, every: int) -> dict[str, Any]:
    from tui.app import FlashtopApp
    from tui.demo_server import DemoServer
    from tui.models import LlmConfig, parse_stats_response
    from tui.settings import Settings
    from tui.tokens import AuthSession

    now = [START]
    server = DemoServer(n_configs=configs, changing=configs // 10, clock=lambda: now[0])
    names = {
        llm["id"]: LlmConfig(llm["id"], llm["name"], llm["aiType"], llm["workspaceId"])
        for llm in server.llms
    }
    rss0 = rss_mb()
    # Never polls by itself (no server behind this URL): pages are handed over below.
    settings = Settings(profile="mem", base_url="http://127.0.0.1:9", interval=3600.0)
    app = FlashtopApp(settings, AuthSession(None, source="bench"), clock=lambda: now[0])
    out: dict[str, Any] = {"rss_start": rss0}
    async with app.run_test(size=(120, 40)) as pilot:
        app.monitor.poller.pause()
        app.monitor.names = names
        await pilot.pause()
        out["rss_app"] = rss_mb()
        t0 = time.perf_counter()
        show = app.overview.show_page
        marks: list[float] = []
        for i in range(polls):
            now[0] = START + 2.0 * i
            page = parse_stats_response({"success": True, "stats": server.snapshot()})
            if i % every == 0 or i == polls - 1:
                await app.monitor._overview_result(page, now[0])
                await pilot.pause()
            else:
                app.overview.show_page = lambda *args: None  # type: ignore[method-assign]
                await app.monitor._overview_result(page, now[0])
                app.overview.show_page = show  # type: ignore[method-assign]
            if i in (99, 499, 719, polls - 1):
                marks.append(rss_mb())
        out["seconds"] = time.perf_counter() - t0
        out["rss_marks"] = marks
        out["samples"] = sum(len(s) for s in app.monitor.history.series.values())
        out["rows"] = len(app.overview.table.order)
        gc.unfreeze()  # the app froze what was alive after its first poll
        gc.collect()
        t1 = time.perf_counter()
        gc.collect()
        out["gc_ms"] = (time.perf_counter() - t1) * 1000
        out["tracked"] = len(gc.get_objects())
        out["rss_end"] = rss_mb()
        app.exit()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=10_000)
    ap.add_argument("--polls", type=int, default=1000)
    ap.add_argument("--draw-every", type=int, default=25)
    ap.add_argument("--proto", default="", help="variants (see proto_patches.py)")
    ap.add_argument(
        "--design",
        choices=("both", "today", "compact"),
        default="both",
        help="both: today's in-memory history (legacy-history) and the current one, "
        "each in a fresh process, side by side",
    )
    args = ap.parse_args(argv)
    if args.design == "both":
        return side_by_side(argv or sys.argv[1:])
    proto = args.proto
    if args.design == "today":
        proto = ",".join(p for p in ("legacy-history", proto) if p)
    applied = proto_patches.apply(proto)
    print(f"machine: {machine()}")
    r = asyncio.run(run(args.configs, args.polls, args.draw_every))
    print(
        f"memory: {args.configs} configurations, {args.polls} polls 2 s apart (10% changing), "
        f"headless 120x40, table drawn every {args.draw_every}th poll, history file off; "
        f"{r['seconds']:.0f} s" + (f"; VARIANT: {', '.join(applied)}" if applied else "")
    )
    print(
        f"RSS: {r['rss_start']:.0f} MB before the app, {r['rss_app']:.0f} MB with the app "
        f"running; after 100 / 500 / 720 / {args.polls} polls: "
        + " / ".join(f"{m:.0f}" for m in r["rss_marks"])
        + f" MB; at the end {r['rss_end']:.0f} MB"
    )
    print(
        f"held: {r['samples']:,} samples ({r['samples'] / max(args.configs, 1):.0f} per "
        f"configuration), {r['rows']:,} rows; {r['tracked']:,} objects tracked by the "
        f"garbage collector; one full collection takes {r['gc_ms']:.0f} ms"
    )
    print("RESULT " + json.dumps(r), flush=True)
    return 0


TARGET_MB = 200.0


def side_by_side(argv: list[str]) -> int:
    """Run the benchmark for each design in its own process; print both."""
    got = run_designs(__file__, argv)
    if isinstance(got, int):
        return got
    results = got
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("RSS with the app running, no polls", lambda r: f"{r['rss_app']:.0f} MB"),
        (
            "RSS after 720 polls (buffers full)",
            lambda r: f"{r['rss_marks'][min(2, len(r['rss_marks']) - 1)]:.0f} MB",
        ),
        ("RSS after the last poll", lambda r: f"{r['rss_marks'][-1]:.0f} MB"),
        ("samples held", lambda r: f"{r['samples']:,}"),
        ("one full garbage collection", lambda r: f"{r['gc_ms']:.0f} ms"),
        ("wall time", lambda r: f"{r['seconds']:.0f} s"),
    ]
    print_designs("", rows, results, label=40, column=14)
    end = results["compact"]["rss_marks"][-1]
    print(
        f"target: <= {TARGET_MB:g} MB after the last poll: {end:.0f} MB "
        f"{'met' if end <= TARGET_MB else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
