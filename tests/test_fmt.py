"""Compact and exact figures: they fit their cells and never show a wrong magnitude."""

from __future__ import annotations

import itertools
import random
import re
from fractions import Fraction

import pytest

from tui.counters import REGISTRY
from tui.fmt import COMPACT_WIDTH, compact, exact, rate, wrap_number

_SCALE = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_FORM = re.compile(r"(-?)(\d+)(?:\.(\d))?(?:([kMGTPE])|e(\d+))?")


def parse(text: str) -> tuple[Fraction, Fraction]:
    """A compact figure as (value, half a unit of its last shown digit)."""
    m = _FORM.fullmatch(text)
    assert m, f"not a compact figure: {text!r}"
    sign, whole, tenth, suffix, exp = m.groups()
    unit = Fraction(10 ** int(exp)) if exp is not None else Fraction(_SCALE[suffix or ""])
    digits = Fraction(int(whole)) + (Fraction(int(tenth), 10) if tenth else 0)
    step = unit / 10 if tenth else unit
    value = digits * unit
    return (-value if sign else value), step / 2


def samples() -> list[int]:
    """Every value to 20,000, each power of ten's neighbourhood and random sizes to 10**40."""
    rng = random.Random(13)
    values = set(range(20_001))
    for e in range(41):
        for lead in (1, 2, 5, 9, 10):
            base = lead * 10**e
            values.update(base + d for d in (-2, -1, 0, 1, 2) if base + d >= 0)
        # rounding edges: 9.95, 99.95, 999.5 of every unit
        for edge in (995, 9_995, 99_950, 999_500, 999_950):
            base = edge * 10**e // 1000
            values.update(v for v in (base - 1, base, base + 1) if v >= 0)
    values.update(rng.randrange(10 ** rng.randrange(1, 41)) for _ in range(20_000))
    values.update((10**40, int("1234567890123456789012345678901234567890")))
    return sorted(values)


SAMPLES = samples()


@pytest.mark.parametrize("width", [4, 5, 6, 7])
def test_compact_fits_its_width_and_reads_back_within_its_precision(width: int) -> None:
    for v in SAMPLES:
        text = compact(v, width)
        assert len(text) <= width, (v, width, text)
        shown, half_step = parse(text)
        assert abs(shown - v) <= half_step, (v, width, text)


@pytest.mark.parametrize("width", [5, 6, 7])
def test_negative_figures_fit_too(width: int) -> None:
    for v in SAMPLES[::7]:
        text = compact(-v, width)
        assert len(text) <= width, (-v, width, text)
        shown, half_step = parse(text)
        assert abs(shown + v) <= half_step, (-v, width, text)


@pytest.mark.parametrize(
    ("value", "width", "text"),
    [
        (0, 4, "0"),
        (999, 4, "999"),
        (1_234, 4, "1.2k"),
        (9_949, 4, "9.9k"),
        (9_999, 4, "10k"),
        (9_999, 6, "10.0k"),
        (12_345, 4, "12k"),
        (12_345, 6, "12.3k"),
        (30_000, 4, "30k"),
        (99_949, 6, "99.9k"),
        (99_950, 6, "100k"),
        (99_999, 4, "100k"),
        (999_499, 4, "999k"),
        (999_500, 4, "1.0M"),
        (999_950, 4, "1.0M"),
        (999_999, 6, "1.0M"),
        (45_678, COMPACT_WIDTH, "45.7k"),
        (1_234_567, COMPACT_WIDTH, "1.2M"),
        (10**40, 4, "1e40"),
        (10**40, 6, "1.0e40"),
        (int("1234567890123456789012345678901234567890"), 6, "1.2e39"),
        (int("1250000000000000000000000000000000000000"), 6, "1.3e39"),  # half up
    ],
)
def test_compact_boundaries(value: int, width: int, text: str) -> None:
    assert compact(value, width) == text


def test_the_default_width_is_the_widest_compact_form() -> None:
    assert all(compact(v) == compact(v, COMPACT_WIDTH) for v in SAMPLES[::101])
    assert compact(None) == "?"
    assert compact(45_678.4) == "45.7k"
    assert compact(float("nan")) == "?"


def test_every_counter_column_fits_any_value_to_10_to_the_40() -> None:
    for counter in REGISTRY:
        assert all(len(compact(v, counter.width)) <= counter.width for v in SAMPLES[::13])


def test_rates_fit_the_tok_min_column() -> None:
    # TOK/MIN is 7 wide and shows rate(value, ""): never more than the compact width.
    for v in SAMPLES[::11]:
        for f in (float(v), v + 0.5, -float(v)):
            text = rate(f, "")
            assert len(text) <= COMPACT_WIDTH < 7, (f, text)
            shown, half_step = parse(text)
            assert abs(shown - Fraction(round(f))) <= half_step + 1, (f, text)
    assert rate(1234.0) == "1.2k/m"
    assert rate(None) == "-"


@pytest.mark.parametrize("width", [4, 5, 8, 13, 35, 60])
def test_wrap_number_breaks_only_after_a_thousands_separator(width: int) -> None:
    for v in SAMPLES[::97]:
        for text in (exact(v), f"{v:+,}", f"{-v:+,}"):
            lines = wrap_number(text, width)
            assert "".join(lines) == text
            widest_group = max(len(g) for g in wrap_number(text, 1))  # "+130," is 5
            assert all(len(line) <= max(width, widest_group) for line in lines), lines
            assert all(line.endswith(",") for line in lines[:-1]), lines
            # greedy: the next group would not have fit on the line before
            for a, b in itertools.pairwise(lines):
                assert len(a) + len(b.split(",")[0]) + 1 > width


def test_wrap_number_keeps_a_group_whole_when_the_width_is_too_small() -> None:
    assert wrap_number("1,234", 2) == ["1,", "234"]
    assert wrap_number("?", 1) == ["?"]
    assert wrap_number("-", 5) == ["-"]
