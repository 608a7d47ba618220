"""The past before the start, from /aistats/minute (issue 17 items 2 and 3).

Unit tests reconstruct running totals from per-minute sums against a plain walk;
the Pilot tests run the app against the demo server, whose /aistats rows come from
the same simulation as its totals: a backfilled sample must equal the server's own
totals at that moment, and the drill-down's 1 h chart must be drawn at once.
"""

from __future__ import annotations

import math
import random

import pytest
from textual.widgets import Static
from ui_helpers import advance, running, static_text, wait_for

from tui.aistats import AiStatsRow, Totals
from tui.backfill import backfill_span, samples_before, with_server_past
from tui.counters import COUNTERS, IDX
from tui.history import Sample
from tui.screens.detail import DetailScreen

START = 1_800_000_000.0


def totals_of(values: dict[str, int]) -> Totals:
    """A bucket's sums given by /ai/llm/stats counter name (others 0)."""
    from tui.aistats import STATS_COUNTER_OF, SUM_FIELDS

    counts = tuple(values.get(STATS_COUNTER_OF.get(name, ""), 0) for name in SUM_FIELDS)
    t = Totals()
    t.add(AiStatsRow(at=0.0, ai_llm_id="x", model="m", host="h", counts=counts))
    return t


def walk(increments: list[int], base: int) -> list[int]:
    """Running totals at each minute edge, oldest first, from per-minute growth."""
    out, v = [base], base
    for g in increments:
        v += g
        out.append(v)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_whole_minutes_reconstruct_the_running_totals_exactly(seed: int) -> None:
    rng = random.Random(seed)
    minutes = 30
    big = 10**39 if seed % 2 else 1000  # 40-digit counters stay exact
    incs = [rng.choice([0, 0, rng.randrange(1, 10**6)]) for _ in range(minutes)]
    truth = walk(incs, big)
    since = START
    anchor_at = since + minutes * 60  # on an edge: every bucket is whole
    anchor = Sample(anchor_at, (truth[-1],) + (None,) * (len(COUNTERS) - 1))
    buckets = [
        (since + k * 60, totals_of({COUNTERS[0]: g})) for k, g in enumerate(incs) if g
    ]  # a minute with no traffic has no row
    got = samples_before(buckets, anchor, since)
    assert [s.at for s in got] == [since + k * 60 for k in range(minutes)]
    assert [s.values[0] for s in got] == truth[:-1]
    assert all(s.values[1] is None for s in got)  # unknown at the anchor: unknown before


def test_the_running_minute_counts_only_up_to_when_it_was_asked() -> None:
    since = START
    anchor = Sample(since + 90, (1000,) + (0,) * 7)
    # The minute [60, 120) was asked for at 90 s: its 30 tokens all came before the anchor.
    buckets = [
        (since, totals_of({"totalApiCalls": 10})),
        (since + 60, totals_of({"totalApiCalls": 30})),
    ]
    got = samples_before(buckets, anchor, since, asked_at=since + 90)
    assert [(s.at - since, s.values[0]) for s in got] == [(0, 960), (60, 970)]
    # Asked later (at 120 s), half of the minute's growth is after the anchor.
    got = samples_before(buckets, anchor, since, asked_at=since + 120)
    assert [(s.at - since, s.values[0]) for s in got] == [(0, 975), (60, 985)]


def test_a_counter_the_rows_leave_out_or_that_would_go_negative_is_unknown_from_there() -> None:
    since = START
    anchor = Sample(since + 180, (5, 100) + (0,) * 6)
    incomplete = totals_of({"totalApiCalls": 1})
    incomplete.incomplete.add("tokensIn")  # some row had no tokensIn
    buckets = [(since + 60, totals_of({"totalApiCalls": 10})), (since + 120, incomplete)]
    got = samples_before(buckets, anchor, since)
    calls = [s.values[IDX["totalApiCalls"]] for s in got]
    tokens_in = [s.values[IDX["totalTokensIn"]] for s in got]
    assert calls == [None, None, 4]  # 5 - 1 = 4, then 4 - 10 < 0: a reset, unknown
    assert tokens_in == [None, None, None]


def test_local_samples_win_and_many_configurations_ask_for_less() -> None:
    server = [Sample(START + k * 60, (k,)) for k in range(5)]
    local = [Sample(START + 150, (100,)), Sample(START + 200, (101,))]
    assert [s.at - START for s in with_server_past(server, local)] == [0, 60, 120, 150, 200]
    assert with_server_past([], local) == local
    assert backfill_span(12) == 6 * 3600
    assert backfill_span(10_000) == 12 * 60  # 120,000 configuration-minutes
    assert backfill_span(100_000) == 10 * 60  # never under 10 minutes
    assert backfill_span(1000) < 6 * 3600


# ---------------------------------------------------------------------------- the app


async def test_the_app_reads_the_server_past_once_after_the_first_poll() -> None:
    async with running(interval=5.0, server_past=True) as h:
        assert h.pilot is not None
        await wait_for(h.pilot, lambda: bool(h.app.monitor.server_past), message="backfill")
        assert "from /aistats/minute" in h.app.monitor.server_past_note
        asked = h.server.request_count("/aistats/minute")
        await advance(h, 5)
        assert h.server.request_count("/aistats/minute") == asked == 1


async def test_started_a_minute_ago_the_drill_down_shows_the_last_hour_from_the_server() -> None:
    async with running(interval=5.0) as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        await advance(h, 25)  # the anchor inside a minute: that minute is split
        ids = [s.ai_llm_id for s in app.overview.page.stats]  # type: ignore[union-attr]
        await app.monitor.load_server_past(ids)
        ident = app.overview.table.current_id()
        assert ident is not None
        past = app.monitor.server_past[ident]
        # Every backfilled sample is what the server's own totals were at that moment.
        for sample in (past[0], past[len(past) // 2], past[-1]):
            truth = h.server.totals_at(sample.at)[ident]
            assert sample.values == tuple(truth[c] for c in COUNTERS), sample
        assert past[0].at <= h.clock.now - 3600
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), message="detail")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        await pilot.press("w")  # 1 h
        await pilot.pause()
        samples = screen.samples_since(3600)
        assert samples[0].at <= h.clock.now - 3540
        _xs, rates, _events = screen._chart_series(samples, h.clock.now, 3600)
        drawn = [r for r in rates["in"] if r is not None]
        assert len(drawn) >= 0.9 * len(rates["in"]), "the hour before the start is a gap"
        assert "from the server's /aistats" in static_text(
            screen.query_one("#detail-status", Static)
        )
        # The 1 h rate is known at once, and agrees with the server's totals.
        hour_ago = h.server.totals_at(h.clock.now - 3600)[ident]["totalTokensIn"]
        now_total = h.server.totals_at(h.clock.now)[ident]["totalTokensIn"]
        truth = (now_total - hour_ago) / 60
        assert math.isclose(sum(drawn) / len(drawn), truth, rel_tol=0.05)


async def test_m_lists_models_and_hosts_of_the_window_with_weighted_latency() -> None:
    async with running(interval=5.0) as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        ident = app.overview.table.current_id()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), message="detail")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        await pilot.press("w", "m")  # 1 h, models and hosts
        view = screen.query_one("#detail-breakdown", Static)
        await wait_for(pilot, lambda: "By host" in static_text(view), message="breakdown")
        text = static_text(view)
        assert not screen.query_one("#detail-charts-top").display
        # The same figures as a plain breakdown of the server's rows.
        got = screen._breakdowns[(ident, 3600.0)][1]
        assert not isinstance(got, str)
        by_model, by_host, _prices = got
        assert len(by_model.items) >= 2 and len(by_host.items) >= 1
        for item in by_model.items:
            assert item.name in text
        assert sum(i.totals.get("tokensIn") for i in by_model.items) == by_model.total.get(
            "tokensIn"
        )
        assert "LATENCY" in text and ("ms" in text or " s " in text)
        await pilot.press("m")
        await pilot.pause()
        assert screen.query_one("#detail-charts-top").display


async def test_m_says_so_in_one_line_when_the_server_has_no_aistats() -> None:
    async with running(interval=5.0) as h:
        pilot, app = h.pilot, h.app
        assert pilot is not None
        h.server.set_fault("not_found", paths=("/aistats/minute", "/aistats/daily"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), message="detail")
        screen = app.screen
        await pilot.press("m")
        view = screen.query_one("#detail-breakdown", Static)
        await wait_for(pilot, lambda: "did not answer" in static_text(view), message="the reason")
        assert app.is_running


# ---------------------------------------------------------------------------- the mix


def test_blend_weights_each_models_rates_by_its_share_of_the_tokens() -> None:
    from decimal import Decimal

    from tui.pricing import MIX_SOURCE, Price, blend

    prices = {
        "a": Price("a", Decimal(1), Decimal(10), "t"),
        "b": Price("b", Decimal(3), Decimal(30), "t"),
        "c": None,
    }
    got = blend({"a": (300, 100), "b": (100, 300), "c": (999, 999)}, prices)
    assert got is not None
    assert got.input == Decimal("1.5")  # (300*1 + 100*3) / 400
    assert got.output == Decimal("25")  # (100*10 + 300*30) / 400
    assert got.source == MIX_SOURCE
    assert got.model.startswith("mix: ") and "1 unpriced left out" in got.model
    assert blend({"c": (5, 5)}, prices) is None


async def test_a_configuration_the_profile_maps_no_model_to_is_priced_by_the_servers_mix() -> None:
    async with running(interval=5.0, settings_changes={"models": {"support-bot": "gpt-4o"}}) as h:
        app = h.app
        costs = app.monitor.costs
        mapped, unmapped = h.id_of("support-bot"), h.id_of("code-review")
        before = costs.price(mapped)
        assert before is not None and costs.price(unmapped) is None
        ids = [s.ai_llm_id for s in app.overview.page.stats]  # type: ignore[union-attr]
        await app.monitor.load_server_past(ids)
        price = costs.price(unmapped)
        assert price is not None and price.model.startswith("mix: ")
        assert "claude" in price.model  # the demo's Anthropic configuration calls Claude
        assert costs.price(mapped) == before  # the profile's mapping wins
