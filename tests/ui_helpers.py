"""Shared helpers for the Pilot and snapshot tests of the TUI.

Every UI test runs the real :class:`~tui.app.FlashtopApp` against a real
:class:`~tui.demo_server.DemoServer` on loopback. Both share one :class:`FakeClock`,
so the simulated traffic and the app's sample times only move when a test says so.
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Static

from tui.app import FlashtopApp
from tui.demo_server import COUNTERS, DemoServer
from tui.screens.detail import DetailScreen
from tui.settings import Settings
from tui.tokens import AuthSession, TokenSet
from tui.view import RowView

START = 1_800_000_000.0
STATS = "/ai/llm/stats"
#: What the status bar shows instead of the demo server's random port.
FIXED_URL = "http://127.0.0.1:8787"


class FakeClock:
    """A wall clock the test moves by hand (``clock.now += 5``)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    """One app, its demo server and their shared fake clock."""

    app: FlashtopApp
    server: DemoServer
    clock: FakeClock
    pilot: Pilot[Any] | None = field(default=None)

    # -------------------------------------------------------------- lookups

    def id_of(self, name: str) -> str:
        """The aiLlmId of the curated configuration called ``name``."""
        for llm in self.server.llms:
            if llm["name"] == name:
                return str(llm["id"])
        raise KeyError(name)

    def row(self, ai_llm_id: str) -> RowView:
        for r in self.app.overview.rows:
            if r.id == ai_llm_id:
                return r
        raise KeyError(ai_llm_id)

    def stats_requests(self, **query: str) -> int:
        return self.server.request_count(STATS, **query)

    def status_text(self) -> str:
        return str(self.app.overview.status_bar.content)


def make_harness(
    *,
    interval: float = 60.0,
    detail_interval: float = 60.0,
    refresh_token: bool = True,
    extra_stats: list[object] | None = None,
    extra_llms: list[object] | None = None,
    mark_changes: bool = False,
    keymap: dict[str, str] | None = None,
    min_gap: float = 0.0,
    settings_changes: dict[str, Any] | None = None,
    keep_history: bool = False,
    history: float | None = None,
    server_past: bool = False,
) -> Harness:
    """Start a demo server on a fake clock and build (not run) an app against it.

    The default intervals are long so that polls happen only when a test asks for
    one (``advance``/``poll``), which keeps the data and the timing deterministic.
    ``history``: the demo's seconds of traffic before it starts (None: its default).
    """
    clock = FakeClock()
    options: dict[str, Any] = {} if history is None else {"history": history}
    server = DemoServer(
        clock=clock, extra_stats=extra_stats, extra_llms=extra_llms, **options
    ).start()
    access, refresh = server.issue_tokens()
    session = AuthSession(
        TokenSet(access, refresh if refresh_token else None, obtained_at=clock.now),
        source="test",
        clock=clock,
    )
    settings = Settings(
        profile="test",
        base_url=server.base_url,
        interval=interval,
        detail_interval=detail_interval,
        keymap=keymap or {},
    )
    if settings_changes:
        settings = replace(settings, **settings_changes)
    app = FlashtopApp(
        settings,
        session,
        clock=clock,
        mark_changes=mark_changes,
        keep_history=keep_history,
        server_past=server_past,
    )
    # Tests poll on demand, many times a second: the 1 s floor between polls (which
    # keeps a held-down `r` from flooding the server) is tested on its own.
    app.monitor.poller.min_gap = min_gap
    return Harness(app=app, server=server, clock=clock)


@asynccontextmanager
async def running(
    size: tuple[int, int] = (120, 40), *, first_poll: bool = True, **kwargs: Any
) -> AsyncIterator[Harness]:
    """Run the app under Pilot; with ``first_poll``, return once rows and names are in."""
    h = make_harness(**kwargs)
    try:
        async with h.app.run_test(size=size) as pilot:
            h.pilot = pilot
            if first_poll:
                await wait_for(pilot, lambda: has_data(h), message="first poll with names")
            yield h
    finally:
        h.server.stop()


def has_data(h: Harness, count: int = 12) -> bool:
    """Rows for ``count`` configurations are on screen, with their names."""
    app = h.app
    return (
        app.monitor.poller.status.polls >= 1
        and len(app.overview.table.order) >= count
        and bool(app.monitor.names)
        and all(r.name != r.id for r in app.overview.rows if r.id in app.monitor.names)
    )


async def wait_for(
    pilot: Pilot[Any],
    predicate: Callable[[], object],
    timeout: float = 5.0,
    message: str = "condition",
) -> None:
    """Let the app run until ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        await pilot.pause(0.05)


async def settle(pilot: Pilot[Any], seconds: float) -> None:
    """Let the app run for ``seconds`` of real time (only to prove that nothing happens)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await pilot.pause(0.05)


async def poll(h: Harness) -> None:
    """Force one overview poll at the current fake time and wait until it is shown."""
    assert h.pilot is not None
    app = h.app
    await wait_for(h.pilot, lambda: not app.monitor.poller.status.in_flight, message="idle poller")
    before = app.monitor.poller.status.polls
    app.monitor.poll_now()
    await wait_for(
        h.pilot,
        lambda: (
            app.monitor.poller.status.polls > before
            and app.monitor.poller.status.last_ok == h.clock.now
        ),
        message="a forced poll",
    )


async def advance(h: Harness, seconds: float) -> None:
    """Move the fake clock on by ``seconds`` and poll once at the new time."""
    h.clock.now += seconds
    await poll(h)


def render_plain(renderable: object, width: int = 300) -> str:
    """Plain text of a Rich renderable (e.g. a Static's table), wide enough not to wrap."""
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    return out.getvalue()


def static_text(widget: Static, width: int = 300) -> str:
    return render_plain(widget.content, width)


def detail_screen(h: Harness) -> DetailScreen:
    screen = h.app.screen
    assert isinstance(screen, DetailScreen), f"expected the detail screen, got {screen!r}"
    return screen


def stats_object(ai_llm_id: str, value: str = "1", **overrides: str) -> dict[str, str]:
    """A /ai/llm/stats object with every counter set to ``value`` unless overridden."""
    obj = {"aiLlmId": ai_llm_id}
    obj.update(dict.fromkeys(COUNTERS, value))
    obj.update(overrides)
    return obj
