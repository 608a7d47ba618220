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
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.counters import TOKENS_IN, TOKENS_OUT
from tui.history import Sample, Series, Timeline, delta
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

    def buckets(
        self, indices: tuple[int, ...], end: float, width: float, count: int, max_gap: float
    ) -> list[float | None]:
        """Sparkline points by the definition: each interval's growth spread over it
        by time, clipped to each bucket; a bucket less than half covered is None."""
        start = end - width * count
        growth = [0.0] * count
        covered = [0.0] * count
        for a, b in itertools.pairwise(self.items):
            span = b.at - a.at
            if not 0 < span <= max_gap:
                continue
            parts = [delta(a.values[i], b.values[i]) for i in indices]
            if None in parts:
                continue
            total = sum(p for p in parts if p)
            for j in range(count):
                lo, hi = start + j * width, start + (j + 1) * width
                part = min(b.at, hi) - max(a.at, lo)
                if part > 0:
                    covered[j] += part
                    growth[j] += total * (part / span)
        return [
            g * 60 / c if c >= width / 2 else None for g, c in zip(growth, covered, strict=True)
        ]

    def increase(self, index: int, window: float) -> int | None:
        """What one counter went up by in the window: the sum of its rises."""
        if len(self.items) < 2 or self.items[-1].values[index] is None:
            return None
        cutoff = self.items[-1].at - window
        total = 0
        for a, b in itertools.pairwise(self.items):
            if b.at <= cutoff:
                continue
            old, new = a.values[index], b.values[index]
            if old is not None and new is not None and new > old:
                total += new - old
        return total

    def span_rate(self, index: int, window: float) -> float | None:
        """The rate from the two ends of the window's span; walked when a counter
        went down in it or a value is unknown."""
        if len(self.items) < 2:
            return None
        end = self.items[-1]
        k = 0
        for j in range(len(self.items) - 2, -1, -1):
            if end.at - self.items[j].at >= window:
                k = j
                break
        start = self.items[k]
        a, b = start.values[index], end.values[index]
        went_down = any(
            o is not None and n is not None and n < o
            for x, y in itertools.pairwise(self.items[k:])
            for o, n in zip(x.values, y.values, strict=True)
        )
        if a is None or b is None or b < a or went_down:
            return self.rate((index,), window, 0.0)
        return (b - a) * 60.0 / (end.at - start.at)

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


def play(
    maxlen: int,
    loaded: int,
    steps: list[tuple[float, str, int, int | None]],
    neighbour: int = 0,
) -> None:
    """Feed the same samples to a Series and the Reference and compare every answer.

    With ``neighbour`` (k > 0), the series shares its timeline with another that
    gets a sample of its own before every k-th one (so the series' ticks stop being
    consecutive), and the timeline is trimmed as a History trims it."""
    timeline = Timeline() if neighbour else None
    fast, ref = Series(maxlen, timeline), Reference(maxlen)
    other = Series(maxlen, timeline)
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
        if neighbour and n % neighbour == 0:
            other.add(Sample(at - 0.125, tuple(values)))
        if timeline is not None and n % 5 == 0:
            timeline.trim(min(fast.oldest_tick, other.oldest_tick))
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
        # Sparkline points: 5 s buckets ending on the clock, gaps beyond 12 s.
        edge = (at // 5 + 1) * 5
        for indices in INDEX_SETS[:3]:
            got = fast.bucket_rates(indices, end=edge, width=5.0, count=12, max_gap=12.0)
            want = ref.buckets(indices, edge, 5.0, 12, 12.0)
            assert len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                assert (g is None) == (w is None), (got, want)
                if g is not None and w is not None:
                    assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-9), (got, want)
        # Increases (of counters whose last rise History.record would note: not
        # the event counters, see Series.last_event_at) and span rates.
        for index in (0, TOKENS_IN, TOKENS_OUT):
            for window in (7.5, 60.0, 900.0):
                assert fast.increase(index, window) == ref.increase(index, window)
                got_rate = fast.span_rate(index, window)
                want_rate = ref.span_rate(index, window)
                assert (got_rate is None) == (want_rate is None)
                if got_rate is not None and want_rate is not None:
                    assert math.isclose(got_rate, want_rate, rel_tol=1e-12)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    maxlen=st.integers(1, 40),
    loaded=st.integers(0, 30),
    steps=st.lists(step, min_size=1, max_size=120),
    neighbour=st.sampled_from((0, 0, 1, 3, 50)),
)
def test_ring_with_running_sums_equals_walking_the_samples(
    maxlen: int, loaded: int, steps: list[tuple[float, str, int, int | None]], neighbour: int
) -> None:
    play(maxlen, loaded, steps, neighbour)


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
    play(37, 10, steps, neighbour=400)  # consecutive ticks for a while, then not


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
