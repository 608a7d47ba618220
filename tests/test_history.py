"""The in-memory history: deltas, rates by measured time, resets, ids that come and go."""

from __future__ import annotations

import pytest

from tui.counters import IDX, TOKENS_IN, TOKENS_OUT
from tui.history import History, Sample, Series, delta
from tui.models import COUNTERS, LlmStats

CALLS = IDX["totalApiCalls"]
VIOLATIONS = IDX["totalPolicyViolations"]
BIG = 10**39 + 12345678901234567890  # 40 digits: no 64-bit integer holds it


def vals(
    tin: int | None = 0, tout: int | None = 0, calls: int | None = 0, viol: int = 0
) -> tuple[int | None, ...]:
    v: list[int | None] = [0] * len(COUNTERS)
    v[TOKENS_IN], v[TOKENS_OUT], v[CALLS], v[VIOLATIONS] = tin, tout, calls, viol
    return tuple(v)


def stats(ai_llm_id: str, values: tuple[int | None, ...]) -> LlmStats:
    return LlmStats(ai_llm_id=ai_llm_id, values=values)


# ---------------------------------------------------------------------------- delta


def test_delta_of_a_counter_that_went_down_is_the_new_value_never_negative() -> None:
    assert delta(100, 150) == 50
    assert delta(100, 30) == 30
    assert delta(100, 0) == 0
    assert delta(None, 5) is None and delta(5, None) is None


# ---------------------------------------------------------------------------- rates


def test_rate_divides_by_measured_time_not_the_nominal_interval() -> None:
    s = Series()
    s.add(Sample(1000.0, vals(tin=0)))
    s.add(Sample(1007.5, vals(tin=750)))  # a late poll: 7.5 s, not 5 s
    assert s.rate_per_minute((TOKENS_IN,)) == pytest.approx(750 * 60 / 7.5)


def test_rate_uses_about_the_window_and_at_least_one_interval() -> None:
    s = Series()
    for i in range(30):  # 100 tokens every 5 s for 145 s
        s.add(Sample(1000.0 + 5 * i, vals(tin=100 * i)))
    # A 60 s window spans exactly 12 intervals.
    assert s.rate_per_minute((TOKENS_IN,), 60.0) == pytest.approx(1200.0)
    # A window shorter than one interval still uses the last interval.
    assert s.rate_per_minute((TOKENS_IN,), 1.0) == pytest.approx(1200.0)
    # Not enough history for the span asked: no figure rather than a wrong one.
    assert s.rate_per_minute((TOKENS_IN,), 900.0, min_span=810.0) is None


def test_span_rate_agrees_with_the_walk_and_falls_back_to_it_across_a_reset() -> None:
    s = Series()
    for i in range(30):  # uneven growth: 100 * i**2 tokens
        s.add(Sample(1000.0 + 5 * i, vals(tin=100 * i * i)))
    for window in (5.0, 60.0, 3600.0):
        assert s.span_rate(TOKENS_IN, window) == pytest.approx(
            s.rate_per_minute((TOKENS_IN,), window)
        )
    s.add(Sample(1150.0, vals(tin=50)))  # reset: the ends went down
    assert s.span_rate(TOKENS_IN, 3600.0) == pytest.approx(s.rate_per_minute((TOKENS_IN,), 3600.0))
    quiet = Series()
    for i in range(20):
        quiet.add(Sample(1000.0 + 5 * i, vals(tin=BIG)))
    assert quiet.span_rate(TOKENS_IN, 60.0) == 0.0
    assert Series().span_rate(TOKENS_IN, 60.0) is None


def test_rate_across_a_reset_is_never_negative() -> None:
    s = Series()
    s.add(Sample(0.0, vals(tin=1_000_000)))
    s.add(Sample(5.0, vals(tin=1_000_500)))
    s.add(Sample(10.0, vals(tin=200)))  # the server recreated the configuration
    rate = s.rate_per_minute((TOKENS_IN,), 60.0)
    assert rate is not None and rate >= 0
    assert rate == pytest.approx((500 + 200) * 60 / 10)
    assert s.interval_deltas((TOKENS_IN,), 5) == [500, 200]


def test_unknown_value_makes_the_rate_and_that_interval_unknown() -> None:
    s = Series()
    s.add(Sample(0.0, vals(tin=10)))
    s.add(Sample(5.0, vals(tin=None)))
    s.add(Sample(10.0, vals(tin=30)))
    assert s.interval_deltas((TOKENS_IN,), 5) == [None, None]
    assert s.rate_per_minute((TOKENS_IN,), 60.0) is None
    s.add(Sample(15.0, vals(tin=40)))
    assert s.rate_per_minute((TOKENS_IN,), 1.0) == pytest.approx(120.0)


def test_interval_deltas_sum_the_indices_and_keep_only_the_last_ones() -> None:
    s = Series()
    for i in range(20):
        s.add(Sample(float(i), vals(tin=10 * i, tout=i * i)))
    got = s.interval_deltas((TOKENS_IN, TOKENS_OUT), 3)
    assert got == [10 + (17 * 17 - 16 * 16), 10 + (18 * 18 - 17 * 17), 10 + (19 * 19 - 18 * 18)]


# ---------------------------------------------------------------------------- series


def test_series_is_a_fixed_size_ring() -> None:
    s = Series(maxlen=10)
    for i in range(1000):
        s.add(Sample(float(i), vals(tin=i)))
    assert len(s) == 10
    assert [x.at for x in s.samples] == [float(i) for i in range(990, 1000)]
    assert s.latest == Sample(999.0, vals(tin=999))


def test_out_of_order_and_duplicate_samples_are_ignored() -> None:
    s = Series()
    s.add(Sample(10.0, vals(tin=1)))
    assert s.add(Sample(10.0, vals(tin=2))) == (frozenset(), [], [])
    assert s.add(Sample(5.0, vals(tin=3))) == (frozenset(), [], [])
    assert s.samples == [Sample(10.0, vals(tin=1))]


def test_exact_40_digit_and_unknown_values_survive_the_compact_buffer() -> None:
    s = Series()
    samples = [
        Sample(1.0, vals(tin=BIG, tout=None)),
        Sample(2.0, vals(tin=BIG + 1, tout=2**64 - 1)),
        Sample(3.0, vals(tin=7, tout=2**64)),
    ]
    for x in samples:
        s.add(x)
    assert s.samples == samples
    assert s.since(1.5) == samples[1:]
    assert s.interval_deltas((TOKENS_IN,), 2) == [1, 7]
    assert all(type(v) is int for x in s.samples for v in x.values if v is not None)


def test_since_returns_the_samples_of_the_last_seconds_in_order() -> None:
    s = Series()
    for i in range(10):
        s.add(Sample(100.0 + 10 * i, vals(tin=i)))
    assert [x.at for x in s.since(25.0)] == [170.0, 180.0, 190.0]
    assert len(s.since(float("inf"))) == 10
    assert Series().since(60.0) == []


# ---------------------------------------------------------------------------- history


def test_first_poll_of_an_id_starts_its_series_and_reports_nothing() -> None:
    h = History()
    c = h.record([stats("a", vals(tin=5, viol=3))], at=0.0)
    assert list(h.series) == ["a"] and c.changed == {} and c.events == [] and c.resets == []


def test_changes_events_and_resets_of_a_poll() -> None:
    h = History()
    h.record([stats("a", vals(tin=100, viol=1))], at=0.0)
    c = h.record([stats("a", vals(tin=40, viol=3))], at=5.0)
    assert c.changed["a"] == frozenset({TOKENS_IN, VIOLATIONS})
    assert [(e.ai_llm_id, e.counter, e.delta) for e in c.events] == [
        ("a", "totalPolicyViolations", 2)
    ]
    assert c.resets == [("a", "totalTokensIn")]
    series = h.get("a")
    assert series is not None
    assert series.last_event_at[VIOLATIONS] == 5.0


def test_configuration_appearing_mid_run_starts_cleanly() -> None:
    h = History()
    for i in range(10):
        h.record([stats("a", vals(tin=100 * i))], at=5.0 * i)
    c = h.record([stats("a", vals(tin=1000)), stats("b", vals(tin=10**9, viol=50))], at=50.0)
    assert "b" in h.series
    assert c.events == []  # its 50 old violations are not "new" ones
    b = h.get("b")
    assert b is not None and len(b) == 1
    assert b.rate_per_minute((TOKENS_IN,)) is None  # one sample: no rate yet
    h.record([stats("a", vals(tin=1100)), stats("b", vals(tin=10**9 + 60))], at=55.0)
    assert b.rate_per_minute((TOKENS_IN,)) == pytest.approx(720.0)


def test_vanished_configuration_is_kept_for_a_while_then_forgotten() -> None:
    h = History(forget_after=600.0)
    h.record([stats("a", vals()), stats("b", vals())], at=0.0)
    for t in range(5, 600, 5):
        h.record([stats("a", vals(tin=t))], at=float(t))
    assert h.get("b") is not None  # gone from the server 595 s ago: still shown
    h.record([stats("a", vals(tin=601))], at=601.0)
    assert h.get("b") is None
    assert h.get("a") is not None
    # If it comes back, it starts again as new.
    c = h.record([stats("a", vals(tin=700)), stats("b", vals(tin=1))], at=700.0)
    b = h.get("b")
    assert b is not None and len(b) == 1 and "b" not in c.changed


def test_memory_stays_bounded_for_many_ids_over_a_long_run() -> None:
    h = History(maxlen=20, forget_after=100.0)
    for step in range(500):
        # A different set of 10 ids every 50 polls; old sets must be forgotten.
        group = step // 50
        h.record([stats(f"{group}-{i}", vals(tin=step)) for i in range(10)], at=10.0 * step)
        assert len(h.series) <= 20
        assert all(len(s) <= 20 for s in h.series.values())


def test_load_seeds_series_so_rates_and_sparklines_continue() -> None:
    h = History()
    h.load(
        {
            "a": [
                Sample(100.0 + 5 * i, vals(tin=1000 * i, viol=1 if i < 10 else 2))
                for i in range(13)
            ],
            "b": [],
        }
    )
    a = h.get("a")
    assert a is not None and len(a) == 13
    assert a.interval_deltas((TOKENS_IN,), 12) == [1000] * 12
    assert a.rate_per_minute((TOKENS_IN,)) == pytest.approx(12000.0)
    assert a.last_event_at[VIOLATIONS] == 150.0  # the last increase seen in the store
    # The next live poll continues the series, not a new one.
    c = h.record([stats("a", vals(tin=13_000, viol=2))], at=165.0)
    assert "a" in c.changed and len(a) == 14
    assert a.rate_per_minute((TOKENS_IN,)) == pytest.approx(12000.0)
    assert a.latest is not None and a.latest.at == 165.0


def test_load_skips_samples_out_of_order() -> None:
    h = History()
    h.load({"a": [Sample(10.0, vals(tin=1)), Sample(5.0, vals(tin=2)), Sample(20.0, vals(tin=3))]})
    a = h.get("a")
    assert a is not None and [x.at for x in a.samples] == [10.0, 20.0]


def test_interval_rates_do_not_turn_a_gap_into_a_spike() -> None:
    from tui.history import Sample, Series

    series = Series(maxlen=10)
    # 600 tokens per minute throughout, but the third interval is a 60 s outage.
    for at, total in ((0.0, 0), (5.0, 50), (10.0, 100), (70.0, 700), (75.0, 750)):
        series.add(Sample(at, (0, total, 0, 0, 0, 0, 0, 0)))
    assert series.interval_deltas((1, 2), 4) == [50, 50, 600, 50]
    assert series.interval_rates((1, 2), 4) == [600, 600, 600, 600]


def test_oldest_at_is_the_oldest_sample_held_also_after_the_ring_wraps() -> None:
    series = Series(3)
    assert series.oldest_at is None
    for t in range(5):
        series.add_values(float(t), vals(tin=t))
    assert series.oldest_at == series.samples[0].at == 2.0


# ---------------------------------------------------------------------------- memory


def test_a_poll_time_is_kept_once_and_the_timeline_stays_bounded() -> None:
    from tui.history import TRIM_EVERY

    h = History(maxlen=10, forget_after=30.0)
    for k in range(3 * TRIM_EVERY):
        at = 1000.0 + 2 * k
        polled = [stats("steady", vals(tin=k)), stats("idle", vals())]
        if k < 50 or k % 7 == 0:
            polled.append(stats("sometimes", vals(tin=k // 7)))  # gaps: its own ticks
        if k < 20:
            polled.append(stats("gone", vals()))  # forgotten after 30 s
        h.record(polled, at)
    assert "gone" not in h.series
    assert len(h.timeline) <= 10 * 7 + TRIM_EVERY
    last = [1000.0 + 2 * k for k in range(3 * TRIM_EVERY - 10, 3 * TRIM_EVERY)]
    for name in ("steady", "idle"):
        series = h.series[name]
        assert [s.at for s in series.samples] == last
    assert [s.values[TOKENS_IN] for s in h.series["steady"].samples] == list(
        range(3 * TRIM_EVERY - 10, 3 * TRIM_EVERY)
    )
    sometimes = [s.at for s in h.series["sometimes"].samples]
    assert sometimes == [at for at in last if (at - 1000.0) / 2 % 7 == 0] or len(sometimes) == 10
    assert all((at - 1000.0) / 2 % 7 == 0 for at in sometimes)


def test_unchanged_samples_share_one_record() -> None:
    s = Series(100)
    for k in range(100):
        s.add(Sample(float(k), vals(tin=k // 10)))
    assert s._rcount == 10  # one record per change, not per sample
    assert [x.values[TOKENS_IN] for x in s.samples] == [k // 10 for k in range(100)]
    for k in range(100, 110):
        s.add(Sample(float(k), vals(tin=99)))
        assert s._rcount == 11 - (k == 109)  # the oldest goes with its last sample


def test_loaded_unchanged_samples_share_one_record() -> None:
    h = History()
    h.load({"idle": [Sample(1000.0 + 5 * k, vals(tin=7)) for k in range(49)]})
    series = h.series["idle"]
    assert len(series) == 49 and series._rcount == 1
    assert [s.at for s in series.samples] == [1000.0 + 5 * k for k in range(49)]
