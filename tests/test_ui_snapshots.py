"""SVG snapshots of the overview, help and detail screens (pytest-textual-snapshot).

Deterministic by construction: the app and the demo server share a fake clock that
moves only in fixed steps (and stops before the first simulated policy violation, so
no toast appears), cells are never marked (mark_changes=False), the overview polls every
5 s (the steps below; a poll of its own in real time would find the clock unmoved and
change nothing), the drill-down every minute, and the random port in the status bar is
replaced by a fixed URL. Update with ``pytest tests/test_ui_snapshots.py
--snapshot-update`` and look at the SVGs under tests/__snapshots__/ before committing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static
from ui_helpers import (
    FIXED_URL,
    Harness,
    advance,
    detail_screen,
    has_data,
    make_harness,
    static_text,
    stats_object,
    wait_for,
)

from tui.screens.detail import DetailScreen
from tui.screens.help import HelpScreen

SIZES = [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")]
#: Polls at +5, +10 and +15 simulated seconds: rates and sparklines have data, and the
#: first violation of "prompt-playground" (at 30 s or later) has not happened yet.
STEPS = 3
STEP_SECONDS = 5.0
#: A counter no 64-bit integer holds: the drill-down must show it whole.
FORTY_DIGITS = "1234567890123456789012345678901234567890"

SnapCompare = Callable[..., bool]
RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    # The chart marker depends on $TERM unless set explicitly.
    monkeypatch.setenv("FLASHTOP_CHART_MARKER", "braille")
    h = make_harness(
        interval=STEP_SECONDS,
        detail_interval=60.0,
        history=0,  # the demo's pre-start traffic would move every figure and toast
        extra_stats=[stats_object("huge-1", FORTY_DIGITS)],
        extra_llms=[{"id": "huge-1", "name": "forty-digit-counters", "aiType": "OTHER"}],
    )
    try:
        yield h
    finally:
        h.server.stop()


async def _overview_ready(h: Harness, pilot: Pilot[Any]) -> None:
    h.pilot = pilot
    await wait_for(pilot, lambda: has_data(h), message="first poll with names")
    for _ in range(STEPS):
        await advance(h, STEP_SECONDS)
    assert all(r.rate is not None for r in h.app.overview.rows)
    bar = h.app.overview.status_bar
    bar.base_url = FIXED_URL
    bar.refresh_text()


async def _no_toasts(h: Harness, pilot: Pilot[Any]) -> None:
    h.app.clear_notifications()
    await pilot.pause()


def overview_steps(h: Harness) -> RunBefore:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _overview_ready(h, pilot)
        await _no_toasts(h, pilot)

    return run_before


def help_steps(h: Harness) -> RunBefore:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _overview_ready(h, pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(h.app.screen, HelpScreen), message="help")
        await _no_toasts(h, pilot)

    return run_before


async def _open_detail(h: Harness, pilot: Pilot[Any], ident: str) -> DetailScreen:
    """The overview ready, ``ident`` opened, its first drill-down poll shown."""
    await _overview_ready(h, pilot)
    app = h.app
    app.overview.table.select_id(ident)
    await pilot.pause()
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), message="detail")
    screen = detail_screen(h)
    assert screen.poller is not None
    poller = screen.poller
    await wait_for(pilot, lambda: poller.status.polls >= 1, message="first detail poll")
    return screen


def huge_detail_steps(h: Harness) -> RunBefore:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_detail(h, pilot, "huge-1")
        await _no_toasts(h, pilot)

    return run_before


def detail_steps(h: Harness) -> RunBefore:
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await _open_detail(h, pilot, h.id_of("support-bot"))
        poller = screen.poller
        assert poller is not None
        # One more detail poll, 5 s later: "since open" and "last poll" have figures.
        h.clock.now += STEP_SECONDS
        await pilot.press("r")
        await wait_for(
            pilot,
            lambda: poller.status.polls >= 2 and poller.status.last_ok == h.clock.now,
            message="second detail poll",
        )
        figures = screen.query_one("#detail-figures", Static)
        await wait_for(pilot, lambda: "+" in static_text(figures), message="deltas shown")
        await _no_toasts(h, pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_overview_snapshot(
    snap_compare: SnapCompare, harness: Harness, size: tuple[int, int]
) -> None:
    assert snap_compare(harness.app, terminal_size=size, run_before=overview_steps(harness))


@pytest.mark.parametrize("size", SIZES)
def test_help_snapshot(snap_compare: SnapCompare, harness: Harness, size: tuple[int, int]) -> None:
    assert snap_compare(harness.app, terminal_size=size, run_before=help_steps(harness))


@pytest.mark.parametrize("size", SIZES)
def test_detail_snapshot(
    snap_compare: SnapCompare, harness: Harness, size: tuple[int, int]
) -> None:
    assert snap_compare(harness.app, terminal_size=size, run_before=detail_steps(harness))


@pytest.mark.parametrize("size", SIZES)
def test_detail_of_forty_digit_counters_snapshot(
    snap_compare: SnapCompare, harness: Harness, size: tuple[int, int]
) -> None:
    assert snap_compare(harness.app, terminal_size=size, run_before=huge_detail_steps(harness))


# ------------------------------------------------------------------ cost (issue 14)


@pytest.fixture
def priced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The demo's models, prices and budgets (what `flashtop --demo` shows)."""
    from tui.demo import DEMO_BUDGETS, DEMO_MODELS, DEMO_PRICES

    monkeypatch.setenv("FLASHTOP_CHART_MARKER", "braille")
    h = make_harness(
        interval=STEP_SECONDS,
        detail_interval=60.0,
        history=0,  # the demo's pre-start traffic would move every figure and toast
        settings_changes={
            "models": {**DEMO_MODELS, "*-triage": "gpt-4o-mini"},
            "prices": DEMO_PRICES,
            "budgets": DEMO_BUDGETS,
        },
    )
    try:
        yield h
    finally:
        h.server.stop()


def keys_steps(h: Harness, *keys: str) -> RunBefore:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _overview_ready(h, pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        await _no_toasts(h, pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_priced_overview_snapshot(
    snap_compare: SnapCompare, priced: Harness, size: tuple[int, int]
) -> None:
    assert snap_compare(priced.app, terminal_size=size, run_before=keys_steps(priced))


def test_grouped_by_provider_snapshot(snap_compare: SnapCompare, priced: Harness) -> None:
    assert snap_compare(priced.app, terminal_size=(120, 40), run_before=keys_steps(priced, "g"))


def test_budgets_snapshot(snap_compare: SnapCompare, priced: Harness) -> None:
    assert snap_compare(priced.app, terminal_size=(120, 40), run_before=keys_steps(priced, "b"))


@pytest.mark.parametrize("size", SIZES)
def test_priced_detail_snapshot(
    snap_compare: SnapCompare, priced: Harness, size: tuple[int, int]
) -> None:
    assert snap_compare(priced.app, terminal_size=size, run_before=detail_steps(priced))
