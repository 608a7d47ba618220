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
#: One configuration's part of the sums: its price, LLM tokens in and out per minute,
#: LLM tokens in and out today, and whether today was counted from after midnight.
_Entry = tuple[Price, float | None, float | None, int | None, int | None, bool]


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
        #: id -> its price, kept while the names are the same object (fetched anew
        #: every 10 minutes): most asks are for the same configurations every poll.
        self._prices: dict[str, Price | None] = {}
        self._prices_of: object = None
        #: id -> its part of the sums (see :meth:`refresh`), for which moment, day and
        #: names; and when each configuration last changed (recent ones only).
        self._entries: dict[str, _Entry | None] = {}
        self._entries_day: tuple[float, float] | None = None
        self._entries_names: object = None
        self._moved: dict[str, float] = {}
        #: Prices blended from the model mix the server reports (/aistats), for the
        #: configurations the profile maps no model to: the profile's mapping wins.
        self.mix: dict[str, Price] = {}

    @property
    def enabled(self) -> bool:
        """The profile names models, or the server's model mix prices some: the faces
        show cost."""
        return self.pricebook.enabled or bool(self.mix)

    def set_mix(self, mix: Mapping[str, Price]) -> None:
        """Blended prices for unmapped configurations; everything is priced anew."""
        self.mix = dict(mix)
        self._prices, self._prices_of = {}, None
        self._entries_names = None
        self._rates = {}

    def new_poll(self) -> None:
        """Forget the last poll's rates."""
        self._rates = {}

    def _name(self, ai_llm_id: str) -> str:
        cfg = self._names().get(ai_llm_id)
        return cfg.name if cfg and cfg.name else ai_llm_id

    def price(self, ai_llm_id: str) -> Price | None:
        names = self._names()
        if names is not self._prices_of:
            self._prices, self._prices_of = {}, names
        prices = self._prices
        if ai_llm_id in prices:
            return prices[ai_llm_id]
        price = self.pricebook.price_for(ai_llm_id, self._name(ai_llm_id))
        if price is None:
            price = self.mix.get(ai_llm_id)
        prices[ai_llm_id] = price
        return price

    def _entry(self, ident: str, now: float) -> _Entry | None:
        """One configuration's part of the sums (None: unpriced)."""
        price = self.price(ident)
        if price is None:
            return None
        series = self._history().get(ident)
        rin = series.span_rate(LLM_IN, RATE_WINDOW) if series is not None else None
        rout = series.span_rate(LLM_OUT, RATE_WINDOW) if series is not None else None
        usage = self.ledger.usage(ident, "day", now)
        return (
            price,
            rin,
            rout,
            None if usage is None else usage.tokens_in,
            None if usage is None else usage.tokens_out,
            usage is not None and not usage.exact,
        )

    def refresh(self, ids: Iterable[str], changed: Iterable[str], now: float) -> None:
        """After a poll: bring each configuration's part of the sums up to date, working
        out again only what can have moved: the configurations this poll changed and
        those that changed within two rate windows (their $/h is falling to 0). Names
        (prices) or a new day bring everything up to date."""
        day = self.ledger.bounds("day", now)
        names = self._names()
        everything = day != self._entries_day or names is not self._entries_names
        self._entries_day, self._entries_names = day, names
        moved = self._moved
        for ident in changed:
            moved[ident] = now
        keep = 2 * RATE_WINDOW
        for ident in [i for i, t in moved.items() if now - t > keep]:
            del moved[ident]
        entries = self._entries
        wanted = list(ids)
        if everything or len(entries) != len(wanted) or any(i not in entries for i in wanted):
            self._entries = entries = {i: self._entry(i, now) for i in wanted}
        else:
            for ident in moved:
                if ident in entries:
                    entries[ident] = self._entry(ident, now)

    def sums(self, ids: Iterable[str], now: float) -> tuple[Decimal, Decimal, bool, bool]:
        """USD per hour and USD today over ``ids``; whether some are unpriced or unknown,
        and whether some of today was counted from after midnight.

        Money is linear in tokens: tokens and rates are summed per price first and
        each price applied once (a poll sums 10,000 configurations). Each
        configuration's part comes from the last :meth:`refresh` (samples and the
        ledger change only with a poll); one it does not know is worked out now."""
        entries = self._entries
        # Keyed by the price object's id: hashing a frozen dataclass of Decimals per
        # row would cost more than the rest of the sum.
        tokens: dict[int, list[int]] = {}
        rates: dict[int, list[float]] = {}
        priced: dict[int, Price] = {}
        partial = approx = False
        for ident in ids:
            entry = entries[ident] if ident in entries else self._entry(ident, now)
            if entry is None:
                partial = True
                continue
            price, rin, rout, tin, tout, late = entry
            key = id(price)
            priced[key] = price
            if rin is None or rout is None or tin is None or tout is None:
                partial = True
            if rin is not None and rout is not None:
                r = rates.get(key)
                if r is None:
                    rates[key] = [rin, rout]
                else:
                    r[0] += rin
                    r[1] += rout
            if tin is not None and tout is not None:
                approx = approx or late
                t = tokens.get(key)
                if t is None:
                    tokens[key] = [tin, tout]
                else:
                    t[0] += tin
                    t[1] += tout
        rate_usd = today_usd = Decimal(0)
        for key, (rin_sum, rout_sum) in rates.items():
            cost = priced[key].cost_rate(rin_sum, rout_sum)
            rate_usd = MONEY.add(rate_usd, cost or Decimal(0))
        for key, (tin_sum, tout_sum) in tokens.items():
            today_usd = MONEY.add(today_usd, priced[key].cost(tin_sum, tout_sum))
        return rate_usd, today_usd, partial, approx

    def model(self, ai_llm_id: str) -> str | None:
        """The profile's model, else the server's mix ("mix: gpt-4o 60 %, ...")."""
        mapped = self.pricebook.model_for(ai_llm_id, self._name(ai_llm_id))
        if mapped is None and ai_llm_id in self.mix:
            return self.mix[ai_llm_id].model
        return mapped

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
            # From the window's ends (O(1)): every row's $/h is summed in the totals
            # each poll, 10,000 of them on a big organization.
            value = price.cost_rate(
                series.span_rate(LLM_IN, RATE_WINDOW), series.span_rate(LLM_OUT, RATE_WINDOW)
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
