"""Production hosts: ``/ai/llm/stats`` answers 404 (it is documented as TEST-only), and
the monitor shows the last 24 h's totals from ``/aistats/minute`` instead, labelled as
such, without recording them as running totals and without retrying forever."""

from __future__ import annotations

from typing import Any

import pytest
from test_cli import against, assert_one_line_failure, run_cli, token_env
from test_metrics import families, on_demo
from test_metrics import poll as metrics_poll
from test_monitor import monitor_on_demo
from textual.widgets import Static
from ui_helpers import advance, make_harness, static_text, wait_for

from tui.aistats import AiStatsPage, AiStatsQuery, AiStatsRow, iso_ms, parse_aistats_response
from tui.counters import COUNTERS, IDX
from tui.demo_server import DemoServer
from tui.errors import EXIT_SERVER, NotFoundError, ServerError
from tui.fmt import exact
from tui.metrics import COUNTER_METRICS, WINDOW_SUFFIX
from tui.models import CellProblem
from tui.monitor import Monitor
from tui.screens.detail import DetailScreen
from tui.windowed import NOTE, OVERLAP, REFRESH, STATS_RETRY, WINDOW, WindowedPage, WindowedTotals

STATS = "/ai/llm/stats"
MINUTE_PATH = "/aistats/minute"
#: The demo's configuration whose counters drop to zero once: its window sums are not
#: a difference of its totals (the rows see the growth on both sides of the drop).
RESET_NAME = "analytics-agent"


def stats_missing(server: DemoServer) -> None:
    """The server answers 404 on /ai/llm/stats only, like a production host."""
    server.set_fault("not_found", paths=(STATS,))


def growth(server: DemoServer, since: float, until: float) -> dict[str, tuple[int, ...]]:
    """Every configuration's counter growth from ``since`` to ``until`` (the demo's totals)."""
    t0, t1 = server.totals_at(since), server.totals_at(until)
    return {i: tuple(t1[i][c] - t0[i][c] for c in COUNTERS) for i in t1}


def reset_id(server: DemoServer) -> str:
    return next(str(llm["id"]) for llm in server.llms if llm["name"] == RESET_NAME)


def assert_window_sums(server: DemoServer, page: WindowedPage) -> None:
    expected = growth(server, page.since, page.until)
    got = {s.ai_llm_id: s.values for s in page.stats}
    assert set(got) == set(expected)
    skip = reset_id(server)
    for ident, values in expected.items():
        if ident != skip:
            assert got[ident] == values, ident
    assert any(any(v) for v in got.values())  # not a window of zeros


# ---------------------------------------------------------------------------- the monitor


async def test_a_404_from_stats_gives_the_window_sums_of_aistats_equal_to_the_totals_growth() -> (
    None
):
    async with monitor_on_demo() as (monitor, server, clock):
        stats_missing(server)
        page = await monitor.fetch_overview()
        assert isinstance(page, WindowedPage)
        assert page.label == "24 h"
        assert page.until == clock.now
        assert page.since == (clock.now - WINDOW) // 60 * 60
        assert_window_sums(server, page)
        assert server.request_count(STATS) == 1
        [query] = [r.query for r in server.requests if r.path == MINUTE_PATH]
        assert query == {"startDate": iso_ms(page.since), "endDate": iso_ms(clock.now)}
        # Names from /ai/llm still apply.
        assert set(monitor.names) == {s.ai_llm_id for s in page.stats}


async def test_the_window_slides_with_at_most_one_small_aistats_request_a_minute() -> None:
    async with monitor_on_demo() as (monitor, server, clock):
        stats_missing(server)
        first = await monitor.fetch_overview()
        assert isinstance(first, WindowedPage)
        server.clear_requests()
        clock.now += REFRESH / 2
        again = await monitor.fetch_overview()
        assert again is first  # nothing asked: the rows are per minute
        assert server.request_count(MINUTE_PATH) == 0 and server.request_count(STATS) == 0

        clock.now += REFRESH * 1.5  # 90 s after the first poll
        later = await monitor.fetch_overview()
        assert isinstance(later, WindowedPage) and later.until == clock.now
        # Only the minutes since the last request (and OVERLAP before them) are read.
        [query] = [r.query for r in server.requests if r.path == MINUTE_PATH]
        assert query["startDate"] == iso_ms((first.until - OVERLAP) // 60 * 60)
        assert server.request_count(STATS) == 0
        assert later.since > first.since
        assert_window_sums(server, later)


async def test_stats_is_asked_again_every_ten_minutes_and_wins_once_it_answers() -> None:
    async with monitor_on_demo() as (monitor, server, clock):
        stats_missing(server)
        await monitor.fetch_overview()
        clock.now += STATS_RETRY - 1
        assert isinstance(await monitor.fetch_overview(), WindowedPage)
        assert server.request_count(STATS) == 1
        clock.now += 2
        assert isinstance(await monitor.fetch_overview(), WindowedPage)
        assert server.request_count(STATS) == 2  # still 404: the window goes on

        server.set_fault(None)
        clock.now += STATS_RETRY
        page = await monitor.fetch_overview()
        assert not isinstance(page, WindowedPage) and len(page.stats) == 12
        assert not monitor.window.active


async def test_a_wrong_base_url_answers_404_everywhere_and_stays_an_error() -> None:
    async with monitor_on_demo() as (monitor, server, _clock):
        server.set_fault("not_found", paths=(STATS, MINUTE_PATH))
        with pytest.raises(NotFoundError, match="/ai/llm/stats"):
            await monitor.fetch_overview()
        assert not monitor.window.active


async def test_a_failing_aistats_is_the_error_told_once_stats_said_404() -> None:
    async with monitor_on_demo() as (monitor, server, _clock):
        stats_missing(server)
        real = monitor.client.get_aistats_minute

        async def refused(query: AiStatsQuery | None = None) -> AiStatsPage:
            raise ServerError("server error: Requested range too large")

        monitor.client.get_aistats_minute = refused  # type: ignore[method-assign]
        with pytest.raises(ServerError, match="range too large"):
            await monitor.fetch_overview()
        assert monitor.window.active  # /aistats is there: not a wrong base URL
        monitor.client.get_aistats_minute = real  # type: ignore[method-assign]
        assert isinstance(await monitor.fetch_overview(), WindowedPage)
        assert server.request_count(STATS) == 1  # not asked again within ten minutes


async def test_window_sums_are_shown_but_never_recorded_as_running_totals() -> None:
    submitted: list[Any] = []

    class Writer:
        problem = None

        def submit(self, at: float, stats: Any) -> None:
            submitted.append(stats)

        def close(self) -> None:
            pass

        def take_notice(self) -> None:
            return None

    async with monitor_on_demo() as (monitor, server, clock):
        monitor.history_writer = Writer()  # type: ignore[assignment]
        stats_missing(server)
        page = await monitor.fetch_overview()
        update = await monitor.ingest(page, clock.now, overview=True)
        assert update.notes[0] == NOTE
        assert update.rates == {} and update.budgets == [] and update.events == []
        assert update.page is page
        monitor.write(page, clock.now)
        assert submitted == []
        assert len(monitor.history.series) == 0
        # The drill-down gets the same figures without a request of its own.
        server.clear_requests()
        one = await monitor.fetch_one(page.stats[0].ai_llm_id)
        assert one is page and server.requests == []
        await monitor.ingest(one, clock.now)
        assert len(monitor.history.series) == 0


async def test_polls_of_the_window_count_as_data_for_no_data() -> None:
    async with monitor_on_demo() as (monitor, server, clock):
        monitor.metrics.poll_failed(clock.now - 30)  # an outage before the switch
        stats_missing(server)
        page = await monitor.fetch_overview()
        await monitor.ingest(page, clock.now, overview=True)
        assert monitor.metrics.seconds_without_data(clock.now) is None


# ---------------------------------------------------------------------------- the sums


def row(at: float, ident: str, calls: int | None, tokens_in: int = 0) -> AiStatsRow:
    counts = [0] * 11
    counts[0] = calls  # type: ignore[call-overload]
    counts[1] = tokens_in
    return AiStatsRow(at=at, ai_llm_id=ident, counts=tuple(counts))


def test_known_configurations_without_rows_show_zeros_and_gaps_are_unknown() -> None:
    window = WindowedTotals()
    now = 1_800_000_000.0
    query = window.query(now)
    rows = (row(now - 120, "a", 3, 10), row(now - 60, "a", None, 5), row(now - 60, "b", 2))
    window.add(AiStatsPage(rows=rows), query, now)
    page = window.page(["b", "idle"])
    by_id = page.by_id()
    assert [s.ai_llm_id for s in page.stats] == ["a", "b", "idle"]
    assert by_id["idle"].values == (0,) * len(COUNTERS)
    assert by_id["b"].get("totalApiCalls") == 2
    # A row without calls: their sum is unknown, not a lower bound shown as exact.
    assert by_id["a"].get("totalApiCalls") is None
    assert by_id["a"].problems["totalApiCalls"] is CellProblem.MISSING
    assert by_id["a"].get("totalTokensIn") == 15


def test_minutes_leaving_the_window_leave_the_sums_and_refetched_ones_replace() -> None:
    window = WindowedTotals(window=600.0)
    now = 1_800_000_000.0
    window.add(
        AiStatsPage(rows=(row(now - 540, "a", 5), row(now - 60, "a", 1))), window.query(now), now
    )
    assert window.page().stats[0].values[IDX["totalApiCalls"]] == 6
    later = now + 120
    query = window.query(later)
    assert query.start == (now - OVERLAP) // 60 * 60
    # The minute at now - 60 is read again (grown to 4 calls); now - 540 left the window.
    window.add(AiStatsPage(rows=(row(now - 60, "a", 4),)), query, later)
    assert window.page().stats[0].values[IDX["totalApiCalls"]] == 4


def test_window_query_reads_the_whole_window_first() -> None:
    now = 1_800_000_030.0
    assert WindowedTotals().query(now) == AiStatsQuery(start=(now - WINDOW) // 60 * 60, end=now)
    assert parse_aistats_response({"success": True, "data": []}).rows == ()


# ---------------------------------------------------------------------------- the TUI


async def test_the_overview_shows_24h_totals_and_says_why_in_one_line_without_retrying() -> None:
    h = make_harness()
    stats_missing(h.server)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            h.pilot = pilot
            app = h.app
            await wait_for(
                pilot,
                lambda: len(app.overview.table.order) == 12 and bool(app.monitor.names),
                message="the 24 h table",
            )
            status = h.status_text()
            assert NOTE in status and "retrying" not in status and "✗" not in status
            assert "live" in status
            totals = str(app.overview.query_one("#totals").content)
            assert totals.startswith(" TOTAL 24 h ")
            page = app.overview.page
            assert isinstance(page, WindowedPage)
            assert {r.name for r in app.overview.rows} == {str(x["name"]) for x in h.server.llms}
            some = next(s for s in page.stats if s.get("totalTokensIn"))
            assert h.row(some.ai_llm_id).values == some.values
            await advance(h, 120)  # later polls stay on the window, still no retrying
            status = h.status_text()
            assert NOTE in status and "retrying" not in status
            assert h.stats_requests() == 1
            assert len(app.monitor.history.series) == 0
            # The drill-down shows the same window sums, labelled as such.
            app.overview.table.select_id(some.ai_llm_id)
            await pilot.pause()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), message="detail")
            figures = app.screen.query_one("#detail-figures", Static)
            want = exact(app.overview.page.by_id()[some.ai_llm_id].get("totalTokensIn"))
            await wait_for(pilot, lambda: want in static_text(figures), message="the 24 h figures")
            assert "Last 24 h" in static_text(figures)
    finally:
        h.server.stop()


# ---------------------------------------------------------------------------- the CLI


def test_stats_on_a_host_without_it_says_so_in_one_line_and_suggests_by(
    demo_server: DemoServer,
) -> None:
    stats_missing(demo_server)
    env = token_env(demo_server)
    proc = run_cli(*against(demo_server), env=env)
    line = assert_one_line_failure(proc, EXIT_SERVER, env["FLASHBACK_TOKEN"])
    assert "/ai/llm/stats is not on this server (HTTP 404" in line
    assert "flashtop stats --by model --since 24h" in line
    assert proc.stdout == ""


# ---------------------------------------------------------------------------- the daemon


async def test_the_daemons_metrics_export_window_sums_as_gauges_not_counters() -> None:
    async with on_demo() as (monitor, server, metrics):
        assert isinstance(monitor, Monitor)
        stats_missing(server)
        update = await metrics_poll(monitor, metrics)
        assert isinstance(update.page, WindowedPage)
        fams = families(metrics)
        for api, name in COUNTER_METRICS.items():
            assert fams[name].samples == []  # no running totals that would "reset"
            gauge = fams[name + WINDOW_SUFFIX]
            assert gauge.type == "gauge"
            got = {s.labels["ai_llm_id"]: s.value for s in gauge.samples}
            assert got == {s.ai_llm_id: s.values[IDX[api]] for s in update.page.stats}
