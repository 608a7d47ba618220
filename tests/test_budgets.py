"""Budgets: members, spend, burn rate, run-out projection and threshold alerts."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tui.budgets import (
    BudgetAlerts,
    BudgetEvaluator,
    BudgetStatus,
    budget_key,
    budgets_path,
    evaluate,
    matches,
)
from tui.client import client_for
from tui.counters import COUNTERS
from tui.demo_server import DemoServer
from tui.history import History
from tui.ledger import Ledger
from tui.models import LlmConfig, LlmStats
from tui.pricing import LLM_IN, LLM_OUT, MONEY, Price, PriceBook, build_pricebook
from tui.settings import BudgetSpec, Settings
from tui.tokens import AuthSession, TokenSet

# Local time is UTC in every test (tests/conftest.py).
MIDNIGHT = 1_781_049_600.0  # 2026-06-10 00:00 UTC
DAY = 86400.0
CHEAP = Price("cheap", Decimal("2"), Decimal("8"), "config")
DEAR = Price("dear", Decimal("15"), Decimal("75"), "config")
CONFIGS = {
    "id-support": LlmConfig("id-support", "support-bot", "OPENAI"),
    "id-review": LlmConfig("id-review", "code-review", "ANTHROPIC"),
    "id-sandbox": LlmConfig("id-sandbox", "sandbox-llama", "OTHER"),
}
BOOK = PriceBook({"support-*": "cheap", "id-review": "dear"}, {"cheap": CHEAP, "dear": DEAR})


def vals(tin: int, tout: int) -> tuple[int | None, ...]:
    out: list[int | None] = [0] * len(COUNTERS)
    out[LLM_IN], out[LLM_OUT] = tin, tout
    return tuple(out)


class Feed:
    """A history and a ledger fed the same samples."""

    def __init__(self) -> None:
        self.history = History()
        self.ledger = Ledger()

    def record(self, at: float, per_id: dict[str, tuple[int, int]]) -> None:
        stats = [LlmStats(ident, vals(*v)) for ident, v in per_id.items()]
        self.history.record(stats, at)
        self.ledger.record_all(stats, at)

    def evaluate(
        self, *specs: BudgetSpec, now: float, book: PriceBook = BOOK
    ) -> list[BudgetStatus]:
        return evaluate(
            specs,
            configs=CONFIGS,
            ledger=self.ledger,
            pricebook=book,
            history=self.history,
            now=now,
        )


def three_configs() -> Feed:
    """Since midnight: support 1M in / 100k out, review 10k / 1k, sandbox 5k / 5k."""
    feed = Feed()
    feed.record(MIDNIGHT, {"id-support": (0, 0), "id-review": (0, 0), "id-sandbox": (0, 0)})
    feed.record(
        MIDNIGHT + 3600,
        {
            "id-support": (1_000_000, 100_000),
            "id-review": (10_000, 1_000),
            "id-sandbox": (5_000, 5_000),
        },
    )
    return feed


def test_usd_and_token_budgets_add_up_their_members() -> None:
    feed = three_configs()
    now = MIDNIGHT + 3600
    usd, tokens = feed.evaluate(
        BudgetSpec("*", "day", usd=Decimal(100)),
        BudgetSpec("*", "day", tokens=10_000_000),
        now=now,
    )
    # $2 + $0.80 for support, $0.15 + $0.075 for review; the sandbox has no price.
    assert usd.used == Decimal("3.025") and isinstance(usd.used, Decimal)
    assert (usd.members, usd.unpriced, usd.limit) == (3, 1, Decimal(100))
    assert usd.percent == pytest.approx(3.025)
    assert usd.exact and usd.since == MIDNIGHT
    assert (usd.period_start, usd.period_end) == (MIDNIGHT, MIDNIGHT + DAY)
    assert tokens.used == 1_000_000 + 100_000 + 10_000 + 1_000 + 10_000
    assert (tokens.members, tokens.unpriced, tokens.percent) == (3, 0, 11.21)
    assert usd.describe() == "$3.02 of $100 (3 %) · within budget · 1 unpriced"
    # 1.12M an hour since midnight: 10M is reached at 08:55, $100 only tomorrow.
    assert tokens.describe() == "1.1M of 10.0M tokens (11 %) · runs out at 08:55"


@pytest.mark.parametrize(
    ("pattern", "members"),
    [
        ("support-*", {"id-support"}),  # the name
        ("SUPPORT-BOT", {"id-support"}),  # case-insensitive
        ("id-re*", {"id-review"}),  # the aiLlmId
        ("anthropic", {"id-review"}),  # the provider (aiType)
        ("*-*", set(CONFIGS)),
        ("*", set(CONFIGS)),
        ("nothing", set()),
    ],
)
def test_a_glob_fits_name_id_or_provider(pattern: str, members: set[str]) -> None:
    fits = {i for i, c in CONFIGS.items() if matches(pattern, i, c.name or i, c.ai_type or "")}
    assert fits == members
    (status,) = three_configs().evaluate(BudgetSpec(pattern, "day", tokens=1), now=MIDNIGHT + 3600)
    assert status.members == len(members)


def test_a_configuration_without_a_name_is_matched_by_its_id() -> None:
    feed = three_configs()
    feed.record(MIDNIGHT + 3600, {"id-unnamed": (5, 5)})
    (status,) = feed.evaluate(BudgetSpec("id-un*", "day", tokens=100), now=MIDNIGHT + 3600)
    assert status.members == 1 and status.used == 0
    assert not status.exact and status.since == MIDNIGHT + 3600
    assert status.describe().endswith("· since 01:00")


def steady(feed: Feed, start: float, seconds: float, tin: int, tout: int, step: float = 5) -> None:
    """One configuration growing by ``tin`` and ``tout`` LLM tokens a second."""
    k = 0
    while k * step <= seconds:
        at = start + k * step
        grown = round(k * step)
        feed.record(at, {"id-support": (10**9 + tin * grown, tout * grown)})
        k += 1


def test_projection_of_a_constant_rate_is_on_time() -> None:
    feed = Feed()
    steady(feed, MIDNIGHT - 60, 2 * 3600 + 60, tin=1000, tout=0)
    now = MIDNIGHT + 2 * 3600
    limit = 20_000_000
    (status,) = feed.evaluate(BudgetSpec("support-*", "day", tokens=limit), now=now)
    assert status.used == 1000 * 7200
    assert status.burn_per_hour == pytest.approx(3_600_000, rel=1e-9)
    truth = now + (limit - 7_200_000) / 1000
    assert status.runs_out_at is not None
    assert abs(status.runs_out_at - truth) <= 0.01 * (truth - now)
    assert status.state() == "runs out"
    assert status.describe() == "7.2M of 20.0M tokens (36 %) · runs out at 05:33"
    # The same in dollars: $2 per million tokens in is $7.20 an hour.
    (usd,) = feed.evaluate(BudgetSpec("*", "day", usd=Decimal(40)), now=now)
    assert usd.used == Decimal("14.4") and usd.burn_per_hour == Decimal("7.2")
    assert usd.runs_out_at is not None
    usd_truth = now + (40 - 14.4) / 7.2 * 3600
    assert abs(usd.runs_out_at - usd_truth) <= 0.01 * (usd_truth - now)


def test_the_burn_rate_is_the_periods_when_it_began_less_than_an_hour_ago() -> None:
    feed = Feed()
    # 100 tokens/s until midnight, then 1,000/s.
    for k in range(0, 841):
        at = MIDNIGHT - 3600 + 5 * k
        s = 5 * k
        grown = 100 * min(s, 3600) + 1000 * max(0, s - 3600)
        feed.record(at, {"id-support": (grown, 0)})
    (status,) = feed.evaluate(BudgetSpec("*", "day", tokens=10**9), now=MIDNIGHT + 600)
    assert status.burn_per_hour == pytest.approx(3_600_000, rel=1e-6)
    assert status.used == 600_000


def test_within_budget_when_it_would_run_out_after_the_period() -> None:
    feed = Feed()
    steady(feed, MIDNIGHT - 60, 3600 + 60, tin=1000, tout=0)
    now = MIDNIGHT + 3600
    # 3.6M used, 3.6M an hour: 100M would last until after midnight.
    (status,) = feed.evaluate(BudgetSpec("*", "day", tokens=100_000_000), now=now)
    assert status.runs_out_at is None and status.state() == "ok"
    assert status.describe().endswith("· within budget")
    (over,) = feed.evaluate(BudgetSpec("*", "day", tokens=3_000_000), now=now)
    assert over.state() == "over" and over.runs_out_at is None
    assert over.describe() == "3.6M of 3.0M tokens (120 %) · over budget"


def test_a_month_budget_runs_out_on_another_day() -> None:
    feed = Feed()
    steady(feed, MIDNIGHT - 60, 3600 + 60, tin=1000, tout=0, step=60)
    now = MIDNIGHT + 3600
    (status,) = feed.evaluate(BudgetSpec("*", "month", tokens=3_600_000 * 50), now=now)
    assert status.runs_out_at is not None
    # 3.66M used (counted since 23:59), 176.34M to go at 3.6M an hour: 48 h 59 min.
    assert status.used == 3_660_000
    assert status.runs_out_at == pytest.approx(now + 176_340_000 / 1000, rel=1e-9)
    assert status.describe() == (
        "3.7M of 180M tokens (2 %) · runs out at Jun 12 01:59 · since Jun 09 23:59"
    )
    assert not status.exact  # first seen after the first of the month


def test_the_evaluator_remembers_burn_rates_for_a_while() -> None:
    feed = Feed()
    steady(feed, MIDNIGHT - 60, 3600 + 60, tin=1000, tout=0)
    evaluator = BudgetEvaluator(burn_refresh=30.0)
    spec = BudgetSpec("*", "day", tokens=10**9)

    def burn(now: float) -> float | Decimal | None:
        (status,) = evaluator.evaluate(
            [spec],
            configs=CONFIGS,
            ledger=feed.ledger,
            pricebook=BOOK,
            history=feed.history,
            now=now,
        )
        return status.burn_per_hour

    now = MIDNIGHT + 3600
    assert burn(now) == pytest.approx(3_600_000)
    steady_more = [(now + 5 * k, 10**9 + 1000 * 3600 + 3000 * 5 * k) for k in range(1, 80)]
    for at, tin in steady_more:
        feed.record(at, {"id-support": (tin, 0)})
    assert burn(now + 5) == pytest.approx(3_600_000)  # remembered
    assert burn(now + 5 * 79) > 3_600_000  # recomputed once its time came


# ---------------------------------------------------------------------------- alerts


def status_at(percent: float, start: float = MIDNIGHT) -> BudgetStatus:
    spec = BudgetSpec("*", "day", usd=Decimal(100), name="org")
    used = Decimal(str(percent))
    return BudgetStatus(
        spec=spec, used=used, limit=Decimal(100), percent=percent, members=1, unpriced=0,
        exact=True, since=start, period_start=start, period_end=start + DAY,
        burn_per_hour=None, runs_out_at=None, at=start + 60,
    )  # fmt: skip


def test_alerts_fire_once_per_threshold_per_period_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "budgets-test.json"
    alerts = BudgetAlerts(path)
    now = MIDNIGHT + 60
    assert alerts.check([status_at(10)], now) == []
    (fifty,) = alerts.check([status_at(55)], now)
    assert fifty.severity == "warning" and fifty.title == "org"
    assert fifty.message.startswith("50 % of the day's budget: $55.00 of $100 (55 %)")
    assert alerts.check([status_at(60)], now) == []
    # 50 -> 100 in one poll: one alert, naming the highest.
    (hundred,) = alerts.check([status_at(130)], now)
    assert hundred.severity == "error" and hundred.message.startswith("100 %")
    assert alerts.check([status_at(140)], now) == []
    assert alerts.problem is None and path.exists()

    again = BudgetAlerts(path)  # a restart
    assert again.fired(status_at(0).spec, MIDNIGHT) == 100
    assert again.check([status_at(140)], now) == []
    # The next day starts afresh (and yesterday's entry is pruned).
    tomorrow = MIDNIGHT + DAY
    (eighty,) = again.check([status_at(85, tomorrow)], tomorrow + 60)
    assert eighty.message.startswith("80 %")
    stored = json.loads(path.read_text())["fired"]
    assert list(stored) == [budget_key(status_at(0).spec, tomorrow)]
    assert stored[budget_key(status_at(0).spec, tomorrow)]["level"] == 80


def test_a_changed_budget_is_a_new_budget(tmp_path: Path) -> None:
    alerts = BudgetAlerts(tmp_path / "b.json")
    old = BudgetSpec("*", "day", usd=Decimal(100))
    new = BudgetSpec("*", "day", usd=Decimal(200))
    assert budget_key(old, MIDNIGHT) != budget_key(new, MIDNIGHT)
    assert budget_key(old, MIDNIGHT) != budget_key(BudgetSpec("*", "day", tokens=100), MIDNIGHT)
    assert len(alerts.check([status_at(90)], MIDNIGHT)) == 1


def test_an_unreadable_file_works_in_memory_and_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "budgets.json"
    path.mkdir()  # reading it fails
    alerts = BudgetAlerts(path)
    assert alerts.problem is not None and "cannot read" in alerts.problem
    assert len(alerts.check([status_at(90)], MIDNIGHT)) == 1
    assert alerts.check([status_at(95)], MIDNIGHT) == []  # remembered in memory
    assert path.is_dir()


def test_a_file_that_cannot_be_read_is_never_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "budgets.json"
    path.write_text('{"fired": {}}')
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    alerts = BudgetAlerts(path)
    assert alerts.problem == (
        "budget alerts not remembered: cannot read budgets.json (permission denied)"
    )
    assert len(alerts.check([status_at(90)], MIDNIGHT)) == 1
    assert path.read_text() == '{"fired": {}}'


def test_an_unwritable_place_works_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    alerts = BudgetAlerts(blocker / "budgets.json")
    assert alerts.problem is None
    assert len(alerts.check([status_at(90)], MIDNIGHT)) == 1
    assert alerts.problem is not None and alerts.problem.startswith("budget alerts not saved")
    assert alerts.check([status_at(95)], MIDNIGHT) == []


def test_a_damaged_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "budgets.json"
    path.write_text('{"fired": [1, 2')
    alerts = BudgetAlerts(path)
    assert alerts.problem is not None and "damaged" in alerts.problem
    assert len(alerts.check([status_at(90)], MIDNIGHT)) == 1
    assert alerts.problem is None  # written afresh
    assert BudgetAlerts(path).fired(status_at(0).spec, MIDNIGHT) == 80


def test_the_default_file_is_per_profile_in_the_data_dir() -> None:
    assert budgets_path("prod").name == "budgets-prod.json"
    odd = budgets_path("a/b")
    assert odd.name.startswith("budgets-a_b-") and odd.parent == budgets_path("x").parent


# ---------------------------------------------------------------------------- the demo


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_demo_support_bot_runs_out_when_the_server_says() -> None:
    """A real server, polled over HTTP on a fake clock from 23:58 to 01:05; the
    projection of a $-budget on support-bot meets the server's closed form."""
    clock = Clock(MIDNIGHT - 120)
    server = DemoServer(clock=clock, token_lifetime=10 * DAY, epoch=MIDNIGHT - DAY).start()
    access, refresh = server.issue_tokens()
    session = AuthSession(TokenSet(access, refresh, obtained_at=clock.now), source="test")
    client = client_for(Settings(profile="demo-budget", base_url=server.base_url), session)
    feed = Feed()
    try:
        configs = {c.id: c for c in await client.get_llms()}
        while clock.now <= MIDNIGHT + 3900:
            page = await client.get_stats()
            feed.history.record(page.stats, clock.now)
            feed.ledger.record_all(page.stats, clock.now)
            clock.now += 15
    finally:
        await client.aclose()
        server.stop()
    now = clock.now - 15
    book = build_pricebook({"support-bot": "gpt-4o"}, {}, None)
    spec = BudgetSpec("support-bot", "day", usd=Decimal(400))
    (status,) = evaluate(
        [spec], configs=configs, ledger=feed.ledger, pricebook=book, history=feed.history, now=now
    )
    assert status.members == 1 and status.unpriced == 0 and status.exact
    ident, sim = next((i, s) for i, s in server.sims if configs[i].name == "support-bot")
    price = book.price_for(ident, "support-bot")
    assert price is not None and price.model == "gpt-4o"
    start = int(MIDNIGHT - server._start)  # the server's seconds at midnight

    def spent(s: int) -> Decimal:
        a, b = sim.counters(start), sim.counters(s)
        return price.cost(b[LLM_IN] - a[LLM_IN], b[LLM_OUT] - a[LLM_OUT])

    elapsed = int(now - server._start)
    assert abs(status.used - spent(elapsed)) <= MONEY.multiply(spent(elapsed), Decimal("0.001"))
    # The true run-out: the first second the spend since midnight reaches $400.
    lo, hi = elapsed, elapsed + 86400
    assert spent(lo) < 400 <= spent(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if spent(mid) >= 400 else (mid, hi)
    truth = server._start + hi
    assert status.runs_out_at is not None
    assert abs(status.runs_out_at - truth) <= 0.05 * (truth - now), (status.runs_out_at, truth)
