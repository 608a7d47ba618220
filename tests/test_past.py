"""The past beyond memory, read from the history file's tiers."""

from __future__ import annotations

import pytest

from tui.counters import COUNTERS, TOKENS_IN
from tui.history import Sample, Series
from tui.past import merged, read_past, window_rate
from tui.settings import Settings
from tui.store import HistoryStore, Retention, store_path

START = 1_800_000_000.0
PER_MINUTE = 600  # tokens in per minute: 10 a second


def values(at: float) -> tuple[int, ...]:
    out = [0] * len(COUNTERS)
    out[TOKENS_IN] = round((at - START) * PER_MINUTE / 60)
    return tuple(out)


def test_the_drill_down_reads_hours_from_the_tiers_when_memory_holds_minutes() -> None:
    settings = Settings(profile="past")
    path = store_path(settings.profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two hours of 1 s polls, raw rows kept for 10 minutes only: older moments survive
    # in the minute tier.
    with HistoryStore.open(path, retention=Retention(raw=600.0)) as store:
        for t in range(0, 2 * 3600, 1):
            at = START + t
            store.write_poll(at, [("a", values(at)), ("b", values(at))])
            if t % 600 == 0:
                store.downsample_and_prune(at)
        store.downsample_and_prune(START + 2 * 3600)
    now = START + 2 * 3600 - 1
    past = read_past(settings, "a", now - 3 * 3600)
    assert past[0].at == START and past[-1].at == now
    assert len(past) < 2 * 3600  # minutes for the old part, every second for the last 10
    # Memory: the last 720 samples (12 minutes at 1 s), as the monitor holds them.
    series = Series(720)
    for t in range(2 * 3600 - 720, 2 * 3600):
        series.add_values(START + t, values(START + t))
    assert series.rate_per_minute((TOKENS_IN,), 3600.0, min_span=3240.0) is None  # today's "-"
    both = merged(past, series)
    assert [s.at for s in both] == sorted({s.at for s in both})  # each moment once, in order
    assert both[-720:] == series.samples  # memory wins where both have a moment
    assert window_rate(both, (TOKENS_IN,), 3600.0, 3240.0) == pytest.approx(PER_MINUTE, rel=1e-3)
    assert window_rate(both, (TOKENS_IN,), 900.0, 810.0) == pytest.approx(PER_MINUTE, rel=1e-3)


def test_no_history_file_is_no_past() -> None:
    assert read_past(Settings(profile="nothing-stored"), "a", START) == []


def test_window_rate_follows_measured_time_and_refuses_short_or_unknown_spans() -> None:
    samples = [Sample(START + t, values(START + t)) for t in (0, 10, 70, 130)]
    assert window_rate(samples, (TOKENS_IN,), 60.0) == pytest.approx(PER_MINUTE)
    assert window_rate(samples, (TOKENS_IN,), 3600.0, min_span=3240.0) is None
    assert window_rate(samples[:1], (TOKENS_IN,), 60.0) is None
    broken = [*samples[:-1], Sample(START + 130, (None,) * len(COUNTERS))]
    assert window_rate(broken, (TOKENS_IN,), 60.0) is None


def test_a_hole_wider_than_the_window_gives_no_rate_rather_than_a_wrong_one() -> None:
    # The file's samples end two hours ago, memory starts a minute ago.
    samples = [Sample(START + t, values(START + t)) for t in (0, 60, 7200, 7260)]
    assert window_rate(samples, (TOKENS_IN,), 3600.0, 3240.0) is None
    assert window_rate(samples, (TOKENS_IN,), 60.0) == pytest.approx(PER_MINUTE)
