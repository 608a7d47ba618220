"""The packed ring with running sums answers exactly as walking the samples does.

``Reference`` is the plain definition (a list of samples, every rate walked sample
by sample); :class:`tui.history.Series` keeps records in a bytearray ring, a running
sum of token growth and a remembered window start. Random series with resets,
unknown values, values beyond 64 bits, gaps, duplicate and out-of-order times,
loaded history and a wrapping ring must give the same samples, changes, rates and
sparkline points.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.counters import TOKENS_IN, TOKENS_OUT
from tui.history import Sample, Series, delta
from tui.models import COUNTERS

N = len(COUNTERS)
WINDOWS = ((60.0, 0.0), (15.0, 0.0), (900.0, 600.0), (1.0, 0.0), (3600.0, 3240.0), (7.5, 0.0))
INDEX_SETS = ((TOKENS_IN, TOKENS_OUT), (TOKENS_OUT, TOKENS_IN), (TOKENS_IN,), (0,), (2, 5))


class Reference:
    """The definition: keep the last ``maxlen`` samples; walk them for every answer."""

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.items: list[Sample] = []

    def add(self, s: Sample) -> tuple[frozenset[int], list[tuple[int, int]], list[int]]:
        prev = self.items[-1] if self.items else None
        if prev is not None and s.at <= prev.at:
            return frozenset(), [], []
        self.items = [*self.items, s][-self.maxlen :]
        if prev is None:
            return frozenset(), [], []
        changed = frozenset(i for i in range(N) if prev.values[i] != s.values[i])
        ups, resets = [], []
        for i, (old, new) in enumerate(zip(prev.values, s.values, strict=True)):
            if old is not None and new is not None:
                if new < old:
                    resets.append(i)
                elif new > old:
                    ups.append((i, new - old))
        return changed, ups, resets

    def rate(self, indices: tuple[int, ...], window: float, min_span: float) -> float | None:
        if len(self.items) < 2:
            return None
        end = self.items[-1]
        total = 0
        start = end
        for prev in reversed(self.items[:-1]):
            for i in indices:
                d = delta(prev.values[i], start.values[i])
                if d is None:
                    return None
                total += d
            start = prev
            if end.at - start.at >= window:
                break
        span = end.at - start.at
        if span <= 0 or span < min_span:
            return None
        return total * 60.0 / span

    def rates(self, indices: tuple[int, ...], last: int) -> list[int | None]:
        out: list[int | None] = []
        for a, b in itertools.pairwise(self.items[-(last + 1) :]):
            parts = [delta(a.values[i], b.values[i]) for i in indices]
            span = b.at - a.at
            if span <= 0 or None in parts:
                out.append(None)
            else:
                out.append(round(sum(p for p in parts if p) * 60.0 / span))
        return out

    def deltas(self, indices: tuple[int, ...], last: int) -> list[int | None]:
        out: list[int | None] = []
        for a, b in itertools.pairwise(self.items[-(last + 1) :]):
            parts = [delta(a.values[i], b.values[i]) for i in indices]
            out.append(None if None in parts else sum(p for p in parts if p))
        return out


value = st.one_of(
    st.integers(0, 2_000),
    st.integers(0, 2**64 - 1),
    st.integers(2**64, 2**70),  # does not pack
    st.none(),
)
step = st.tuples(
    st.sampled_from((1.0, 2.0, 2.0, 2.0, 5.0, 0.0, -1.0, 30.0, 0.25)),
    st.sampled_from(("same", "grow", "grow", "reset", "odd")),
    st.integers(0, N - 1),
    value,
)


def play(maxlen: int, loaded: int, steps: list[tuple[float, str, int, int | None]]) -> None:
    fast, ref = Series(maxlen), Reference(maxlen)
    values: list[int | None] = [0] * N
    at = 1_000.0
    history: list[Sample] = []
    for n, (gap, kind, i, v) in enumerate(steps):
        at += gap
        if kind == "grow":
            values = [None if x is None else x + (k * 37 + n) % 500 for k, x in enumerate(values)]
        elif kind == "reset":
            values[i] = 0
        elif kind == "odd":
            values[i] = v
        sample = Sample(at, tuple(values))
        if n < loaded:
            history.append(sample)
            if n == loaded - 1:
                fast.extend(history)
                for s in history:
                    ref.add(s)
            continue
        assert fast.add(sample) == ref.add(sample)
        assert fast.samples == ref.items
        assert len(fast) == len(ref.items)
        assert fast.latest == (ref.items[-1] if ref.items else None)
        for indices in INDEX_SETS:
            for window, min_span in WINDOWS:
                assert fast.rate_per_minute(indices, window, min_span) == ref.rate(
                    indices, window, min_span
                ), (indices, window, min_span)
        assert fast.interval_deltas((TOKENS_IN, TOKENS_OUT), 12) == ref.deltas(
            (TOKENS_IN, TOKENS_OUT), 12
        )
        for indices in INDEX_SETS:
            for last in (1, 12, 60):
                assert fast.interval_rates(indices, last) == ref.rates(indices, last)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    maxlen=st.integers(1, 40),
    loaded=st.integers(0, 30),
    steps=st.lists(step, min_size=1, max_size=120),
)
def test_ring_with_running_sums_equals_walking_the_samples(
    maxlen: int, loaded: int, steps: list[tuple[float, str, int, int | None]]
) -> None:
    play(maxlen, loaded, steps)


def test_a_long_steady_series_wraps_many_times_and_keeps_exact_rates() -> None:
    """Hundreds of wraps of a small ring with the window start remembered between polls."""
    steps = [(2.0, "grow" if k % 3 else "same", 0, None) for k in range(2_000)]
    steps[700] = (2.0, "reset", TOKENS_IN, None)
    steps[1_300] = (2.0, "odd", TOKENS_OUT, None)  # unknown for a while
    steps[1_301] = steps[1_302] = (2.0, "same", 0, None)  # an unknown sample repeated
    steps[1_340] = (2.0, "odd", TOKENS_OUT, 2**64)  # beyond 64 bits, repeated below
    steps[1_341] = steps[1_342] = (2.0, "same", 0, None)
    steps[1_400] = (2.0, "odd", TOKENS_OUT, 5)
    play(37, 10, steps)


def test_unchanged_polls_keep_the_rate_falling_as_growth_leaves_the_window() -> None:
    s = Series(100)
    s.add(Sample(0.0, (0,) * N))
    v = [0] * N
    v[TOKENS_IN] = 600
    s.add(Sample(2.0, tuple(v)))
    rates = []
    for k in range(2, 40):  # nothing moves any more
        s.add(Sample(2.0 * k, tuple(v)))
        rates.append(s.rate_per_minute((TOKENS_IN, TOKENS_OUT)))
    assert rates[0] == 600 * 60.0 / 4.0
    assert rates[-1] == 0.0  # the growth has left the one-minute window
    assert rates == sorted(rates, reverse=True)
