"""Cost on screen: $/H and $ TODAY, the drill-down's cost panel, budgets (`b`) and
grouping (`g`), against a real demo server under Pilot."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from ui_helpers import (
    advance,
    detail_screen,
    render_plain,
    running,
    static_text,
    wait_for,
)

from tui.budgets import BudgetStatus
from tui.demo import DEMO_MODELS, DEMO_PRICES
from tui.grouping import is_group
from tui.pricing import LLM_IN, LLM_OUT
from tui.screens.budgets import BudgetsScreen
from tui.settings import BudgetSpec
from tui.view import COLUMN_BY_KEY

PRICED: dict[str, Any] = {
    "models": {**DEMO_MODELS, "*-triage": "gpt-4o-mini"},
    "prices": DEMO_PRICES,
    "budgets": (
        BudgetSpec(match="*", period="day", usd=Decimal(100), name="org"),
        BudgetSpec(match="support-*", period="day", tokens=10**12, name="support"),
    ),
}


def header(h: Any) -> list[str]:
    return [c.key for c in h.app.overview.table.columns_shown]


async def test_cost_columns_show_rate_and_today_and_na_for_an_unpriced_configuration() -> None:
    async with running(settings_changes=PRICED) as h:
        await advance(h, 30)
        await advance(h, 30)
        assert {"cost_rate", "cost_today"} <= set(header(h))
        bot = h.row(h.id_of("support-bot"))
        assert bot.priced and bot.cost_rate is not None and bot.cost_rate > 0
        # $/h from the minute's LLM token rates at gpt-4o's $2.50 / $10 per million.
        series = h.app.monitor.history.get(bot.id)
        assert series is not None
        rin = series.rate_per_minute((LLM_IN,))
        rout = series.rate_per_minute((LLM_OUT,))
        assert rin is not None and rout is not None
        by_hand = (rin * 2.5 + rout * 10) * 60 / 1e6
        assert abs(float(bot.cost_rate) - by_hand) < 1e-6 * by_hand
        assert bot.cost_today is not None and bot.cost_today.usd > 0
        cell = h.app.overview.table.get_cell(bot.id, "cost_rate").plain
        assert cell.startswith("$")
        llama = h.row(h.id_of("sandbox-llama"))
        assert not llama.priced
        assert h.app.overview.table.get_cell(llama.id, "cost_rate").plain == "n/a"
        assert h.app.overview.table.get_cell(llama.id, "cost_today").plain == "n/a"
        status = h.status_text()
        assert "1 unpriced" in status
        assert "budget org " in status  # the worst budget, by its name


async def test_without_models_there_are_no_cost_columns() -> None:
    async with running() as h:
        assert not {"cost_rate", "cost_today"} & set(header(h))
        assert "unpriced" not in h.status_text()


async def test_cost_columns_give_way_at_narrow_widths_after_the_event_columns() -> None:
    async with running(size=(80, 24), settings_changes=PRICED) as h:
        keys = header(h)
        assert {"cost_rate", "cost_today", "rate", "tok_in", "tok_out"} <= set(keys)
        assert not {"viol", "blocks", "alerts", "llm_in"} & set(keys)
        # Every column title is whole.
        table = h.app.overview.table
        assert all(c.width >= len(c.title) for c in table.columns_shown)


async def test_sorting_by_cost_rate_orders_by_dollars() -> None:
    async with running(settings_changes=PRICED) as h:
        await advance(h, 30)
        await advance(h, 30)
        screen = h.app.overview
        screen.sort_key, screen.sort_desc = "cost_rate", True
        screen.render_rows()
        rows = [r for r in screen.rows if r.cost_rate is not None]
        values = [r.cost_rate for r in rows]
        # Calm within 5 %: never a big inversion.
        for a, b in itertools.pairwise(values):
            assert a is not None and b is not None and a >= b * Decimal("0.95")
        assert COLUMN_BY_KEY["cost_rate"].calm


async def test_the_drill_down_shows_the_cost_panel() -> None:
    async with running(settings_changes=PRICED) as h:
        await advance(h, 30)
        h.app.overview.table.select_id(h.id_of("support-bot"))
        assert h.pilot is not None
        await h.pilot.press("enter")
        screen = detail_screen(h)
        await wait_for(
            h.pilot,
            lambda: "Cost, all time" in static_text(screen.query_one("#detail-identity")),
            message="cost panel",
        )
        text = static_text(screen.query_one("#detail-identity"))
        assert "gpt-4o" in text
        assert "$2.5 in, $10 out" in text
        assert "genai-prices" in text
        assert "This month" in text and "Today" in text


async def test_budgets_screen_lists_every_budget() -> None:
    async with running(settings_changes=PRICED) as h:
        await advance(h, 30)
        await advance(h, 30)
        budgets: list[BudgetStatus] = h.app.monitor.budgets
        assert [b.spec.name for b in budgets] == ["org", "support"]
        assert h.pilot is not None
        await h.pilot.press("b")
        await wait_for(h.pilot, lambda: isinstance(h.app.screen, BudgetsScreen), message="b")
        text = render_plain(h.app.screen.query_one("#budgets-table").content)
        assert "org" in text and "support" in text and "OUTLOOK" in text
        await h.pilot.press("escape")
        await wait_for(h.pilot, lambda: h.app.screen is h.app.overview, message="back")


async def test_grouping_by_provider_sums_its_members_and_folds() -> None:
    async with running(settings_changes=PRICED) as h:
        await advance(h, 30)
        await advance(h, 30)
        assert h.pilot is not None
        await h.pilot.press("g")
        screen = h.app.overview
        assert screen.grouping == "provider"
        order = screen.table.order
        groups = [i for i in order if is_group(i)]
        assert len(groups) == 5  # OPENAI, ANTHROPIC, GOOGLE, AWS, OTHER
        rows = {r.id: r for r in screen.rows}
        names = h.app.monitor.names
        for gid in groups:
            group = rows[gid]
            members = [
                r for r in rows.values() if not r.group and names[r.id].ai_type == group.name
            ]
            assert group.group == len(members)
            for i in range(len(group.values)):
                assert group.values[i] == sum(m.values[i] or 0 for m in members)
            priced = [m.cost_rate for m in members if m.cost_rate is not None]
            assert group.cost_rate == sum(priced, Decimal(0))
        # The detail's up/down order skips group lines.
        assert not any(is_group(i) for i in screen.ordered_ids())
        # Enter on a group line folds it: its members leave the table.
        first = groups[0]
        screen.table.select_id(first)
        await h.pilot.press("enter")
        assert rows[first].group > 0
        folded = screen.table.order
        assert first in folded
        assert len(folded) == len(order) - rows[first].group
        await h.pilot.press("g")
        assert screen.grouping == "workspace"
        await h.pilot.press("g")
        assert screen.grouping == ""
        assert not any(is_group(i) for i in screen.table.order)


async def test_s_reaches_the_cost_columns_and_grouping_keeps_the_totals_exact() -> None:
    async with running(settings_changes=PRICED) as h:
        await advance(h, 30)
        await advance(h, 30)
        assert h.pilot is not None
        screen = h.app.overview
        seen = []
        for _ in range(20):
            await h.pilot.press("s")
            seen.append(screen.sort_key)
        assert {"cost_rate", "cost_today"} <= set(seen)
        totals_before = str(screen.query_one("#totals").content)
        await h.pilot.press("g")
        rows = {r.id: r for r in screen.rows}
        groups = [r for r in rows.values() if r.group]
        # Today's spend of a group is its members' sum; the totals line is unchanged.
        for group in groups:
            members = [r for r in rows.values() if not r.group and r.provider == group.name]
            spent = [m.cost_today.usd for m in members if m.cost_today is not None]
            assert group.cost_today is not None
            assert group.cost_today.usd == sum(spent, Decimal(0))
        assert str(screen.query_one("#totals").content) == totals_before
