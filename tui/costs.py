"""Cost per configuration, for every face: now (USD per hour), today, this month, all time.

:class:`Costs` joins the profile's :class:`~tui.pricing.PriceBook` (which model a
configuration calls, at what price), the in-memory history (windowed LLM token rates)
and the :class:`~tui.ledger.Ledger` (LLM tokens since local midnight and since the
first of the month). Rates are remembered for one poll: sorting, rows and totals of
the same poll ask for each configuration once. No UI toolkit here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from tui.history import History
from tui.ledger import Ledger
from tui.models import LlmConfig
from tui.pricing import EMPTY, LLM_IN, LLM_OUT, MONEY, PeriodCost, Price, PriceBook, cost_of

#: The window of the ``$/H`` figure: the same minute as TOK/MIN.
RATE_WINDOW = 60.0


class Costs:
    """Prices, rates and period spend of the configurations one monitor watches."""

    def __init__(
        self,
        pricebook: PriceBook,
        history: Callable[[], History],
        names: Callable[[], Mapping[str, LlmConfig]],
        ledger: Ledger,
    ) -> None:
        self.pricebook = pricebook
        self._history = history
        self._names = names
        self.ledger = ledger
        self._rates: dict[str, Decimal | None] = {}

    @property
    def enabled(self) -> bool:
        """The profile names models: the faces show cost."""
        return self.pricebook.enabled

    def new_poll(self) -> None:
        """Forget the last poll's rates."""
        self._rates = {}

    def _name(self, ai_llm_id: str) -> str:
        cfg = self._names().get(ai_llm_id)
        return cfg.name if cfg and cfg.name else ai_llm_id

    def price(self, ai_llm_id: str) -> Price | None:
        return self.pricebook.price_for(ai_llm_id, self._name(ai_llm_id))

    def model(self, ai_llm_id: str) -> str | None:
        return self.pricebook.model_for(ai_llm_id, self._name(ai_llm_id))

    def all_time(self, ai_llm_id: str, values: tuple[int | None, ...]) -> Decimal | None:
        """USD of the configuration's LLM token totals (all time, as the server counts)."""
        return cost_of(self.price(ai_llm_id), values)

    def rate(self, ai_llm_id: str) -> Decimal | None:
        """USD per hour at the last minute's LLM token rates; None when unpriced or unknown."""
        memo = self._rates
        if ai_llm_id in memo:
            return memo[ai_llm_id]
        price = self.price(ai_llm_id)
        series = self._history().get(ai_llm_id) if price is not None else None
        value = None
        if price is not None and series is not None:
            value = price.cost_rate(
                series.rate_per_minute((LLM_IN,), RATE_WINDOW),
                series.rate_per_minute((LLM_OUT,), RATE_WINDOW),
            )
        memo[ai_llm_id] = value
        return value

    def period(self, ai_llm_id: str, kind: str, now: float) -> PeriodCost | None:
        """USD spent since the start of the local ``kind`` ("day" or "month")."""
        price = self.price(ai_llm_id)
        if price is None:
            return None
        usage = self.ledger.usage(ai_llm_id, kind, now)
        if usage is None:
            return None
        return PeriodCost(price.cost(usage.tokens_in, usage.tokens_out), usage.since, usage.exact)

    def today(self, ai_llm_id: str, now: float) -> PeriodCost | None:
        return self.period(ai_llm_id, "day", now)

    def unpriced(self, ids: Iterable[str]) -> int:
        """How many of ``ids`` have no price (no model in the profile)."""
        return sum(1 for ident in ids if self.price(ident) is None)


def usd_sum(values: Iterable[Decimal | None]) -> tuple[Decimal, bool]:
    """The sum of the known amounts, and whether any was unknown."""
    total = Decimal(0)
    partial = False
    for value in values:
        if value is None:
            partial = True
        else:
            total = MONEY.add(total, value)
    return total, partial


def no_costs(history: Callable[[], History], names: Callable[[], Mapping[str, LlmConfig]]) -> Costs:
    """Costs of a profile without models: nothing is priced."""
    return Costs(EMPTY, history, names, Ledger())
