"""The view stays put when a poll re-ranks the rows; F follows the selection instead."""

from __future__ import annotations

import pytest
from ui_helpers import Harness, advance, running, stats_object, wait_for

N = 300


def ranked(h: Harness, flip: bool) -> None:
    """300 extra configurations whose calls rank them one way, or exactly reversed."""
    h.server.extra_stats[:] = [
        stats_object(f"cfg-{i:03d}", "5", totalApiCalls=str(10**9 + (N - i if flip else i)))
        for i in range(N)
    ]


async def sorted_by_calls(h: Harness) -> None:
    """300 ranked configurations polled, the table sorted by calls, cursor on top."""
    assert h.pilot is not None
    ranked(h, flip=False)
    await advance(h, 5)
    table = h.app.overview.table
    while h.app.overview.sort_key != "calls":
        await h.pilot.press("s")
    await wait_for(h.pilot, lambda: table.order[0].startswith("cfg-"), message="sorted")
    await h.pilot.press("home")


async def test_a_re_ranking_poll_leaves_the_view_where_it_was() -> None:
    async with running(size=(100, 30), extra_stats=[]) as h:
        assert h.pilot is not None
        await sorted_by_calls(h)
        table = h.app.overview.table
        await h.pilot.press("pagedown", "pagedown", "down", "down")
        top, row = table.scroll_offset.y, table.cursor_row
        assert top > 0 and top <= row < top + 28
        for flip in (True, False, True):
            ranked(h, flip)
            await advance(h, 5)
            # The whole list turned over: the view did not move, and the cursor kept
            # its row (its configuration went off screen).
            assert table.order[0] == ("cfg-000" if flip else "cfg-299")
            assert (table.scroll_offset.y, table.cursor_row) == (top, row)


async def test_the_cursor_keeps_its_configuration_while_it_stays_on_screen() -> None:
    async with running(size=(100, 30), extra_stats=[]) as h:
        assert h.pilot is not None
        await sorted_by_calls(h)
        table = h.app.overview.table
        await h.pilot.press("down", "down", "down")
        ident = table.current_id()
        assert ident is not None
        # Swap the selected configuration with its neighbour: both stay on screen.
        i = int(ident.split("-")[1])
        stats = h.server.extra_stats
        stats[i]["totalApiCalls"], stats[i + 1]["totalApiCalls"] = (
            stats[i + 1]["totalApiCalls"],
            stats[i]["totalApiCalls"],
        )
        top = table.scroll_offset.y
        await advance(h, 5)
        assert table.current_id() == ident and table.scroll_offset.y == top


async def test_f_follows_the_selected_configuration_through_re_ranking() -> None:
    async with running(size=(100, 30), extra_stats=[]) as h:
        assert h.pilot is not None
        await sorted_by_calls(h)
        table = h.app.overview.table
        await h.pilot.press("pagedown", "down")
        ident = table.current_id()
        await h.pilot.press("F")
        assert h.app.overview.follow and "follow" in h.status_text()
        for flip in (True, False):
            ranked(h, flip)
            await advance(h, 5)
            assert table.current_id() == ident
            top = table.scroll_offset.y
            assert top <= table.cursor_row < top + 28  # scrolled to keep it in view
        await h.pilot.press("F")
        assert not h.app.overview.follow and "follow" not in h.status_text()


async def test_the_totals_line_shows_whole_pairs_only_at_every_width() -> None:
    import re

    from textual.widgets import Static

    from tui.counters import REGISTRY

    for size in ((80, 24), (100, 30), (160, 40)):
        async with running(size=size) as h:
            totals = h.app.overview.query_one("#totals", Static)
            text = str(totals.content)
            assert len(text) <= size[0] and "…" not in text
            labels = "|".join(re.escape(c.short) for c in REGISTRY)
            pairs = re.findall(rf" ({labels}) (\S+)", text.split("tok/min", 1)[1])
            assert pairs, text
            for _label, value in pairs:
                assert re.fullmatch(r"\d+(\.\d)?[kMGTPE]?\+?", value), (size, text)
            # Pairs are dropped from the end, never cut: at 160 columns all of them.
            if size[0] >= 160:
                assert len(pairs) == len(REGISTRY)


async def test_the_drill_down_reads_what_memory_lacks_from_the_history_file() -> None:
    from ui_helpers import START, FakeClock

    from tui.app import FlashtopApp
    from tui.counters import TOKENS_IN
    from tui.demo_server import DemoServer
    from tui.screens.detail import DetailScreen
    from tui.settings import Settings
    from tui.store import HistoryStore, Retention, store_path
    from tui.tokens import AuthSession, TokenSet

    hours = 2
    clock = FakeClock(START + hours * 3600)
    # The demo's traffic counts from START; the history file holds its first two
    # hours (a sample a second, raw rows kept for 10 minutes, then one a minute).
    with DemoServer(clock=clock, epoch=START) as server:
        path = store_path("past")
        path.parent.mkdir(parents=True, exist_ok=True)
        with HistoryStore.open(path, retention=Retention(raw=600.0)) as store:
            for t in range(0, hours * 3600, 1):
                store.write_poll(
                    START + t, [(llm_id, sim.counters(t)) for llm_id, sim in server.sims]
                )
                if t % 600 == 0:
                    store.downsample_and_prune(START + t)
        ident, sim = server.sims[0]
        access, refresh = server.issue_tokens()
        session = AuthSession(TokenSet(access, refresh, obtained_at=clock.now), source="t")
        settings = Settings(profile="past", base_url=server.base_url, interval=60.0)
        app = FlashtopApp(settings, session, clock=clock, mark_changes=False, keep_history=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.monitor.poller.status.polls >= 1)
            series = app.monitor.history.get(ident)
            assert series is not None and series.samples[0].at >= START + 3600  # an hour
            app.overview.table.select_id(ident)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            screen = app.screen
            assert isinstance(screen, DetailScreen)
            await wait_for(pilot, lambda: bool(screen._past), message="the file's samples")
            day = screen.samples_since(86400.0)
            assert day[0].at == START  # two hours back: the file's minute tier
            assert [s.at for s in day] == sorted({s.at for s in day})
            # The 1-hour rate over memory and the file equals the simulation's own.
            true = (sim.counters(hours * 3600)[TOKENS_IN] - sim.counters(3600)[TOKENS_IN]) / 60
            r = screen._rate(TOKENS_IN, 3600.0, 3240.0)
            assert r is not None and abs(r - true) <= 0.02 * true


async def test_a_steady_configuration_draws_a_flat_chart_in_the_drill_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13: the drill-down's poller records beside the overview's (and `r` just
    after a poll); the tokens chart of a steady configuration stays on its true rate."""
    from ui_helpers import poll

    from tui.demo_server import _Sim
    from tui.screens.detail import DetailScreen

    monkeypatch.setattr(_Sim, "JITTER", 0.0)  # exactly `rate` tokens in a second
    async with running(interval=5.0) as h:
        assert h.pilot is not None
        monitor = h.app.monitor
        ident = h.id_of("support-bot")
        sim = next(sim for llm_id, sim in h.server.sims if llm_id == ident)
        true_in, true_out = 60.0 * sim.rate, 60.0 * sim.rate * sim.ratio
        h.app.overview.table.select_id(ident)
        await h.pilot.press("enter")
        await wait_for(h.pilot, lambda: isinstance(h.app.screen, DetailScreen))
        screen = h.app.screen
        assert isinstance(screen, DetailScreen)
        edge = h.clock.now
        for _ in range(20):
            for offset in (1.3, 2.0, 4.0):  # the drill-down's own polls, off the beat
                h.clock.now = edge + offset
                await monitor.ingest(await monitor.fetch_one(ident), h.clock.now)
            edge += 5.0
            h.clock.now = edge
            await poll(h)  # the overview's poll
            await advance(h, 0.3)  # `r` pressed just after it
        xs, rates, _events = screen._chart_series(screen.samples_since(300.0), h.clock.now, 300.0)
        assert len(xs) == len(rates["in"]) and -300.0 <= xs[0] < xs[-1] <= 0.0
        drawn = [(i, o) for i, o in zip(rates["in"], rates["out"], strict=True) if i is not None]
        assert len(drawn) >= 18  # 100 s of polls in buckets of one poll interval (5 s)
        for tin, tout in drawn:
            assert tout is not None
            assert abs(tin - true_in) <= 0.02 * true_in, (tin, true_in)
            assert abs(tout - true_out) <= 0.02 * true_out, (tout, true_out)
        # Before the first poll there is nothing: a gap, not a line at 0.
        assert rates["in"][0] is None


async def test_holding_down_in_the_drill_down_polls_only_where_it_stops() -> None:
    from tui.screens.detail import DetailScreen

    async with running() as h:
        assert h.pilot is not None
        table = h.app.overview.table
        first = table.order[0]
        await h.pilot.press("enter")
        await wait_for(h.pilot, lambda: isinstance(h.app.screen, DetailScreen))
        screen = h.app.screen
        assert isinstance(screen, DetailScreen)
        await wait_for(h.pilot, lambda: h.stats_requests(aiLlmId=first) >= 1)
        await h.pilot.press(*["down"] * 6)  # a held key: six steps in a moment
        last = table.order[6]
        assert screen.ai_llm_id == last and table.current_id() == last
        await wait_for(h.pilot, lambda: h.stats_requests(aiLlmId=last) >= 1, message="polled")
        passed = table.order[1:6]
        assert [h.stats_requests(aiLlmId=i) for i in passed] == [0] * 5
