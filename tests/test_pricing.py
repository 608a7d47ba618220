"""Prices from the table (offline), overrides, the base-rate rule, exact money."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tui.counters import COUNTERS
from tui.errors import ConfigError
from tui.pricing import (
    LLM_IN,
    LLM_OUT,
    Price,
    build_pricebook,
    cost_of,
    exact_usd,
    format_usd,
    table_info,
    table_price,
)
from tui.settings import resolve

M = 1_000_000

# Published base rates, USD per million tokens (input, output), as the providers list
# them: the golden figures the table must give.
GOLDEN = {
    "gpt-4o": ("openai", "2.5", "10"),
    "claude-sonnet-4-5": ("anthropic", "3", "15"),
    "gemini-2.5-flash": ("google", "0.3", "2.5"),
    "mistral-large-latest": ("mistral", "2", "6"),
    # Standard hours, not the off-peak discount (0.135 / 0.55): see the time-of-day test.
    "deepseek-chat": ("deepseek", "0.27", "1.1"),
    "aws/amazon.nova-pro-v1:0": ("aws", "0.8", "3.2"),
}


def values(llm_in: int, llm_out: int) -> tuple[int | None, ...]:
    v: list[int | None] = [0] * len(COUNTERS)
    v[LLM_IN], v[LLM_OUT] = llm_in, llm_out
    return tuple(v)


@pytest.mark.parametrize("model", list(GOLDEN))
def test_models_across_providers_are_priced_from_the_table(model: str) -> None:
    provider, rin, rout = GOLDEN[model]
    price = table_price(model)
    assert price is not None
    assert price.provider == provider
    assert (price.input, price.output) == (Decimal(rin), Decimal(rout))
    # 1.5M in and 0.25M out, by hand: 1.5 * in + 0.25 * out.
    expected = Decimal("1.5") * Decimal(rin) + Decimal("0.25") * Decimal(rout)
    assert price.cost(1_500_000, 250_000) == expected


def test_a_cumulative_total_is_priced_at_base_rates_not_the_long_context_tier() -> None:
    from genai_prices import Usage, calc_price

    total = Usage(input_tokens=M, output_tokens=0)
    # The library prices one 1M-token *request* at the >200k tier ($6/M) ...
    assert calc_price(total, "claude-sonnet-4-5").total_price == Decimal(6)
    # ... but 1M tokens over many requests cost the base rate: $3.
    price = table_price("claude-sonnet-4-5")
    assert price is not None
    assert price.cost(M, 0) == Decimal(3)
    assert cost_of(price, values(M, M)) == Decimal(18)


def test_prices_do_not_depend_on_the_hour() -> None:
    from datetime import UTC, datetime

    at = [table_price("deepseek-chat", datetime(2026, 11, 27, h, tzinfo=UTC)) for h in (2, 10, 20)]
    assert at[0] == at[1] == at[2]
    assert at[0] is not None and at[0].input == Decimal("0.27")


def test_money_for_people_at_forty_digits_and_beyond_never_raises() -> None:
    big = 10**40 - 1
    price = Price("m", Decimal("2.5"), Decimal("10"), "config")
    shown = format_usd(price.cost(big, big))
    assert shown == "$125,000,000,000,000,000,000,000,000,000,000,000"  # whole dollars
    assert len(format_usd(price.cost(big, big), 8)) <= 8
    absurd = Price("m", Decimal("1e300"), Decimal(1), "config").cost(big, 0)
    assert format_usd(absurd).startswith("$") and len(format_usd(absurd, 10)) <= 10


def test_money_is_exact_at_forty_digits() -> None:
    big = 10**40 - 1  # forty nines
    price = Price("m", Decimal("2.5"), Decimal("10"), "config")
    cost = price.cost(big, big)
    assert isinstance(cost, Decimal)
    assert cost * M == Decimal(big) * Decimal("12.5")  # nothing rounded away
    assert exact_usd(cost) == "124999999999999999999999999999999999.9999875"
    # A float would have kept 17 digits.
    assert len(exact_usd(cost) or "") > 40


def test_override_prices_a_model_the_table_lacks_and_wins_over_the_table() -> None:
    book = build_pricebook(
        {"ft-*": "our-finetune", "chat": "gpt-4o"},
        {"our-finetune": (Decimal(2), Decimal(8)), "gpt-4o": (Decimal(1), Decimal(1))},
        None,
    )
    ft = book.price_for("id-1", "ft-legal")
    assert ft is not None and ft.source == "config"
    assert ft.cost(M, M) == Decimal(10)
    chat = book.price_for("id-2", "chat")
    assert chat is not None and chat.cost(M, M) == Decimal(2)  # the override, not $12.50


def test_unknown_model_is_an_error_naming_the_model_and_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        build_pricebook({"*": "gpt-17-ultra"}, {}, tmp_path / "config.toml")
    assert "gpt-17-ultra" in err.value.message
    assert str(tmp_path / "config.toml") in err.value.message


def test_an_unmapped_configuration_has_no_price_not_zero() -> None:
    book = build_pricebook({"support-*": "gpt-4o"}, {}, None)
    assert book.model_for("id-9", "sandbox") is None
    assert book.price_for("id-9", "sandbox") is None
    assert cost_of(None, values(M, M)) is None
    assert format_usd(None) == "n/a"


def test_an_exact_id_wins_over_globs_and_globs_go_in_file_order() -> None:
    ident = "550e8400-e29b-41d4-a716-446655440000"
    book = build_pricebook(
        {"support-*": "gpt-4o", "*": "gpt-4o-mini", ident: "claude-sonnet-4-5"}, {}, None
    )
    assert book.model_for(ident, "support-bot") == "claude-sonnet-4-5"
    assert book.model_for("x", "Support-Bot") == "gpt-4o"  # case-insensitive
    assert book.model_for("y", "other") == "gpt-4o-mini"


def test_unknown_value_has_no_cost() -> None:
    price = Price("m", Decimal(1), Decimal(1), "config")
    v = list(values(5, 5))
    v[LLM_OUT] = None
    assert cost_of(price, tuple(v)) is None


@pytest.mark.parametrize(
    ("amount", "width", "shown"),
    [
        ("0", None, "$0"),
        ("0.004", None, "<$0.01"),
        ("0.42", None, "$0.42"),
        ("12.5", None, "$12.50"),
        ("1234.5", None, "$1,234"),
        ("98765432.1", 7, "$98.8M"),
        ("98765432.1", None, "$98,765,432"),
    ],
)
def test_money_for_people(amount: str, width: int | None, shown: str) -> None:
    assert format_usd(Decimal(amount), width) == shown
    if width is not None:
        assert len(shown) <= width


def test_the_table_names_its_version_and_date() -> None:
    info = table_info()
    assert info.version
    assert info.checked is not None and info.checked.startswith("20")
    assert info.version in info.describe() and info.checked in info.describe()


def test_prices_and_models_in_the_config_file_are_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"

    def load(text: str) -> object:
        cfg.write_text(text)
        return resolve({"profile": "p"}, env={}, config_path=cfg)

    s = load(
        '[profiles.p.models]\n"a-*" = "gpt-4o"\n'
        '[profiles.p.prices."ft"]\ninput = 2.0\noutput = 8.1\n'
    )
    assert s.models == {"a-*": "gpt-4o"}  # type: ignore[attr-defined]
    # 8.1 read from TOML as a float becomes Decimal("8.1"), not 8.0999999...
    assert s.prices == {"ft": (Decimal("2.0"), Decimal("8.1"))}  # type: ignore[attr-defined]
    for bad, words in (
        ('[profiles.p.prices."ft"]\ninput = 2.0\n', "needs 'output'"),
        ('[profiles.p.prices."ft"]\ninput = -1\noutput = 1\n', "must be a number >= 0"),
        ('[profiles.p.prices."ft"]\ninput = 1\noutput = 1\ncached = 1\n', "unknown key"),
        ('[profiles.p.models]\n"a" = 3\n', "must be a model name"),
    ):
        with pytest.raises(ConfigError) as err:
            load(bad)
        assert words in err.value.message and str(cfg) in err.value.message


def test_the_price_table_is_not_imported_without_models() -> None:
    code = (
        "import sys\n"
        "from tui.pricing import build_pricebook\n"
        "import tui.cli, tui.monitor, tui.view\n"
        "assert not build_pricebook({}, {}, None).enabled\n"
        "print('genai_prices' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
