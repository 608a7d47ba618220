"""Budgets in the config file: every mistake is a one-line error naming key and file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tui.errors import ConfigError
from tui.settings import resolve


def load(cfg: Path, text: str) -> object:
    cfg.write_text(text)
    return resolve({"profile": "p"}, env={}, config_path=cfg)


def test_a_budget_is_read_with_its_defaults(tmp_path: Path) -> None:
    s = load(
        tmp_path / "c.toml",
        "[[profiles.p.budgets]]\nusd = 100\n[[profiles.p.budgets]]\n"
        'match = "support-*"\nperiod = "month"\ntokens = 50_000_000\nname = "support"\n',
    )
    first, second = s.budgets  # type: ignore[attr-defined]
    assert (first.match, first.period, first.usd, first.tokens) == ("*", "day", Decimal(100), None)
    assert first.label == "all / day"
    assert (second.tokens, second.label) == (50_000_000, "support")


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("usd = 0", "must be a positive number"),
        ("usd = -5", "must be a positive number"),
        ("tokens = 1.5", "must be a positive whole number"),
        ('period = "week"\nusd = 1', 'must be "day" or "month"'),
        ("period = [1]\nusd = 1", 'must be "day" or "month"'),
        ("match = 3\nusd = 1", "must be a glob"),
        ("usd = 1\ntokens = 5", "exactly one of 'usd' and 'tokens'"),
        ('name = "x"', "exactly one of 'usd' and 'tokens'"),
        ("usd = 1\ncurrency = 'EUR'", "unknown key"),
    ],
)
def test_bad_budgets_are_refused_naming_key_and_file(
    tmp_path: Path, entry: str, words: str
) -> None:
    cfg = tmp_path / "c.toml"
    with pytest.raises(ConfigError) as err:
        load(cfg, f"[[profiles.p.budgets]]\n{entry}\n")
    assert words in err.value.message
    assert str(cfg) in err.value.message and "budgets[1]" in err.value.message


@pytest.mark.parametrize(
    "text", ["[profiles.p]\nbudgets = [5]\n", "[profiles.p.budgets]\nusd = 1\n"]
)
def test_budgets_must_be_a_list_of_tables(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path / "c.toml", text)
    assert "budgets" in err.value.message
