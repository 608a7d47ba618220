"""The TUI driven through Textual's Pilot against a real demo server on loopback.

Each test is named for one behaviour a user relies on. The server and the app share
a fake clock: data only moves when a test advances it, so nothing depends on timing
except the few tests that prove that *nothing* happens for a while.
"""

from __future__ import annotations

import gc
import itertools
import math
import re
from typing import Any

import pytest
from rich.table import Table
from textual.binding import Binding
from textual.command import CommandPalette
from textual.widgets import Input, Static
from ui_helpers import (
    Harness,
    advance,
    detail_screen,
    poll,
    render_plain,
    running,
    settle,
    static_text,
    stats_object,
    wait_for,
)

from tui.app import GC_YOUNG_THRESHOLD, FlashtopApp
from tui.counters import IDX
from tui.demo_server import CURATED, RESET_AT
from tui.monitor import INTERVAL_STEPS
from tui.poller import MAX_INTERVAL, MIN_INTERVAL, ConnState
from tui.screens.detail import DetailScreen
from tui.screens.help import HelpScreen
from tui.screens.keys import key_label
from tui.screens.overview import OverviewScreen
from tui.widgets.stats_table import StatsTable

CURATED_NAMES = sorted(c[0] for c in CURATED)
HOSTILE_NAME = "[bold]x[/oops] \x1b]52;c;aGk=\x07 \x1b[31mred [@click=app.quit]q[/]"
HUGE = "1234567890123456789012345678901234567890"
HUGE_SHOWN = "1,234,567,890,123,456,789,012,345,678,901,234,567,890"


def shown_names(h: Harness) -> list[str]:
    return [r.name for r in h.app.overview.rows]


async def open_detail_for(h: Harness, ai_llm_id: str) -> DetailScreen:
    """Select ``ai_llm_id`` in the table and press enter."""
    assert h.pilot is not None
    h.app.overview.table.select_id(ai_llm_id)
    await h.pilot.pause()
    assert h.app.overview.table.current_id() == ai_llm_id
    await h.pilot.press("enter")
    await wait_for(h.pilot, lambda: isinstance(h.app.screen, DetailScreen), message="detail")
    return detail_screen(h)


# ---------------------------------------------------------------------------- overview


async def test_rows_appear_for_every_configuration_with_names() -> None:
    async with running() as h:
        table = h.app.overview.table
        assert sorted(table.order) == sorted(llm["id"] for llm in h.server.llms)
        assert sorted(shown_names(h)) == CURATED_NAMES
        assert table.row_count == 12
        assert h.app.monitor.poller.status.state is ConnState.LIVE
        assert "12 configs" in h.status_text()
        # The provider column comes from /ai/llm as well.
        assert h.row(h.id_of("code-review")).provider == "ANTHROPIC"


async def test_young_collections_are_rarer_while_the_app_runs_and_restored_after() -> None:
    before = gc.get_threshold()
    async with running() as h:
        await wait_for(h.pilot, lambda: h.app._gc_frozen, message="the first poll shown")
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before


async def test_sort_keys_reorder_rows_and_cursor_follows_the_configuration() -> None:
    async with running() as h:
        pilot, ov = h.pilot, h.app.overview
        assert pilot is not None
        for _ in range(3):
            await advance(h, 5)
        # Default: fastest first.
        assert ov.sort_key == "rate" and ov.sort_desc
        rates = [r.rate for r in ov.rows]
        known = [r for r in rates if r is not None]
        assert known == sorted(known, reverse=True) and len(known) == 12

        # The cursor followed its configuration when the rates re-sorted the table;
        # move it somewhere in the middle.
        start = ov.table.cursor_row
        await pilot.press("down", "down", "down")
        chosen = ov.table.current_id()
        assert chosen is not None and chosen == ov.table.order[start + 3]

        # A new poll (new rates, perhaps a new order) keeps the cursor on it.
        await advance(h, 5)
        assert ov.table.current_id() == chosen

        await pilot.press("s")
        assert ov.sort_key == "name" and not ov.sort_desc
        assert shown_names(h) == CURATED_NAMES
        assert ov.table.order == [r.id for r in ov.rows]
        assert ov.table.current_id() == chosen
        assert "sort name ↑" in h.status_text()

        await pilot.press("S")
        assert ov.sort_desc
        assert shown_names(h) == CURATED_NAMES[::-1]
        assert ov.table.current_id() == chosen

        await pilot.press("s")
        assert ov.sort_key == "provider"
        providers = [r.provider.casefold() for r in ov.rows]
        assert providers == sorted(providers)
        assert ov.table.current_id() == chosen

        await advance(h, 5)
        assert ov.table.current_id() == chosen


async def test_filter_by_name_provider_and_id_and_escape_clears_it() -> None:
    async with running() as h:
        pilot, ov = h.pilot, h.app.overview
        assert pilot is not None
        box = ov.query_one("#filter", Input)

        await pilot.press("slash")
        assert box.display and box.has_focus
        await pilot.press(*"rerank")
        assert shown_names(h) == ["search-rerank"]
        assert ov.table.row_count == 1
        assert "filter “rerank”" in h.status_text()

        await pilot.press("escape")
        assert ov.filter_text == "" and not box.display
        assert ov.table.has_focus
        assert sorted(shown_names(h)) == CURATED_NAMES

        await pilot.press("slash", *"anthropic")
        assert sorted(shown_names(h)) == ["code-review", "doc-summarizer", "sql-assistant"]
        await pilot.press("escape")
        assert len(ov.rows) == 12

        target = h.id_of("translation")
        await pilot.press("slash", *target[:8])
        assert [r.id for r in ov.rows] == [target]
        # enter keeps the filter and hands the keys back to the table.
        await pilot.press("enter")
        assert ov.table.has_focus and [r.id for r in ov.rows] == [target]
        await pilot.press("escape")
        assert sorted(shown_names(h)) == CURATED_NAMES
        assert ov.table.row_count == 12


async def test_pause_stops_requests_and_p_resumes() -> None:
    async with running(interval=1.0) as h:
        pilot, status = h.pilot, h.app.monitor.poller
        assert pilot is not None
        await pilot.press("p")
        await wait_for(
            pilot,
            lambda: status.status.state is ConnState.PAUSED and not status.status.in_flight,
            message="paused",
        )
        assert "paused" in h.status_text()
        before = h.stats_requests()
        await settle(pilot, 1.5)
        assert h.stats_requests() == before

        await pilot.press("p")
        await wait_for(pilot, lambda: h.stats_requests() > before, message="a request")
        await wait_for(pilot, lambda: status.status.state is ConnState.LIVE, message="live")


async def test_r_polls_at_once_even_with_a_long_interval() -> None:
    async with running(interval=60.0) as h:
        pilot = h.pilot
        assert pilot is not None
        await wait_for(pilot, lambda: not h.app.monitor.poller.status.in_flight)
        before = h.stats_requests()
        await pilot.press("r")
        await wait_for(pilot, lambda: h.stats_requests() == before + 1, timeout=2.0)
        await settle(pilot, 0.3)
        assert h.stats_requests() == before + 1


async def test_plus_and_minus_step_the_interval_within_bounds() -> None:
    async with running(interval=1.0) as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        await pilot.press("plus")  # faster than the fastest: stays at 1 s
        assert app.monitor.poller.interval == MIN_INTERVAL == 1.0
        seen = [app.monitor.poller.interval]
        for _ in range(len(INTERVAL_STEPS)):
            await pilot.press("minus")
            seen.append(app.monitor.poller.interval)
        assert seen[1:-1] == [float(s) for s in INTERVAL_STEPS[1:]]
        assert seen[-1] == MAX_INTERVAL == 3600.0
        assert app.overview.status_bar.interval == 3600.0
        assert "every 3600 s" in h.status_text()

        await pilot.press("plus")
        assert app.monitor.poller.interval == 1800.0
        for _ in range(len(INTERVAL_STEPS) + 1):
            await pilot.press("plus")
            assert MIN_INTERVAL <= app.monitor.poller.interval <= MAX_INTERVAL
        assert app.monitor.poller.interval == 1.0


async def test_server_error_keeps_rows_and_recovers_after_r() -> None:
    async with running(interval=1.0) as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        ids = sorted(app.overview.table.order)
        values = {r.id: r.values for r in app.overview.rows}

        h.server.set_fault("server_error")
        await pilot.press("r")
        await wait_for(
            pilot, lambda: app.monitor.poller.status.state is ConnState.RETRYING, message="retrying"
        )
        assert "retrying" in h.status_text()
        assert app.overview.status_bar.has_class("-stale")
        # The last good values stay on screen.
        assert sorted(app.overview.table.order) == ids
        assert {r.id: r.values for r in app.overview.rows} == values

        h.server.set_fault(None)
        await pilot.press("r")
        await wait_for(
            pilot, lambda: app.monitor.poller.status.state is ConnState.LIVE, message="live"
        )
        assert "retrying" not in h.status_text()
        assert sorted(app.overview.table.order) == ids


async def test_expired_token_without_refresh_token_means_login_needed_and_no_retry_loop() -> None:
    async with running(interval=1.0, refresh_token=False) as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        h.server.set_fault("expired")
        await wait_for(
            pilot,
            lambda: app.monitor.poller.status.state is ConnState.LOGIN_NEEDED,
            message="login needed",
        )
        await wait_for(pilot, lambda: "login needed: press l" in h.status_text())
        before = h.stats_requests()
        await settle(pilot, 1.5)
        assert h.stats_requests() == before
        assert len(app.overview.rows) == 12  # the last values stay


def marked_cells(h: Harness, ai_llm_id: str) -> set[str]:
    """The texts drawn bold and underlined (marked as changed) on the row's screen line."""
    table = h.app.overview.table
    y = table.order.index(ai_llm_id) - round(table.scroll_y) + 1  # below the header
    assert 1 <= y < table.size.height, "the row is on screen"
    strip = table.render_line(y)
    return {
        seg.text.strip()
        for seg in strip
        if seg.style is not None and seg.style.bold and seg.style.underline and seg.text.strip()
    }


async def test_cells_that_changed_stay_marked_until_the_next_poll() -> None:
    async with running(mark_changes=True) as h:
        await advance(h, 5)
        marks = h.app.overview.marks
        assert marks, "traffic in 5 s changed some counters"
        ident = next(iter(marks))
        row = h.row(ident)
        # Exactly the changed counters are marked, each shown bold and underlined.
        changed = h.app.overview.marks[ident]
        assert marked_cells(h, ident) == {
            h.app.overview.table.render_cell(row, col, False).plain.strip()
            for col in h.app.overview.table.columns_shown
            if col.key in changed
        }
        idle = next(i for i in h.app.overview.table.order if i not in marks)
        assert marked_cells(h, idle) == set()
        await settle(h.pilot, 1.2)  # time alone does not unmark (like watch -d)
        assert h.app.overview.marks == marks and marked_cells(h, ident)
        await poll(h)  # a poll at the same moment: nothing changed, nothing marked
        assert h.app.overview.marks == {}
        assert marked_cells(h, ident) == set()


async def test_counter_reset_never_gives_negative_rates_or_trends() -> None:
    async with running() as h:
        ident = h.id_of("analytics-agent")
        tokens_in: list[int] = []
        for _ in range((RESET_AT + 25) // 5):
            await advance(h, 5)
            row = h.row(ident)
            value = row.values[IDX["totalTokensIn"]]
            assert value is not None
            tokens_in.append(value)
            assert row.rate is None or row.rate >= 0, row.rate
            assert all(v is None or v >= 0 for v in row.trend), row.trend
        # The reset really happened in the data the app saw.
        assert any(b < a for a, b in itertools.pairwise(tokens_in))
        assert h.row(ident).rate is not None


async def test_new_violation_raises_a_toast_naming_the_configuration() -> None:
    async with running() as h:
        ident = h.id_of("prompt-playground")
        first = h.row(ident).values[IDX["totalPolicyViolations"]]
        assert first is not None

        def mentioned() -> bool:
            return any(
                "prompt-playground" in f"{n.title} {n.message}" for n in h.app._notifications
            )

        for _ in range(14):
            await advance(h, 5)
            if mentioned():
                break
        assert mentioned()
        now_viol = h.row(ident).values[IDX["totalPolicyViolations"]]
        assert now_viol is not None and now_viol > first
        assert any("violation" in n.message for n in h.app._notifications)


HOSTILE_SERVER: dict[str, Any] = {
    "extra_stats": [stats_object("hostile-1")],
    "extra_llms": [{"id": "hostile-1", "name": HOSTILE_NAME, "aiType": "OTHER"}],
}


async def test_hostile_names_are_shown_as_plain_text_in_the_table() -> None:
    async with running(**HOSTILE_SERVER) as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        await wait_for(pilot, lambda: "hostile-1" in app.overview.table.order)
        cell = app.overview.table.get_cell("hostile-1", "name")
        plain = cell.plain
        assert "[bold]x[/oops]" in plain
        assert "\x1b" not in plain and "\x07" not in plain
        assert not cell.spans  # no markup was interpreted
        await advance(h, 5)  # a second poll re-renders the row
        await pilot.press("slash", *"hostile", "enter")
        assert [r.id for r in app.overview.rows] == ["hostile-1"]
        assert app.is_running and app.screen is app.overview


async def test_hostile_names_open_in_the_detail_without_crashing() -> None:
    async with running(**HOSTILE_SERVER) as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        await wait_for(pilot, lambda: "hostile-1" in app.overview.table.order)
        await pilot.press("slash", *"hostile", "enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), message="detail")
        screen = detail_screen(h)
        assert screen.ai_llm_id == "hostile-1"
        await wait_for(pilot, lambda: screen.requests >= 1)
        await pilot.pause(0.2)
        identity = static_text(screen.query_one("#detail-identity", Static))
        assert "[bold]x[/oops]" in identity
        assert "\x1b" not in identity and "\x07" not in identity
        assert app.is_running


async def test_question_mark_lists_every_key_and_escape_closes_it() -> None:
    async with running() as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), message="help")
        table = app.screen.query_one("#help-keys", Static).content
        assert isinstance(table, Table)
        shown = list(zip(table.columns[1].cells, table.columns[2].cells, strict=True))
        # Every described binding of the app, the overview, the table and the
        # drill-down (their real BINDINGS, not a list kept beside them) is on screen,
        # with each of its keys.
        listed = 0
        screens = (FlashtopApp, OverviewScreen, StatsTable, DetailScreen)
        for bindings in (cls.BINDINGS for cls in screens):
            for b in bindings:
                if not isinstance(b, Binding) or not b.description:
                    continue
                listed += 1
                text = b.tooltip or b.description
                keys = [str(k) for k, t in shown if str(t) == text]
                assert keys, f"help does not list {b.id or b.action!r} ({text!r})"
                parts = {p for k in keys for p in re.split(r" / |, ", k)}
                assert {key_label(k) for k in b.key.split(",")} <= parts, (b.key, keys)
        assert listed >= 20
        assert "command palette" in render_plain(table)

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen), message="overview")


async def test_a_keymap_from_the_config_moves_a_binding_and_help_follows() -> None:
    async with running(keymap={"refresh": "f5", "detail-window": "W"}) as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        before = app.monitor.poller.status.polls
        await pilot.press("r")  # no longer bound
        await settle(pilot, 0.3)
        assert app.monitor.poller.status.polls == before
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.monitor.poller.status.polls > before, message="f5")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), message="help")
        text = render_plain(app.screen.query_one("#help-keys", Static).content)
        assert re.search(r"f5\s+poll now", text) and not re.search(r"\br\s+poll now", text)
        assert re.search(r"W\s+chart window", text)


async def test_ctrl_p_opens_the_command_palette_and_escape_closes_it() -> None:
    async with running() as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), message="palette")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen), message="overview")


async def test_q_quits() -> None:
    async with running() as h:
        assert h.pilot is not None
        assert h.app.return_code is None  # set only by App.exit
        await h.pilot.press("q")
        # q took the exit path (the test harness's own shutdown leaves it None).
        assert h.app.return_code == 0


# ---------------------------------------------------------------------------- drill-down


async def test_enter_opens_the_detail_of_the_configuration_under_the_cursor() -> None:
    async with running(detail_interval=1.0) as h:
        pilot, ov = h.pilot, h.app.overview
        assert pilot is not None
        await pilot.press("down", "down")
        ident = ov.table.current_id()
        assert ident == ov.table.order[2]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(h.app.screen, DetailScreen), message="detail")
        screen = detail_screen(h)
        assert screen.ai_llm_id == ident
        await wait_for(
            pilot, lambda: h.stats_requests(aiLlmId=ident) > 0, message="a filtered request"
        )
        assert screen.requests > 0
        name = h.row(ident).name
        await wait_for(
            pilot, lambda: name in static_text(screen.query_one("#detail-identity", Static))
        )


async def test_detail_shows_exact_figures_for_a_40_digit_counter() -> None:
    async with running(
        extra_stats=[stats_object("huge-1", totalTokensIn=HUGE)],
        extra_llms=[{"id": "huge-1", "name": "huge-counter", "aiType": "OTHER"}],
    ) as h:
        pilot = h.pilot
        assert pilot is not None
        await wait_for(pilot, lambda: "huge-1" in h.app.overview.table.order)
        # The table shows it compactly (no crash, no overflow).
        assert len(h.app.overview.table.get_cell("huge-1", "tok_in").plain) <= 6
        screen = await open_detail_for(h, "huge-1")
        figures = screen.query_one("#detail-figures", Static)
        await wait_for(
            pilot, lambda: HUGE_SHOWN in static_text(figures), message="exact 40-digit figure"
        )
        assert h.stats_requests(aiLlmId="huge-1") > 0


async def test_j_and_k_step_through_configurations_and_escape_keeps_the_cursor() -> None:
    async with running() as h:
        pilot, ov = h.pilot, h.app.overview
        assert pilot is not None
        await pilot.press("s")  # by name: an order that does not move
        order = ov.table.order
        screen = await open_detail_for(h, order[0])

        await pilot.press("j")
        assert screen.ai_llm_id == order[1]
        await pilot.press("j")
        assert screen.ai_llm_id == order[2]
        await wait_for(pilot, lambda: h.stats_requests(aiLlmId=order[2]) > 0)
        await pilot.press("k")
        assert screen.ai_llm_id == order[1]
        await pilot.press("j")
        assert screen.ai_llm_id == order[2]

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(h.app.screen, OverviewScreen), message="back")
        assert ov.table.current_id() == order[2]


async def test_down_and_up_arrows_step_through_configurations() -> None:
    async with running() as h:
        pilot, ov = h.pilot, h.app.overview
        assert pilot is not None
        await pilot.press("s")
        order = ov.table.order
        screen = await open_detail_for(h, order[0])
        await pilot.press("down")
        assert screen.ai_llm_id == order[1]
        await pilot.press("down")
        assert screen.ai_llm_id == order[2]
        await pilot.press("up")
        assert screen.ai_llm_id == order[1]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(h.app.screen, OverviewScreen), message="back")
        assert ov.table.current_id() == order[1]


async def test_closing_the_detail_stops_its_poll_loop() -> None:
    async with running(detail_interval=1.0) as h:
        pilot = h.pilot
        assert pilot is not None
        ident = h.app.overview.table.order[0]
        await open_detail_for(h, ident)
        await wait_for(pilot, lambda: h.stats_requests(aiLlmId=ident) >= 2, message="2 polls")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(h.app.screen, OverviewScreen), message="back")
        await settle(pilot, 0.2)
        before = h.stats_requests(aiLlmId=ident)
        await settle(pilot, 2.5)
        assert h.stats_requests(aiLlmId=ident) == before


async def test_w_cycles_the_chart_window() -> None:
    async with running() as h:
        pilot = h.pilot
        assert pilot is not None
        await advance(h, 5)
        screen = await open_detail_for(h, h.app.overview.table.order[0])
        assert (screen.window_index, screen.window_seconds) == (0, 300.0)
        seen = []
        for _ in range(6):
            await pilot.press("w")
            seen.append((screen.window_index, screen.window_seconds))
        assert seen == [
            (1, 3600.0),
            (2, 86400.0),
            (3, 7 * 86400.0),
            (4, 30 * 86400.0),
            (5, math.inf),
            (0, 300.0),
        ]
        assert h.app.is_running


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_small_terminals_still_show_rows_and_open_details(size: tuple[int, int]) -> None:
    async with running(size=size) as h:
        pilot = h.pilot
        assert pilot is not None
        await poll(h)
        assert h.app.overview.table.row_count == 12
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(h.app.screen, DetailScreen), message="detail")


async def test_a_poll_that_fails_to_show_is_reported_and_polling_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running() as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        show = OverviewScreen.show_page
        calls = {"n": 0}

        def broken_once(self: OverviewScreen, *args: Any, **kwargs: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 1:
                raise KeyError("boom")
            show(self, *args, **kwargs)

        monkeypatch.setattr(OverviewScreen, "show_page", broken_once)
        await advance(h, 5)
        assert app.is_running
        status = app.monitor.poller.status
        assert status.last_error == "internal error showing data (KeyError)"
        await wait_for(pilot, lambda: "internal error showing data" in h.status_text())
        await advance(h, 5)  # the next poll shows, and the error is gone
        assert app.monitor.poller.status.last_error is None
        assert calls["n"] == 2


# ---------------------------------------------------------------------------- sparklines


async def test_sparkline_stays_on_the_true_rate_when_polls_come_at_uneven_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13: a poll 0.3 s after another (`r`) and a drill-down's 2 s poller record
    into the same series as the overview's 5 s polls; the sparkline must not dip to 0
    and spike. An outage draws as a gap: None points, neither 0 nor a spike."""
    from tui.counters import TOKENS_IN, TOKENS_OUT
    from tui.demo_server import _Sim

    # Without per-second noise a steady configuration grows by exactly `rate` tokens
    # in (and `rate * ratio` out) every simulated second: the true rate is known.
    monkeypatch.setattr(_Sim, "JITTER", 0.0)
    async with running(interval=5.0, detail_interval=2.0) as h:
        monitor = h.app.monitor
        ident = h.id_of("support-bot")
        sim = next(sim for llm_id, sim in h.server.sims if llm_id == ident)
        true_rate = 60.0 * sim.rate * (1.0 + sim.ratio)
        assert monitor.poller.interval == 5.0

        async def drill_down_poll(offset: float) -> None:
            h.clock.now = edge + offset
            await monitor.ingest(await monitor.fetch_one(ident), h.clock.now)

        def near(point: int | None) -> bool:
            return point is not None and abs(point - true_rate) <= 0.02 * true_rate

        edge = h.clock.now  # the first poll, at a multiple of 5 s
        assert edge % 5 == 0
        for _ in range(16):  # more than the 12 points of the window
            await drill_down_poll(2.0)
            await drill_down_poll(4.0)
            edge += 5.0
            h.clock.now = edge
            await poll(h)  # the overview's poll
            await advance(h, 0.3)  # `r` pressed just after it
            await drill_down_poll(1.3)
        series = monitor.history.get(ident)
        assert series is not None
        per_interval = series.interval_rates((TOKENS_IN, TOKENS_OUT), 12)
        assert 0 in per_interval  # per poll interval, the line would dip to 0 ...
        assert max(p or 0 for p in per_interval) > 1.3 * true_rate  # ... and spike
        trend = h.row(ident).trend
        assert len(trend) == 12 and all(near(p) for p in trend), (true_rate, trend)

        # Five minutes without a poll (a suspended laptop), then polls again.
        h.clock.now = edge + 300.0
        await poll(h)
        assert h.row(ident).trend == (None,) * 12
        for _ in range(3):
            await advance(h, 5.0)
        trend = h.row(ident).trend
        assert trend[:9] == (None,) * 9 and all(near(p) for p in trend[9:]), trend


# ---------------------------------------------------------------------------- figures that fit

FIGURE_SIZES = [(60, 20), (80, 24), (120, 40)]


def widget_lines(widget: Any) -> list[str]:
    """The lines of a widget as the user sees them: rendered at its real width."""
    return ["".join(s.text for s in widget.render_line(y)) for y in range(widget.size.height)]


def value_beside(lines: list[str], label: str) -> str:
    """The figure right of ``label`` (first table), joined across wrapped lines."""
    row = next(i for i, line in enumerate(lines) if line.strip().startswith(label + " "))
    value = lines[row].strip()[len(label) :].split()[0]
    while value.endswith(","):  # wrapped after a thousands separator
        row += 1
        value += lines[row].split()[0]
    return value


def assert_figures_whole(lines: list[str]) -> None:
    """No ellipsis; every label whole; every title whole or named as left out for width."""
    from tui.counters import REGISTRY

    text = "\n".join(lines)
    assert "…" not in text, text
    for counter in REGISTRY:
        assert any(line.strip().startswith(counter.long + " ") for line in lines), text
    hidden = "\n".join(line for line in lines if "wider screen" in line)
    body = "\n".join(line for line in lines if "wider screen" not in line)
    for title in ("Value", "Δ since open", "Δ last poll", "/min 1 min", "/min 15 min"):
        assert title in body, (title, text)
    for title in ("/min 1 h", "/hour 1 h"):  # the first to go on a narrow screen
        assert (title in body) != (title in hidden), (title, text)


@pytest.mark.parametrize("size", FIGURE_SIZES)
async def test_detail_shows_every_40_digit_figure_and_label_whole(size: tuple[int, int]) -> None:
    """Issue 13 item 3: at any width the drill-down shows full values, labels and titles."""
    from tui.counters import REGISTRY

    async with running(
        size=size,
        extra_stats=[stats_object("huge-1", HUGE)],
        extra_llms=[{"id": "huge-1", "name": "huge-counter", "aiType": "OTHER"}],
    ) as h:
        pilot = h.pilot
        assert pilot is not None
        await wait_for(pilot, lambda: "huge-1" in h.app.overview.table.order)
        screen = await open_detail_for(h, "huge-1")
        figures = screen.query_one("#detail-figures", Static)
        # (static_text renders 300 wide: the figures, laid out for the screen, may wrap)
        await wait_for(pilot, lambda: HUGE_SHOWN[:12] in static_text(figures), message="figures")
        await pilot.pause()
        lines = widget_lines(figures)
        assert max(len(line) for line in lines) <= size[0]
        assert_figures_whole(lines)
        for counter in REGISTRY:
            assert value_beside(lines, counter.long) == HUGE_SHOWN, "\n".join(lines)


@pytest.mark.parametrize("size", FIGURE_SIZES)
async def test_detail_figures_of_a_demo_configuration_are_exact_and_whole(
    size: tuple[int, int],
) -> None:
    from tui.counters import REGISTRY
    from tui.fmt import exact

    async with running(size=size) as h:
        pilot = h.pilot
        assert pilot is not None
        ident = h.id_of("support-bot")
        screen = await open_detail_for(h, ident)
        figures = screen.query_one("#detail-figures", Static)
        assert screen.poller is not None
        poller = screen.poller
        await wait_for(pilot, lambda: poller.status.polls >= 1, message="a detail poll")
        h.clock.now += 5
        await pilot.press("r")
        await wait_for(pilot, lambda: poller.status.polls >= 2, message="a second poll")
        await wait_for(pilot, lambda: "+" in static_text(figures), message="deltas")
        await pilot.pause()
        lines = widget_lines(figures)
        assert_figures_whole(lines)
        series = h.app.monitor.history.get(ident)
        assert series is not None and series.latest is not None
        for i, counter in enumerate(REGISTRY):
            assert value_beside(lines, counter.long) == exact(series.latest.values[i])
        if size[0] >= 80:  # every rate window fits from 80 columns
            assert not any("wider screen" in line for line in lines)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_event_counts_and_huge_figures_fit_their_overview_columns(
    size: tuple[int, int],
) -> None:
    """Issue 13 item 6: 30,000 in a 4-cell column reads 30k, never 30.…"""
    events = dict.fromkeys(("totalPolicyViolations", "totalAlerts", "totalBlocks"), "30000")
    async with running(
        size=size,
        extra_stats=[stats_object("events-1", "12345", **events), stats_object("huge-1", HUGE)],
        extra_llms=[
            {"id": "events-1", "name": "events-counter", "aiType": "OTHER"},
            {"id": "huge-1", "name": "huge-counter", "aiType": "OTHER"},
        ],
    ) as h:
        pilot = h.pilot
        assert pilot is not None
        table = h.app.overview.table
        await wait_for(pilot, lambda: {"events-1", "huge-1"} <= set(table.order))
        shown = {c.key for c in table.columns_shown}
        assert {"viol", "blocks"} <= shown and ("alerts" in shown) == (size[0] >= 100)
        for key in shown & {"viol", "alerts", "blocks"}:
            assert table.get_cell("events-1", key).plain == "30k"
        for ident, name in (("events-1", "events-counter"), ("huge-1", "huge-counter")):
            table.select_id(ident)
            await pilot.pause()
            line = next(line for line in widget_lines(table) if name in line)
            assert "…" not in line, line
        line = next(line for line in widget_lines(table) if "events-counter" in line)
        assert re.search(r" 30k +30k( +30k)? ", line), line


async def test_sparkline_points_are_one_poll_interval_wide() -> None:
    from tui.view import trend_points

    async with running(interval=5.0) as h:
        pilot, monitor = h.pilot, h.app.monitor
        assert pilot is not None
        ident = h.id_of("support-bot")
        for _ in range(30):
            await advance(h, 5.0)
        series = monitor.history.get(ident)
        assert series is not None
        assert h.row(ident).trend == trend_points(series, h.clock.now, 5.0)
        await pilot.press("minus")  # poll every 10 s: a point is 10 s now
        assert monitor.poller.interval == 10.0
        await advance(h, 10.0)
        trend = h.row(ident).trend
        assert trend == trend_points(series, h.clock.now, 10.0)
        assert trend != trend_points(series, h.clock.now, 5.0)
        assert len(trend) == 12 and None not in trend


# ---------------------------------------------------------------------------- drill-down charts

CHART_IDS = ("#chart-tokens", "#chart-calls", "#chart-events")
TICK_SUFFIX = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def tick_value(label: str) -> float:
    """The number a compact tick label stands for (``20k`` -> 20000)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kMGTPE]?)", label)
    assert m, f"not a round compact tick label: {label!r}"
    return float(m[1]) * TICK_SUFFIX[m[2]]


def spy_on_charts(
    screen: DetailScreen, monkeypatch: pytest.MonkeyPatch
) -> dict[str, dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]]]:
    """Record what the drill-down passes to plotext, chart by chart and call by call."""
    calls: dict[str, dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]]] = {}
    for cid in CHART_IDS:
        plt = screen.query_one(cid).plt  # type: ignore[attr-defined]
        calls[cid] = {}
        for method in ("xlim", "ylim", "xticks", "yticks", "plot", "scatter"):
            seen = calls[cid].setdefault(method, [])
            original = getattr(plt, method)

            def spy(*args: Any, _seen: list[Any] = seen, _f: Any = original, **kw: Any) -> Any:
                _seen.append((args, kw))
                return _f(*args, **kw)

            monkeypatch.setattr(plt, method, spy)
    return calls


async def charted(
    h: Harness, name: str, polls: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[DetailScreen, dict[str, dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]]]]:
    """The drill-down of ``name`` after ``polls`` polls 5 s apart, its charts drawn
    again with plotext's calls recorded."""
    await advance(h, 5)
    screen = await open_detail_for(h, h.id_of(name))
    for _ in range(polls):
        await advance(h, 5)
    calls = spy_on_charts(screen, monkeypatch)
    screen.render_all()
    return screen, calls


async def test_drill_down_rate_charts_have_round_compact_y_ticks_from_0(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running(interval=5.0, detail_interval=1.0) as h:
        pilot = h.pilot
        assert pilot is not None
        _screen, calls = await charted(h, "support-bot", 3, monkeypatch)
        for cid in CHART_IDS:
            [((ticks, labels), _)] = calls[cid]["yticks"]
            assert labels[0] == "0" and ticks[0] == 0.0, (cid, labels)
            assert 2 <= len(ticks) <= 5, (cid, labels)
            assert [tick_value(label) for label in labels] == pytest.approx(ticks), labels
            steps = [b - a for a, b in itertools.pairwise(ticks)]
            assert steps == pytest.approx([steps[0]] * len(steps))
            mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]))
            assert round(mantissa, 6) in (1.0, 2.0, 5.0), (cid, labels)
            assert [args for args, _ in calls[cid]["ylim"]] == [(0.0, ticks[-1])]
            # The top is the first tick at or above the data.
            ys = [y for (_, y), _ in calls[cid]["plot"] + calls[cid]["scatter"] for y in y]
            if ys:
                assert ticks[-2] < max(ys) <= ticks[-1], (cid, labels, max(ys))
        [((_, labels), _)] = calls["#chart-tokens"]["yticks"]
        assert labels[-1][-1] in "kM", labels  # thousands of tokens a minute, compactly


async def test_drill_down_x_axis_spans_the_window_named_in_the_status_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    async with running(detail_interval=1.0) as h:
        pilot = h.pilot
        assert pilot is not None
        await advance(h, 5)
        ident = h.id_of("support-bot")
        screen = await open_detail_for(h, ident)
        await advance(h, 600)  # "all" now spans 10 minutes: more than the 5-minute window
        await advance(h, 5)
        series = h.app.monitor.history.get(ident)
        assert series is not None
        oldest = series.samples[0].at
        calls = spy_on_charts(screen, monkeypatch)
        status = screen.query_one("#detail-status", Static)
        for expected in ("1 h", "24 h", "7 d", "30 d", "all", "5 min"):
            await pilot.press("w")
            assert f"window {expected}" in static_text(status)
            now = h.clock.now
            span = screen.window_seconds if expected != "all" else now - oldest
            for cid in CHART_IDS:
                [(lo, hi)] = [args for args, _ in calls[cid]["xlim"][-1:]]
                assert (lo, hi) == (-span, 0.0), (expected, cid)
                (ticks, labels), _ = calls[cid]["xticks"][-1]
                assert all(lo <= t <= hi for t in ticks)
                if expected == "5 min":
                    assert labels == ["-5m", "-4m", "-3m", "-2m", "-1m", "now"]
                elif expected == "1 h":
                    assert labels == ["-1h", "-45m", "-30m", "-15m", "now"]
                elif expected in ("7 d", "30 d"):  # dates
                    assert len(labels) >= 2, labels
                    for t, label in zip(ticks, labels, strict=True):
                        day = time.localtime(now + t)
                        assert label == f"{time.strftime('%b', day)} {day.tm_mday}"
                else:  # clock times on round steps, as the status line shows times
                    assert len(labels) >= 2, labels
                    for t, label in zip(ticks, labels, strict=True):
                        assert label == time.strftime("%H:%M", time.localtime(now + t))
                        assert (now + t) % 60 == 0


async def test_all_three_charts_fit_a_120x40_drill_down_without_scrolling() -> None:
    async with running(size=(120, 40), detail_interval=1.0) as h:
        pilot = h.pilot
        assert pilot is not None
        await advance(h, 5)
        screen = await open_detail_for(h, h.id_of("support-bot"))
        await advance(h, 5)
        await pilot.pause()
        body = screen.query_one("#detail-body")
        assert body.max_scroll_y == 0
        for cid in CHART_IDS:
            chart = screen.query_one(cid)
            title = screen.query_one(f"{cid}-title")
            for widget in (chart, title):
                assert screen.region.contains_region(widget.region), (cid, widget.region)
                assert body.region.contains_region(widget.region), (cid, widget.region)
            # Room for the frame, the x labels and a few rows of data.
            assert chart.region.height >= 7, (cid, chart.region)
            assert chart.region.width >= 50, (cid, chart.region)


async def test_chart_legends_are_titles_not_drawn_over_the_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running(interval=5.0, detail_interval=1.0) as h:
        pilot = h.pilot
        assert pilot is not None
        # 8 polls: past its first violation.
        screen, calls = await charted(h, "prompt-playground", 8, monkeypatch)
        for cid in CHART_IDS:
            for _, kw in calls[cid]["plot"] + calls[cid]["scatter"]:
                assert kw.get("label") is None, (cid, kw)
        assert calls["#chart-tokens"]["plot"] and calls["#chart-events"]["scatter"]

        def title(cid: str) -> str:
            return static_text(screen.query_one(f"{cid}-title", Static))

        assert re.search(r"Tokens / min.*━ in +━ out", title("#chart-tokens"))
        assert "API calls / min" in title("#chart-calls")
        assert "━" not in title("#chart-calls")  # one series: no legend
        assert re.search(r"• violations +• alerts +• blocks", title("#chart-events"))


async def test_a_drill_down_without_data_draws_empty_labelled_charts() -> None:
    async with running() as h:
        pilot = h.pilot
        assert pilot is not None
        screen = DetailScreen(h.app.monitor, "no-such-configuration")
        await h.app.push_screen(screen)
        await pilot.pause()
        for cid, top in (("#chart-tokens", "1"), ("#chart-calls", "1"), ("#chart-events", "1")):
            chart = screen.query_one(cid)
            plain = chart.render().plain  # type: ignore[union-attr]
            lines = plain.splitlines()
            assert any(line.lstrip().startswith(f"{top}┤") for line in lines), plain
            assert any(line.lstrip().startswith("0┤") for line in lines), plain
            assert re.search(r"-5m +-4m +-3m +-2m +-1m +now", plain), plain
        assert h.app.is_running


# ---------------------------------------------------------------------------- hostile ids

OSC52_ID = "id\x1b]52;c;ZXZpbA==\x07"


async def test_c_refuses_to_copy_an_id_with_control_characters_and_shows_it_escaped() -> None:
    """Issue 19 item 4: the clipboard never gets raw control characters from the server."""
    async with running(
        extra_stats=[stats_object(OSC52_ID), stats_object("plain-id")],
        extra_llms=[{"id": "plain-id", "name": "plain", "aiType": "OTHER"}],
    ) as h:
        pilot = h.pilot
        assert pilot is not None
        await wait_for(pilot, lambda: OSC52_ID in h.app.overview.table.order)
        screen = await open_detail_for(h, OSC52_ID)
        identity = static_text(screen.query_one("#detail-identity", Static))
        assert "id\\x1b]52;c;ZXZpbA==\\x07" in identity
        await pilot.press("c")
        await pilot.pause()
        assert h.app.clipboard == ""
        assert any("not copied" in str(n.message) for n in h.app._notifications)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(h.app.screen, DetailScreen))
        await open_detail_for(h, "plain-id")
        await pilot.press("c")
        await pilot.pause()
        assert h.app.clipboard == "plain-id"


def test_escaped_ids_never_look_alike() -> None:
    from tui.fmt import escaped_id, has_controls

    ids = ["ab", "a\x1bb", "a\\x1bb", "a\u202eb", "a\u200bb", "a b", "a\u00a0b", "a\tb", "a\\b"]
    shown = [escaped_id(i) for i in ids]
    assert len(set(shown)) == len(ids), shown
    assert escaped_id("a\x1bb") == "a\\x1bb"
    assert escaped_id("a\\x1bb") == "a\\\\x1bb"
    assert all(c.isprintable() for s in shown for c in s)
    assert has_controls("a\x1bb") and has_controls("a\u202eb") and not has_controls("plain-id")


def screen_lines(app: FlashtopApp) -> list[str]:
    """The screen as a terminal shows it, one string per row."""
    strips = app.screen._compositor.render_strips()
    return ["".join(seg.text for seg in strip).rstrip() for strip in strips]


LONG_URL = "http://localhost:18080/api/flashback/v1/organizations/production-eu-west"


@pytest.mark.parametrize("size", [(80, 24), (60, 20), (40, 12), (24, 6)])
async def test_a_stopped_server_shows_as_stale_on_screen_at_every_size(
    size: tuple[int, int],
) -> None:
    """Issue 19 item 1: the state is on screen, first, in one line, however narrow."""
    async with running(size=size) as h:
        pilot = h.pilot
        assert pilot is not None
        h.app.overview.status_bar.base_url = LONG_URL
        h.server.stop()
        h.clock.now += 60
        await pilot.press("r")
        await wait_for(
            pilot,
            lambda: h.app.monitor.poller.status.state is ConnState.RETRYING,
            message="retrying",
        )
        await pilot.pause()
        lines = screen_lines(h.app)
        assert len(lines) == size[1]
        state_line = next((line for line in lines[:2] if "●" in line), "")
        assert state_line.lstrip().startswith("● retrying"), lines[:3]
        assert any("flashtop" in line for line in lines[:1])  # the identity line is there too
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(h.app.screen, DetailScreen), message="detail")
        await wait_for(
            pilot,
            lambda: screen_lines(h.app)[0].lstrip().startswith("● retrying"),
            message="the drill-down's state first",
        )


async def test_login_needed_names_the_key_the_keymap_gives_it() -> None:
    async with running(interval=1.0, refresh_token=False, keymap={"login": "ctrl+l,l"}) as h:
        assert h.pilot is not None
        h.server.set_fault("expired")
        await wait_for(h.pilot, lambda: "login needed: press ctrl+l" in h.status_text())
