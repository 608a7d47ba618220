"""What tokens cost: a profile's models priced from a maintained table, offline.

Which model a configuration calls comes from the profile (``/ai/llm`` does not say)::

    [profiles.prod.models]            # name glob or aiLlmId -> model name
    "support-*" = "gpt-4o"
    "550e8400-e29b-41d4-a716-446655440000" = "claude-sonnet-4-5"
    "bedrock-*" = "aws/amazon.nova-pro-v1:0"   # provider/model where the name alone is not enough

    [profiles.prod.prices."our-finetune"]   # USD per million tokens
    input = 2.0
    output = 8.0

An exact ``aiLlmId`` key wins; otherwise the first glob (in file order) that matches
the configuration's name, case-insensitively. A ``prices`` entry overrides the table
for that model, or prices one the table lacks.

Prices come from ``genai-prices`` (Pydantic's price database), whose data ships with
the package: no network, and its auto-update is never turned on. It is imported only
when a profile names models, so ``flashtop stats`` without prices stays fast.

The counters priced are the ones the provider bills, ``totalLlmTokensIn`` and
``totalLlmTokensOut``, at the model's **base** per-token rates. They are totals over
many requests: the long-context tiers that ``calc_price`` applies to one large request
(claude-sonnet-4-5 above 200k input tokens) must not be applied to a total.

Money is :class:`~decimal.Decimal`, exact for 40-digit counters; never a float.
Standard library only, besides the lazy import of the price table.
"""

from __future__ import annotations

import decimal
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tui.counters import IDX
from tui.errors import ConfigError
from tui.fmt import compact

LLM_IN = IDX["totalLlmTokensIn"]
LLM_OUT = IDX["totalLlmTokensOut"]
#: Precision of money arithmetic: a 40-digit count times a price with a few decimals,
#: exact with room to spare (Python's default context keeps only 28 digits).
MONEY = decimal.Context(prec=120, rounding=decimal.ROUND_HALF_EVEN)
_MILLION = Decimal(1_000_000)
_DATE = re.compile(r"(?:checked|verified)\D{0,40}?(20\d\d-[01]\d-[0-3]\d)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Price:
    """A model's base rates in USD per million tokens, and where they come from."""

    model: str
    input: Decimal
    output: Decimal
    #: "genai-prices 0.2.3" or "config" (an override in the profile).
    source: str
    #: The provider the table files the model under ("" for an override).
    provider: str = ""

    def cost(self, tokens_in: int, tokens_out: int) -> Decimal:
        """USD for these token counts, exact."""
        return MONEY.divide(
            MONEY.add(
                MONEY.multiply(Decimal(tokens_in), self.input),
                MONEY.multiply(Decimal(tokens_out), self.output),
            ),
            _MILLION,
        )

    def cost_rate(
        self, in_per_minute: float | None, out_per_minute: float | None
    ) -> Decimal | None:
        """USD per hour at these token rates (per minute); None when a rate is unknown."""
        if in_per_minute is None or out_per_minute is None:
            return None
        per_minute = MONEY.add(
            MONEY.multiply(_dec(in_per_minute), self.input),
            MONEY.multiply(_dec(out_per_minute), self.output),
        )
        return MONEY.divide(MONEY.multiply(per_minute, Decimal(60)), _MILLION)


@dataclass(frozen=True, slots=True)
class PeriodCost:
    """What was spent in a period (a day, a month); ``exact`` False when counting
    began after the period did (``since``: when the history starts)."""

    usd: Decimal
    since: float
    exact: bool


def _dec(value: float) -> Decimal:
    # repr of a float is its shortest round-tripping decimal: 1.1 is Decimal("1.1").
    return Decimal(repr(value))


def cost_of(price: Price | None, values: tuple[int | None, ...]) -> Decimal | None:
    """USD of a configuration's LLM token counters; None when unpriced or unknown."""
    if price is None:
        return None
    tin, tout = values[LLM_IN], values[LLM_OUT]
    if tin is None or tout is None:
        return None
    return price.cost(tin, tout)


# ---------------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True)
class TableInfo:
    """What the price table is: package version and the newest date its data was checked."""

    version: str
    checked: str | None

    def describe(self) -> str:
        when = f", checked {self.checked}" if self.checked else ""
        return f"genai-prices {self.version}{when}"


_table_info: TableInfo | None = None


def table_info() -> TableInfo:
    """The bundled price table's version and snapshot date (imports the table)."""
    global _table_info
    if _table_info is None:
        from importlib.metadata import version

        from genai_prices import data  # the bundled snapshot; no network

        newest: str | None = None
        for provider in data.providers:
            for model in provider.models:
                for text in (model.price_comments or "", provider.price_comments or ""):
                    for found in _DATE.findall(text):
                        if newest is None or found > newest:
                            newest = found
        _table_info = TableInfo(version("genai-prices"), newest)
    return _table_info


def table_price(model: str, when: datetime | None = None) -> Price | None:
    """The table's base rates of ``model`` (None when the table does not know it)."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    # "gpt-4o" (the table finds its provider), or "aws/amazon.nova-pro-v1:0" when the
    # model's name alone does not say (Bedrock, Azure, OpenRouter ...).
    attempts: list[tuple[str, str | None]] = [(model, None)]
    if "/" in model:
        named, _, rest = model.partition("/")
        attempts.append((rest, named))
    for ref, provider_id in attempts:
        try:
            provider, info = snapshot.find_provider_model(ref, None, provider_id, None)
            break
        except LookupError:
            continue
    else:
        return None
    prices = _standing_prices(info, when or datetime.now(UTC))
    rin = _base(getattr(prices, "input_mtok", None))
    rout = _base(getattr(prices, "output_mtok", None))
    if rin is None and rout is None:
        return None  # priced per request or per second: not by tokens
    return Price(
        model=info.id,
        input=rin or Decimal(0),
        output=rout or Decimal(0),
        source=f"genai-prices {table_info().version}",
        provider=str(provider.id),
    )


def _standing_prices(info: Any, when: datetime) -> Any:
    """The model's prices in force at ``when``, whatever the hour: a total of many
    requests spread over the day is priced at the standard rate, not at a time-of-day
    discount (DeepSeek's off-peak hours), so a budget errs on the safe side and the
    figure does not depend on when flashtop started."""
    conditional = info.prices
    if not isinstance(conditional, list):
        return conditional
    standing = conditional[0].prices
    for entry in reversed(conditional):  # the table's rule: the last active one wins
        constraint = entry.constraint
        if constraint is None or (hasattr(constraint, "start_date") and constraint.active(when)):
            standing = entry.prices  # always valid, or a price change that took effect
            break
    hourly = [e.prices for e in conditional if hasattr(e.constraint, "start_time")]
    return max([standing, *hourly], key=lambda p: _base(getattr(p, "input_mtok", None)) or 0)


def _base(value: Any) -> Decimal | None:
    """A price's base rate: tiers start above a request size, never for totals."""
    if value is None:
        return None
    base = getattr(value, "base", value)  # TieredPrices -> its base
    return base if isinstance(base, Decimal) else Decimal(str(base))


# ---------------------------------------------------------------------- a profile's prices


@dataclass(slots=True)
class PriceBook:
    """A profile's models and prices: which price each configuration is charged at."""

    #: Key (aiLlmId or name glob) -> model name, in file order.
    models: Mapping[str, str]
    #: Model name -> its price (table or override), for every model ``models`` names.
    prices: Mapping[str, Price]
    #: The table's description, or None when no model came from the table.
    table: TableInfo | None = None
    _memo: dict[tuple[str, str], str | None] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.models)

    def model_for(self, ai_llm_id: str, name: str) -> str | None:
        """The model a configuration calls, or None when the profile does not say."""
        key = (ai_llm_id, name)
        if key in self._memo:
            return self._memo[key]
        model = self.models.get(ai_llm_id)
        if model is None:
            folded = name.casefold()
            for pattern, candidate in self.models.items():
                if fnmatch.fnmatchcase(folded, pattern.casefold()):
                    model = candidate
                    break
        if len(self._memo) > 100_000:
            self._memo.clear()
        self._memo[key] = model
        return model

    def price_for(self, ai_llm_id: str, name: str) -> Price | None:
        model = self.model_for(ai_llm_id, name)
        return None if model is None else self.prices.get(model)


EMPTY = PriceBook({}, {})


def build_pricebook(
    models: Mapping[str, str],
    overrides: Mapping[str, tuple[Decimal, Decimal]],
    config_path: Path | None,
    profile: str = "<name>",
) -> PriceBook:
    """Price every model the profile names; a model neither the table nor an override
    knows is a :class:`ConfigError` naming the model and the file."""
    if not models:
        return EMPTY
    where = f" in {config_path}" if config_path else ""
    prices: dict[str, Price] = {}
    table: TableInfo | None = None
    for model in dict.fromkeys(models.values()):
        found = price_of_model(model, overrides)
        if found is None:
            raise ConfigError(
                f"model '{model}'{where} is not in the price table "
                f"(genai-prices {table_info().version}); add "
                f'[profiles.{profile}.prices."{model}"] with input and output USD per '
                "million tokens"
            )
        prices[model] = found
        if found.source != "config":
            table = table_info()
    return PriceBook(dict(models), prices, table)


def model_prices(
    models: Iterable[str], overrides: Mapping[str, tuple[Decimal, Decimal]]
) -> dict[str, Price | None]:
    """Each model's price: the profile's override, else the table's base rates, else
    None (for names the server reports, which the profile need not know)."""
    return {model: price_of_model(model, overrides) for model in models}


def price_of_model(model: str, overrides: Mapping[str, tuple[Decimal, Decimal]]) -> Price | None:
    """The profile's override of ``model``, else the table's base rates, else None."""
    if model in overrides:
        rin, rout = overrides[model]
        return Price(model, rin, rout, "config")
    return table_price(model) if model else None


#: ``Price.source`` of a price blended from the model mix the server reports.
MIX_SOURCE = "the server's model mix"


def blend(usage: Mapping[str, tuple[int, int]], prices: Mapping[str, Price | None]) -> Price | None:
    """One price for a configuration that calls several models: each model's base
    rates weighted by its share of the LLM tokens (``usage``: model -> (in, out) over
    some window), input and output apart. Models without a price are left out (named
    in ``model``); None when no model of the mix has one."""
    priced = {m: u for m, u in usage.items() if prices.get(m) is not None and sum(u) > 0}
    if not priced:
        return None
    tin = sum(u[0] for u in priced.values())
    tout = sum(u[1] for u in priced.values())
    rin = rout = Decimal(0)
    for model, (uin, uout) in priced.items():
        price = prices[model]
        assert price is not None
        if tin:
            rin = MONEY.add(rin, MONEY.divide(MONEY.multiply(Decimal(uin), price.input), tin))
        if tout:
            rout = MONEY.add(rout, MONEY.divide(MONEY.multiply(Decimal(uout), price.output), tout))
    total = sum(sum(u) for u in priced.values())
    parts = sorted(priced.items(), key=lambda kv: -sum(kv[1]))
    described = ", ".join(f"{m} {100 * sum(u) / total:.0f} %" for m, u in parts[:3])
    if len(parts) > 3:
        described += f", {len(parts) - 3} more"
    left_out = [m for m in usage if m not in priced and sum(usage[m]) > 0]
    if left_out:
        described += f" ({len(left_out)} unpriced left out)"
    return Price(f"mix: {described}", rin.normalize(), rout.normalize(), MIX_SOURCE)


def format_usd(value: Decimal | None, width: int | None = None) -> str:
    """Money for a table cell: ``$1,234``, ``$12.50``, ``$0.42``, ``<$0.01``; ``n/a``
    unpriced. Whole dollars from $1,000, cents below; past ``width`` compact (``$1.2M``).
    """
    if value is None:
        return "n/a"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value == 0:
        return "$0"
    if value < Decimal("0.01"):
        return f"{sign}<$0.01"
    if value.adjusted() >= MONEY.prec - 10:  # past any real bill: no cents, compact
        return f"{sign}${compact(int(value), max(1, (width or 14) - 1 - len(sign)))}"
    places = Decimal(1) if value >= 1000 else Decimal("0.01")
    # In the money context: the default one keeps 28 digits, and quantizing a larger
    # amount there raises.
    value = value.quantize(places, rounding=decimal.ROUND_HALF_EVEN, context=MONEY)
    text = f"{sign}${value:,}"
    if width is not None and len(text) > width:
        whole = int(value.to_integral_value(rounding=decimal.ROUND_HALF_EVEN, context=MONEY))
        text = f"{sign}${compact(whole, max(1, width - 1 - len(sign)))}"
    return text


def exact_usd(value: Decimal | None) -> str | None:
    """Money for scripts: the exact decimal string (no exponent), None when unpriced."""
    if value is None:
        return None
    text = format(value.normalize(MONEY), "f")
    return "0" if text in ("-0", "") else text
