"""Token rates per clock-aligned time bucket (the overview's sparklines, issue 13).

``reference`` is the plain definition: for every bucket, every pair of consecutive
samples, the share of the pair's growth that falls inside the bucket, in exact
fractions. :meth:`tui.history.Series.bucket_rates` reads the packed ring newest first
and must agree with it, whatever the spacing of the samples (two pollers merged, a
poll 0.3 s after another), across resets, gaps, unknown and 40-digit values, and a
ring that has wrapped.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui import history as history_module
from tui.counters import TOKENS_IN, TOKENS_OUT
from tui.history import Sample, Series, delta
from tui.models import COUNTERS
from tui.view import TREND_POINTS, trend_points

N = len(COUNTERS)
PAIR = (TOKENS_IN, TOKENS_OUT)
HUGE = 1234567890123456789012345678901234567890  # 40 digits


def values(tin: int | None = 0, tout: int | None = 0) -> tuple[int | None, ...]:
    v: list[int | None] = [0] * N
    v[TOKENS_IN], v[TOKENS_OUT] = tin, tout
    return tuple(v)


def series_of(points: list[tuple[float, tuple[int | None, ...]]], maxlen: int = 720) -> Series:
    series = Series(maxlen)
    for at, vals in points:
        series.add(Sample(at, vals))
    return series


def held(points: list[tuple[float, tuple[int | None, ...]]], maxlen: int) -> list[Sample]:
    """The samples a series keeps: in time order (later duplicates dropped), the last few."""
    out: list[Sample] = []
    for at, vals in points:
        if not out or at > out[-1].at:
            out.append(Sample(at, vals))
    return out[-maxlen:]


def reference(
    samples: list[Sample],
    indices: tuple[int, ...],
    end: float,
    width: float,
    count: int,
    max_gap: float,
) -> list[float | None]:
    """The definition, walked bucket by bucket in exact fractions."""
    out: list[float | None] = []
    for m in range(count):
        lo = Fraction(end) - Fraction(width) * (count - m)
        hi = lo + Fraction(width)
        growth = Fraction(0)
        covered = Fraction(0)
        for a, b in itertools.pairwise(samples):
            span = Fraction(b.at) - Fraction(a.at)
            parts = [delta(a.values[i], b.values[i]) for i in indices]
            if span > Fraction(max_gap) or None in parts:
                continue
            inside = min(hi, Fraction(b.at)) - max(lo, Fraction(a.at))
            if inside > 0:
                covered += inside
                growth += sum(p for p in parts if p is not None) * inside / span
        if covered * 2 < Fraction(width):
            out.append(None)
        else:
            out.append(float(growth * 60 / covered))
    return out


def same(got: list[float | None], want: list[float | None]) -> bool:
    return len(got) == len(want) and all(
        (g is None and w is None)
        or (g is not None and w is not None and math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-6))
        for g, w in zip(got, want, strict=True)
    )


# ---------------------------------------------------------------------------- examples


def test_two_pollers_merged_give_the_steady_rate_in_every_bucket() -> None:
    # 10 tokens a second; the overview polls every 5 s, a drill-down every 2 s from 1 s.
    times = sorted({*range(0, 61, 5), *range(1, 61, 2)})
    series = series_of([(float(t), values(10 * t, 0)) for t in times])
    assert series.bucket_rates(PAIR, end=60.0, width=5.0, count=12, max_gap=15.0) == [600.0] * 12


def test_a_counter_moving_in_steps_does_not_dip_to_zero_after_a_quick_poll() -> None:
    # +50 exactly at every 5 s edge; a poll 0.3 s after each one sees nothing new.
    points: list[tuple[float, tuple[int | None, ...]]] = []
    for k in range(13):
        points.append((5.0 * k, values(50 * k)))
        points.append((5.0 * k + 0.3, values(50 * k)))
    series = series_of(points)
    per_interval = series.interval_rates(PAIR, 20)
    assert 0 in per_interval and max(v for v in per_interval if v is not None) > 600
    assert series.bucket_rates(PAIR, end=60.0, width=5.0, count=12, max_gap=15.0) == [600.0] * 12


def test_a_bucket_edge_between_two_samples_shares_the_growth_by_time() -> None:
    series = series_of([(0.0, values(0)), (10.0, values(100)), (12.0, values(100))])
    got = series.bucket_rates(PAIR, end=15.0, width=5.0, count=3, max_gap=15.0)
    # 100 over 0..10 s: half in each bucket; the last is covered 2 s of 5 -> None.
    assert got == [600.0, 600.0, None]
    series = series_of([(3.0, values(0)), (8.0, values(50)), (13.0, values(50))])
    got = series.bucket_rates(PAIR, end=15.0, width=5.0, count=3, max_gap=15.0)
    assert got == [None, pytest.approx(600.0 * 3 / 5), pytest.approx(0.0)]


def test_a_reset_counts_the_new_value_as_the_growth_of_its_interval() -> None:
    series = series_of([(0.0, values(1000)), (5.0, values(1100)), (10.0, values(40))])
    got = series.bucket_rates(PAIR, end=10.0, width=5.0, count=2, max_gap=15.0)
    assert got == [1200.0, 480.0]
    # Spread over the interval it happened in, when that spans an edge.
    series = series_of([(0.0, values(1000)), (10.0, values(100))])
    assert series.bucket_rates(PAIR, end=10.0, width=5.0, count=2, max_gap=15.0) == [600.0] * 2


def test_a_gap_draws_as_none_never_zero_or_a_spike() -> None:
    points = [(5.0 * k, values(50 * k)) for k in range(4)]  # 0..15 s at 600/min
    points += [(315.0 + 5.0 * k, values(3000 + 50 * k)) for k in range(4)]  # after 5 min
    series = series_of(points)
    got = series.bucket_rates(PAIR, end=330.0, width=5.0, count=66, max_gap=15.0)
    assert got[:3] == [600.0] * 3
    assert got[3:63] == [None] * 60  # the 300 s without polls
    assert got[63:] == [600.0] * 3


def test_late_polls_within_max_gap_are_interpolated() -> None:
    series = series_of([(0.0, values(0)), (15.0, values(150)), (20.0, values(200))])
    got = series.bucket_rates(PAIR, end=20.0, width=5.0, count=4, max_gap=15.0)
    assert got == [600.0] * 4
    got = series.bucket_rates(PAIR, end=20.0, width=5.0, count=4, max_gap=10.0)
    assert got == [None, None, None, 600.0]


def test_an_unknown_value_is_a_gap_and_a_half_covered_bucket_still_counts() -> None:
    points = [(0.0, values(0)), (5.0, values(50)), (7.5, values(None)), (10.0, values(100))]
    points += [(12.5, values(125)), (15.0, values(150))]
    series = series_of(points)
    got = series.bucket_rates(PAIR, end=15.0, width=5.0, count=3, max_gap=15.0)
    # 5..7.5 and 7.5..10 touch the unknown value: bucket 5..10 is not covered at all.
    assert got == [600.0, None, 600.0]
    # Only the counters asked for matter.
    points[2] = (7.5, values(75, None))
    series = series_of(points)
    got = series.bucket_rates((TOKENS_IN,), end=15.0, width=5.0, count=3, max_gap=15.0)
    assert got == [600.0] * 3
    got = series.bucket_rates(PAIR, end=15.0, width=5.0, count=3, max_gap=15.0)
    assert got == [600.0, None, 600.0]
    # Covered exactly half: a point; less than half: None.
    series = series_of([(0.0, values(0)), (2.5, values(25))])
    assert series.bucket_rates(PAIR, end=5.0, width=5.0, count=1, max_gap=15.0) == [600.0]
    series = series_of([(0.0, values(0)), (2.4, values(24))])
    assert series.bucket_rates(PAIR, end=5.0, width=5.0, count=1, max_gap=15.0) == [None]


def test_forty_digit_counters_keep_their_magnitude() -> None:
    step = 10**30  # per 5 s
    points = [(5.0 * k, values(HUGE + k * step, HUGE * 3 + k * step)) for k in range(6)]
    series = series_of(points)
    got = series.bucket_rates(PAIR, end=25.0, width=5.0, count=5, max_gap=15.0)
    assert got == [pytest.approx(2 * step * 12, rel=1e-12)] * 5
    # Across 2**64: packed samples before, side-table samples after.
    near = 2**64 - 100
    points = [(5.0 * k, values(near + 50 * k, 7)) for k in range(6)]
    got = series_of(points).bucket_rates(PAIR, end=25.0, width=5.0, count=5, max_gap=15.0)
    assert got == [600.0] * 5
    # A 40-digit reset: the new value is the growth.
    series = series_of([(0.0, values(HUGE)), (5.0, values(HUGE // 7))])
    got = series.bucket_rates(PAIR, end=5.0, width=5.0, count=1, max_gap=15.0)
    assert got == [pytest.approx(HUGE // 7 * 12, rel=1e-12)]


def test_a_series_shorter_than_the_window_is_none_before_its_start() -> None:
    assert Series().bucket_rates(PAIR, end=60.0, width=5.0, count=3, max_gap=15.0) == [None] * 3
    one = series_of([(50.0, values(5))])
    assert one.bucket_rates(PAIR, end=60.0, width=5.0, count=3, max_gap=15.0) == [None] * 3
    short = series_of([(50.0, values(0)), (55.0, values(50)), (60.0, values(100))])
    got = short.bucket_rates(PAIR, end=60.0, width=5.0, count=12, max_gap=15.0)
    assert got == [None] * 10 + [600.0, 600.0]
    assert short.bucket_rates(PAIR, end=60.0, width=5.0, count=0, max_gap=15.0) == []


def test_only_the_samples_overlapping_the_window_are_unpacked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    series = series_of([(5.0 * k, values(50 * k)) for k in range(1000)], maxlen=720)
    real = history_module._picker(PAIR)
    reads = 0

    class Counting:
        def unpack_from(self, buf: bytearray, offset: int) -> tuple[object, ...]:
            nonlocal reads
            reads += 1
            return real[0].unpack_from(buf, offset)

    monkeypatch.setitem(history_module._PICKERS, PAIR, (Counting(), real[1], real[2]))
    end = 5.0 * 999
    assert series.bucket_rates(PAIR, end=end, width=5.0, count=12, max_gap=15.0) == [600.0] * 12
    assert reads == 13  # the 12 intervals of the window and the sample before it


def test_the_sparkline_is_the_rounded_clock_aligned_buckets() -> None:
    points = [(1030.0 + 2.0 * k, values(20 * k, 7 * k)) for k in range(25)]  # 810/min
    series = series_of(points)
    now = 1078.5  # the last complete 5 s bucket ends at 1075; the first starts at 1015
    trend = trend_points(series, now, 5.0)
    want = series.bucket_rates(PAIR, end=1075.0, width=5.0, count=TREND_POINTS, max_gap=15.0)
    assert trend == tuple(None if w is None else round(w) for w in want)
    assert trend == (None,) * 3 + (810,) * 9  # nothing before 1030
    assert trend_points(series, 1080.0, 5.0) == (None,) * 2 + (810,) * 10
    # A 16 s hole is more than 3 points of 5 s: a gap, drawn as a space.
    hole = series_of([(0.0, values(0)), (5.0, values(50)), (21.0, values(210))])
    assert trend_points(hole, 21.0, 5.0)[-4:] == (600, None, None, None)


# ---------------------------------------------------------------------------- properties


def linear_times() -> st.SearchStrategy[list[float]]:
    """Sample times in eighths of a second (exact in binary), steps of 1/8 s to 15 s."""
    return st.lists(st.integers(1, 120), min_size=1, max_size=60).map(
        lambda steps: [s / 8 for s in itertools.accumulate([80, *steps])]
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    times=linear_times(),
    per_second=st.integers(0, 10**6),
    huge=st.booleans(),
    width=st.sampled_from([1.0, 2.0, 5.0, 7.5, 10.0]),
    count=st.integers(1, 20),
)
def test_a_linear_counter_reads_its_true_rate_in_every_covered_bucket(
    times: list[float], per_second: int, huge: bool, width: float, count: int
) -> None:
    base = HUGE if huge else 12345
    # value = base + 8 * per_second * t: an exact integer at every eighth of a second.
    series = series_of([(t, values(base + int(8 * per_second * t), 0)) for t in times])
    end = math.floor(times[-1] / width) * width
    got = series.bucket_rates(PAIR, end=end, width=width, count=count, max_gap=15.0)
    true_rate = 8 * per_second * 60
    for m, point in enumerate(got):
        lo, hi = end - width * (count - m), end - width * (count - m - 1)
        inside = min(hi, times[-1]) - max(lo, times[0])
        if inside * 2 >= width:
            assert point == pytest.approx(true_rate, rel=1e-9, abs=1e-6), (m, got)
        else:
            assert point is None, (m, got)


def counter_values() -> st.SearchStrategy[int | None]:
    return st.one_of(
        st.integers(0, 10_000),
        st.integers(2**64 - 1000, 2**64 + 1000),
        st.integers(HUGE - 10**6, HUGE + 10**6),
        st.none(),
    )


def series_points() -> st.SearchStrategy[list[tuple[float, tuple[int | None, ...]]]]:
    # Mostly growing, with resets, unknown and huge values, repeats (nothing moved),
    # quick polls, late polls, outages, duplicate and out-of-order times.
    step = st.sampled_from([0.0, -1.0, 0.3, 1.0, 2.0, 2.5, 3.0, 5.0, 7.0, 16.0, 300.0])
    return st.lists(
        st.tuples(step, st.one_of(st.just(None), st.tuples(counter_values(), counter_values()))),
        min_size=0,
        max_size=40,
    ).map(_points)


def _points(
    steps: list[tuple[float, tuple[int | None, int | None] | None]],
) -> list[tuple[float, tuple[int | None, ...]]]:
    out: list[tuple[float, tuple[int | None, ...]]] = []
    at, last = 1000.0, values(0, 0)
    for step, pair in steps:
        at += step
        vals = last if pair is None else values(*pair)  # None: nothing moved
        out.append((at, vals))
        last = vals
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    points=series_points(),
    maxlen=st.sampled_from([2, 5, 720]),
    indices=st.sampled_from([PAIR, (TOKENS_OUT, TOKENS_IN), (TOKENS_IN,), (0,), (1, 1)]),
    width=st.sampled_from([1.0, 2.0, 5.0, 7.5]),
    count=st.integers(0, 15),
    shift=st.integers(-3, 3),
    max_gap=st.sampled_from([0.5, 5.0, 15.0, 1000.0]),
)
def test_bucket_rates_match_the_plain_definition(
    points: list[tuple[float, tuple[int | None, ...]]],
    maxlen: int,
    indices: tuple[int, ...],
    width: float,
    count: int,
    shift: int,
    max_gap: float,
) -> None:
    series = series_of(points, maxlen)
    samples = held(points, maxlen)
    last = samples[-1].at if samples else 1000.0
    end = (math.floor(last / width) + shift) * width
    got = series.bucket_rates(indices, end=end, width=width, count=count, max_gap=max_gap)
    want = reference(samples, indices, end, width, count, max_gap)
    assert same(got, want), (got, want)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    points=series_points(),
    maxlen=st.sampled_from([2, 5, 720]),
    width=st.sampled_from([1.0, 2.0, 5.0]),
    count=st.integers(1, 12),
    shift=st.integers(-2, 1),
)
def test_a_remembered_answer_never_outlives_the_samples_it_read(
    points: list[tuple[float, tuple[int | None, ...]]],
    maxlen: int,
    width: float,
    count: int,
    shift: int,
) -> None:
    # The overview asks every row the same question on every poll until the next
    # bucket edge, and the series remembers its last answer: asked again after each
    # new sample (the same question, and the one a poll later), it must agree with
    # the definition every time, also once the ring drops what the answer read.
    series = Series(maxlen)
    for i, (at, vals) in enumerate(points):
        series.add(Sample(at, vals))
        samples = held(points[: i + 1], maxlen)
        last = samples[-1].at
        for end in {(math.floor(last / width) + shift) * width, math.floor(last / width) * width}:
            got = series.bucket_rates(PAIR, end=end, width=width, count=count, max_gap=15.0)
            want = reference(samples, PAIR, end, width, count, 15.0)
            assert same(got, want), (i, end, got, want)


def test_the_trend_changes_when_the_sample_before_its_window_goes() -> None:
    # Asked twice with no new sample between, the answer is remembered; once the ring
    # drops the sample that began the window's first interval, it is computed again.
    series = series_of([(float(t), values(10 * t, 0)) for t in range(0, 21, 5)], maxlen=5)
    first = series.bucket_rates(PAIR, end=20.0, width=5.0, count=4, max_gap=15.0)
    assert first == [600.0] * 4
    assert series.bucket_rates(PAIR, end=20.0, width=5.0, count=4, max_gap=15.0) == first
    series.add(Sample(25.0, values(250, 0)))  # sample 0 s goes: [0, 5] is no longer known
    assert series.bucket_rates(PAIR, end=20.0, width=5.0, count=4, max_gap=15.0) == [
        None,
        600.0,
        600.0,
        600.0,
    ]
