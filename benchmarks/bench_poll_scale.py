"""Poll to screen at scale (issue 8, benchmark 1), headless.

For 100, 1,000 and 10,000 configurations (10 % of them changing per poll) the real
:class:`~tui.app.FlashtopApp` (history file on, as ``flashtop`` runs it) polls a demo
server that runs in its own process. For each poll it measures the time from the
response arriving (the body read, before JSON decoding) to the frame that shows it
(the compositor's update, encoded for the terminal as a real driver would), and
where that time goes: JSON + parse, history, store hand-off, table (order, visible
rows, totals), and the wait for and drawing of the frame. Before measuring, the
profile's history file holds two minutes of polls, so the 1-minute rates walk a full
window from the first poll on (a monitor that has been running for a while).

Meanwhile a thread presses up/down at random moments (as a terminal's input thread
would) and each key's latency is measured from the press to the frame that shows
the moved cursor; the keys that landed while a poll was being processed are
reported apart.

Targets at 10,000: p50 <= 100 ms, p95 <= 250 ms, key during a poll <= 50 ms.

    python benchmarks/bench_poll_scale.py [--sizes 100,1000,10000] [--polls 25] [--interval 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import proto_patches
from perf_common import DemoProcess, machine, pct, print_designs, run_designs

P50_MS, P95_MS, KEY_MS = 100.0, 250.0, 50.0


@dataclass
class Poll:
    arrive: float
    parsed: float = 0.0
    record_ms: float = 0.0
    submit_ms: float = 0.0
    table_ms: float = 0.0
    ingested: bool = False
    result_ms: float = 0.0
    block_ms: float = 0.0
    result_end: float = 0.0
    screen: float = 0.0
    frame_ms: float = 0.0
    frame_bytes: int = 0


@dataclass
class Key:
    pressed: float
    acted: float = 0.0
    screen: float = 0.0


@dataclass
class Probe:
    polls: list[Poll] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    current: Poll | None = None
    pending_key: Key | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def timed(store: Callable[[float], None], fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            store((time.perf_counter() - t0) * 1000)

    return wrapper


def seed_history(profile: str, n: int, changing: int, interval: float) -> None:
    """Two minutes of past polls in the profile's history file, so that the first
    poll already walks a full 1-minute rate window (the steady state of a monitor
    that has run for a while). Values are the demo's starting values, which the
    idle configurations keep and the changing ones only grow from."""
    from tui.demo_server import DemoServer
    from tui.models import parse_stats_object
    from tui.store import HistoryStore, store_path

    start = DemoServer(n_configs=n, changing=changing, clock=lambda: 0.0).snapshot()
    page = [(o["aiLlmId"], parse_stats_object(o, o["aiLlmId"]).values) for o in start]
    path = store_path(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    with HistoryStore.open(path) as store:
        for k in range(round(120 / interval), 0, -1):
            store.write_poll(now - k * interval, page)


async def demo_login(base_url: str) -> Any:
    from tui.client import FlashbackClient
    from tui.demo_server import DEMO_EMAIL, DEMO_PASSWORD

    async with FlashbackClient(base_url) as client:
        return await client.login(DEMO_EMAIL, DEMO_PASSWORD)


async def run_size(
    n: int,
    polls: int,
    warmup: int,
    interval: float,
    rotate: float | None = None,
    priced: bool = False,
) -> dict[str, Any]:
    from textual import events

    from tui import app as app_module
    from tui.history import History
    from tui.screens.overview import OverviewScreen
    from tui.settings import Settings
    from tui.store import StoreWriter
    from tui.tokens import AuthSession

    changing = max(1, n // 10)
    seed_history(f"bench{n}", n, changing, interval)
    server = DemoProcess(n, changing, rotate)
    probe = Probe()
    settings = Settings(profile=f"bench{n}", base_url=server.base_url, interval=interval, demo=True)
    if priced:
        # Issue 14: every configuration priced, $/H and $ TODAY on screen, 3 budgets.
        from decimal import Decimal

        from tui.settings import BudgetSpec

        settings = replace(
            settings,
            models={"*": "gpt-4o"},
            budgets=(
                BudgetSpec("*", "day", usd=Decimal(1000)),
                BudgetSpec("cfg-1*", "month", usd=Decimal(5000)),
                BudgetSpec("*", "day", tokens=10**10),
            ),
        )
    # The demo server runs in its own process: log in to it as a user would.
    session = AuthSession(await demo_login(server.base_url), source="demo")
    app = app_module.FlashtopApp(settings, session, keep_history=True)

    # -- probes (benchmark only: wrappers around the app's own code) ---------------
    client = app.monitor.client
    interpret = client._interpret

    def on_interpret(
        resp: Any, body: bytes, path: str, action: str | None, parse: Any = None
    ) -> object:
        # Called with the whole body read (on a worker thread for a large body).
        if path.strip("/") == "ai/llm/stats":
            probe.current = Poll(arrive=time.perf_counter())
        return interpret(resp, body, path, action, parse)

    client._interpret = on_interpret  # type: ignore[method-assign]
    get_stats = client.get_stats

    async def on_get_stats(ai_llm_id: str | None = None) -> Any:
        page = await get_stats(ai_llm_id)
        if probe.current is not None:
            probe.current.parsed = time.perf_counter()
        return page

    client.get_stats = on_get_stats  # type: ignore[method-assign]

    def add(attr: str) -> Callable[[float], None]:
        def store(ms: float) -> None:
            if probe.current is not None:
                setattr(probe.current, attr, getattr(probe.current, attr) + ms)

        return store

    record, submit, render_rows = History.record, StoreWriter.submit, OverviewScreen.render_rows
    History.record = timed(add("record_ms"), record)  # type: ignore[method-assign]
    StoreWriter.submit = timed(add("submit_ms"), submit)  # type: ignore[method-assign]
    table_ms = timed(add("table_ms"), render_rows)

    def rendered(screen: Any, rates: Any = None, **kwargs: Any) -> None:
        # The table has its new rows once render_rows returns (whenever it runs).
        table_ms(screen, rates, **kwargs)
        if probe.current is not None and probe.current.ingested:
            probe.current.result_end = time.perf_counter()

    OverviewScreen.render_rows = rendered  # type: ignore[method-assign]
    on_result = app.monitor.poller._on_result

    async def on_overview(page: Any, at: float) -> None:
        t0 = time.perf_counter()
        if probe.current is not None:
            probe.current.ingested = True
        shown = on_result(page, at)
        if shown is not None:
            await shown
        if probe.current is not None:
            probe.current.result_ms = (time.perf_counter() - t0) * 1000

    app.monitor.poller._on_result = on_overview

    async def ticker() -> None:
        # The longest stretch the event loop ran without a break during each poll:
        # what a key pressed then can wait at worst before it is even looked at.
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            cur = probe.current
            if cur is not None:
                cur.block_ms = max(cur.block_ms, (now - last) * 1000 - 1.0)
            last = now

    display = app._display

    def on_display(screen: Any, renderable: Any) -> None:
        if renderable is not None:
            t0 = time.perf_counter()
            # What a real driver does before writing; headless Textual skips it.
            size = len(renderable.render_segments(app.console).encode())
            now = time.perf_counter()
            cur = probe.current
            if cur is not None and cur.result_end and not cur.screen:
                cur.screen, cur.frame_ms, cur.frame_bytes = now, (now - t0) * 1000, size
                probe.polls.append(cur)
                probe.current = None
            key = probe.pending_key
            if key is not None and key.acted and not key.screen:
                key.screen = now
                probe.pending_key = None
        display(screen, renderable)

    app._display = on_display  # type: ignore[method-assign]

    stop = threading.Event()

    def presser() -> None:
        rng = random.Random(n)
        while not stop.wait(rng.uniform(0.03, 0.12)):
            if probe.pending_key is not None or not app.overview.is_mounted:
                continue
            table = app.overview.table
            name = "down" if table.cursor_row == 0 else "up"
            key = Key(pressed=time.perf_counter())
            probe.pending_key = key
            probe.keys.append(key)
            app.post_message(events.Key(name, None))

    try:
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.overview.table
            for action in ("action_cursor_down", "action_cursor_up"):
                original = getattr(table, action)

                def acted(original: Callable[[], None] = original) -> None:
                    key = probe.pending_key
                    if key is not None and not key.acted:
                        key.acted = time.perf_counter()
                    original()

                setattr(table, action, acted)
            ticking = asyncio.create_task(ticker())
            deadline = time.monotonic() + 120 + n / 100
            while len(probe.polls) < warmup and time.monotonic() < deadline:
                await pilot.pause(0.05)
            probe.polls.clear()
            probe.keys.clear()
            keys = threading.Thread(target=presser, daemon=True)
            keys.start()
            while len(probe.polls) < polls and time.monotonic() < deadline:
                await pilot.pause(0.05)
            stop.set()
            keys.join()
            ticking.cancel()
            await pilot.pause(0.3)
            shown = len(table.order)
            refreshes = table.line_refreshes
            await app.action_quit()
    finally:
        History.record, StoreWriter.submit = record, submit  # type: ignore[method-assign]
        OverviewScreen.render_rows = render_rows  # type: ignore[method-assign]
        server.stop()

    done = [p for p in probe.polls if p.screen]
    total = [(p.screen - p.arrive) * 1000 for p in done]
    parse = [(p.parsed - p.arrive) * 1000 for p in done]
    draw = [(p.screen - p.result_end) * 1000 for p in done]
    other = [
        (p.result_end - p.parsed) * 1000 - p.record_ms - p.submit_ms - p.table_ms for p in done
    ]
    chunk = [p.result_ms for p in done]
    block = [p.block_ms for p in done]
    answered = [k for k in probe.keys if k.screen]
    windows = [(p.arrive, p.screen) for p in done]
    during = [k for k in answered if any(a <= k.pressed <= b for a, b in windows)]
    lat = [(k.screen - k.pressed) * 1000 for k in answered]
    lat_during = [(k.screen - k.pressed) * 1000 for k in during]
    return {
        "n": n,
        "rows": shown,
        "polls": len(done),
        "p50": pct(total, 0.5),
        "p95": pct(total, 0.95),
        "max": max(total, default=float("nan")),
        "parse": pct(parse, 0.5),
        "record": pct([p.record_ms for p in done], 0.5),
        "submit": pct([p.submit_ms for p in done], 0.5),
        "table": pct([p.table_ms for p in done], 0.5),
        "other": pct(other, 0.5),
        "chunk": pct(chunk, 0.5),
        "chunk_max": max(chunk, default=float("nan")),
        "block": pct(block, 0.5),
        "block_max": max(block, default=float("nan")),
        "draw": pct(draw, 0.5),
        "frame_ms": pct([p.frame_ms for p in done], 0.5),
        "frame_bytes": pct([float(p.frame_bytes) for p in done], 0.5),
        "keys": len(answered),
        "key_p50": pct(lat, 0.5),
        "key_p95": pct(lat, 0.95),
        "keys_during": len(during),
        "key_during_p50": pct(lat_during, 0.5),
        "key_during_p95": pct(lat_during, 0.95),
        "key_during_max": max(lat_during, default=float("nan")),
        "line_refreshes": refreshes,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--polls", type=int, default=25, help="measured polls per size")
    ap.add_argument("--warmup", type=int, default=3, help="polls before measuring")
    ap.add_argument("--interval", type=float, default=2.0, help="poll interval, seconds")
    ap.add_argument("--proto", default="", help="variants (see proto_patches.py)")
    ap.add_argument(
        "--rotate",
        type=float,
        default=None,
        metavar="SECONDS",
        help="churn: the demo moves its busy configurations every SECONDS (issue 13)",
    )
    ap.add_argument(
        "--priced",
        action="store_true",
        help="price every configuration and evaluate three budgets (issue 14)",
    )
    ap.add_argument(
        "--design",
        choices=("both", "today", "compact"),
        default="compact",
        help="today: history and history file as before issue 18 (proto 'legacy'); "
        "both: each in its own process, side by side",
    )
    args = ap.parse_args(argv)
    if args.design == "both":
        return side_by_side(list(argv if argv is not None else sys.argv[1:]))
    proto = args.proto
    if args.design == "today":
        proto = ",".join(p for p in ("legacy", proto) if p)
    applied = proto_patches.apply(proto)
    tmp = tempfile.TemporaryDirectory(prefix="flashtop-scale-")
    os.environ["XDG_DATA_HOME"] = tmp.name  # the history file of each run goes here
    os.environ["XDG_CONFIG_HOME"] = tmp.name
    print(f"machine: {machine()}")
    print(
        f"poll to screen, headless 120x40, 10% changing per poll, interval {args.interval:g} s, "
        f"{args.polls} polls after {args.warmup} warm-up, history file on"
        + (f"; VARIANT: {', '.join(applied)}" if applied else "")
    )
    results = [
        asyncio.run(
            run_size(int(s), args.polls, args.warmup, args.interval, args.rotate, args.priced)
        )
        for s in args.sizes.split(",")
    ]
    print(
        f"{'configs':>8} {'p50':>7} {'p95':>7} {'max':>7} | {'parse':>6} {'hist':>6} "
        f"{'store':>6} {'table':>6} {'other':>6} {'frame':>6} {'step':>6} {'block':>6} | "
        f"{'KB/frame':>8} "
        f"| {'keys':>4} {'key p50':>7} {'key p95':>7} | {'in poll':>7} {'p50':>6} {'p95':>6} "
        f"{'max':>6}"
    )
    for r in results:
        print(
            f"{r['n']:>8} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['max']:>7.1f} | "
            f"{r['parse']:>6.1f} {r['record']:>6.1f} {r['submit']:>6.1f} {r['table']:>6.1f} "
            f"{r['other']:>6.1f} {r['draw']:>6.1f} {r['chunk']:>6.1f} {r['block']:>6.1f} | "
            f"{r['frame_bytes'] / 1000:>8.1f} | "
            f"{r['keys']:>4} {r['key_p50']:>7.1f} {r['key_p95']:>7.1f} | "
            f"{r['keys_during']:>7} {r['key_during_p50']:>6.1f} {r['key_during_p95']:>6.1f} "
            f"{r['key_during_max']:>6.1f}"
        )
    print(
        "(ms, medians except p95/max. p50/p95/max: response body read -> frame with the new "
        "table, encoded for the terminal. parse = JSON decode + parse_stats_response; hist = "
        "History.record; store = StoreWriter.submit; table = OverviewScreen.render_rows "
        "(filter, sort, visible rows, totals); other = the rest up to the table's update; "
        "frame = from there to the frame; step = the poller's on_result call (records and "
        "shows the poll, in parts with pauses between at this size); block = the longest "
        "stretch the event loop ran without a break during the poll (a 1 ms ticker; a key "
        "pressed then waits at most that long to be looked at); KB/frame = that frame as "
        "written to a terminal. "
        "keys: up/down pressed at random moments, latency from the press to the frame that "
        "shows the cursor moved; 'in poll': those pressed between body read and frame)"
    )
    big = results[-1]
    ok = (
        big["p50"] <= P50_MS
        and big["p95"] <= P95_MS
        and (big["key_during_max"] <= KEY_MS or big["key_during_p95"] <= KEY_MS)
    )
    print(
        f"targets at {big['n']}: p50 <= {P50_MS:.0f} ms ({big['p50']:.0f}), p95 <= {P95_MS:.0f} "
        f"ms ({big['p95']:.0f}), key during a poll <= {KEY_MS:.0f} ms (p95 "
        f"{big['key_during_p95']:.0f}, max {big['key_during_max']:.0f}): "
        + ("met" if ok else "MISSED")
    )
    print("RESULT " + json.dumps(big), flush=True)
    tmp.cleanup()
    return 0


def side_by_side(argv: list[str]) -> int:
    """Run the benchmark for each design in its own process; print both, then the
    largest size's figures side by side."""
    got = run_designs(__file__, argv)
    if isinstance(got, int):
        return got
    results = got
    n = results["compact"]["n"]
    rows = [
        (label, lambda r, key=key: f"{r[key]:.1f}")
        for key, label in (
            ("p50", "poll to screen p50"),
            ("p95", "poll to screen p95"),
            ("record", "History.record (median)"),
            ("submit", "StoreWriter.submit (median)"),
            ("key_during_p95", "key during a poll p95"),
        )
    ]
    print_designs(f"at {n:,} configurations (ms)", rows, results, label=34, column=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
