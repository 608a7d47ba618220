"""Axes of the drill-down's charts: round value ticks and time ticks in the window's units."""

from __future__ import annotations

import calendar
import itertools
import math
import time

import pytest

from tui.charts import (
    MAX_TIME_TICKS,
    data_top,
    nice_step,
    relative_label,
    segments,
    tick_label,
    time_axis,
    value_axis,
)

#: 2027-01-15 14:37:00 UTC: a fixed clock for the clock-time labels (read as UTC).
NOW = float(calendar.timegm((2027, 1, 15, 14, 37, 0, 0, 0, 0)))


def utc(at: float) -> time.struct_time:
    return time.gmtime(at)


# ------------------------------------------------------------------ value axes


@pytest.mark.parametrize(
    ("top", "labels"),
    [
        (0.0, ["0", "0.5", "1"]),  # no data: still a labelled axis from 0
        (1.0, ["0", "0.5", "1"]),
        (7.0, ["0", "2", "4", "6", "8"]),
        (54241.7, ["0", "20k", "40k", "60k"]),
        (1e12, ["0", "500G", "1T"]),
        (10.0**39, ["0", "5e38", "1e39"]),
        (0.07, ["0", "0.02", "0.04", "0.06", "0.08"]),
        (1001.0, ["0", "500", "1k", "1.5k"]),
    ],
)
def test_value_axis_starts_at_0_with_3_to_5_round_compact_ticks(
    top: float, labels: list[str]
) -> None:
    axis = value_axis(top)
    assert list(axis.labels) == labels
    assert axis.lo == 0.0 and axis.ticks[0] == 0.0
    assert axis.hi == axis.ticks[-1] >= top
    assert 3 <= len(axis.ticks) <= 5
    # Evenly spaced by one round step m x 10^k, m in 1, 2, 5.
    m, k = nice_step(top)
    assert m in (1, 2, 5)
    step = m * 10.0**k
    assert all(math.isclose(b - a, step, rel_tol=1e-9) for a, b in itertools.pairwise(axis.ticks))


def test_value_axis_top_is_the_first_tick_at_or_above_the_data() -> None:
    # 54241.7 in steps of 20k: 60k, not 80k or 100k.
    assert value_axis(54241.7).hi == 60000.0
    assert value_axis(60000.0).hi == 60000.0
    assert value_axis(0.3).ticks == (0.0, 0.1, 0.2, 0.3)  # no float noise: 0.30000000000000004


def test_value_axis_respects_fewer_ticks_for_short_charts() -> None:
    assert value_axis(54241.7, max_ticks=3).labels == ("0", "50k", "100k")
    assert len(value_axis(7.0, max_ticks=2).ticks) == 2


def test_integer_axes_never_show_fractions() -> None:
    assert value_axis(1.0, integer=True).labels == ("0", "1")
    assert value_axis(0.0, integer=True).labels == ("0", "1")
    assert value_axis(3.0, integer=True).labels == ("0", "1", "2", "3")


@pytest.mark.parametrize(
    ("n", "k", "label"),
    [
        (0, 0, "0"),
        (5, -1, "0.5"),
        (25, -3, "0.025"),
        (999, 0, "999"),
        (1, 3, "1k"),
        (25, 2, "2.5k"),
        (200, 3, "200k"),
        (1, 6, "1M"),
        (15, 17, "1.5E"),
        (1, 21, "1e21"),
        (15, 38, "1.5e39"),
        (-2, 4, "-20k"),
    ],
)
def test_tick_labels_are_compact_and_exact(n: int, k: int, label: str) -> None:
    assert tick_label(n, k) == label


def test_data_top_ignores_gaps_and_non_finite_values() -> None:
    assert data_top([1.0, None, 3.0], [float("nan"), float("inf"), 2.0]) == 3.0
    assert data_top([], [None]) == 0.0
    assert data_top([-5.0]) == 0.0


def test_segments_split_at_gaps_and_keep_to_the_range() -> None:
    xs = [-400.0, -250.0, -200.0, -150.0, -100.0, -50.0]
    ys = [9.0, 1.0, 2.0, None, 4.0, -3.0]
    assert segments(xs, ys, -300.0, 0.0) == [
        ([-250.0, -200.0], [1.0, 2.0]),
        ([-100.0, -50.0], [4.0, 0.0]),
    ]
    assert segments([], [], -300.0, 0.0) == []


# ------------------------------------------------------------------ time axes


def test_five_minutes_ticks_each_minute_up_to_now() -> None:
    axis = time_axis(300.0, NOW, width=50, localtime=utc)
    assert (axis.lo, axis.hi) == (-300.0, 0.0)
    assert axis.ticks == (-300.0, -240.0, -180.0, -120.0, -60.0, 0.0)
    assert axis.labels == ("-5m", "-4m", "-3m", "-2m", "-1m", "now")


def test_one_hour_ticks_every_15_minutes() -> None:
    axis = time_axis(3600.0, NOW, width=50, localtime=utc)
    assert (axis.lo, axis.hi) == (-3600.0, 0.0)
    assert axis.ticks == (-3600.0, -2700.0, -1800.0, -900.0, 0.0)
    assert axis.labels == ("-1h", "-45m", "-30m", "-15m", "now")


def test_24_hours_ticks_on_round_clock_times() -> None:
    axis = time_axis(86400.0, NOW, width=53, localtime=utc)
    assert (axis.lo, axis.hi) == (-86400.0, 0.0)
    # Every 4 h on the clock, 16:00 yesterday .. 12:00 today (14:37 now).
    assert axis.labels == ("16:00", "20:00", "00:00", "04:00", "08:00", "12:00")
    assert [NOW + t for t in axis.ticks] == [
        calendar.timegm((2027, 1, d, h, 0, 0, 0, 0, 0))
        for d, h in ((14, 16), (14, 20), (15, 0), (15, 4), (15, 8), (15, 12))
    ]


def test_24_hours_in_a_narrow_chart_ticks_less_often() -> None:
    axis = time_axis(86400.0, NOW, width=34, localtime=utc)
    assert axis.labels == ("18:00", "00:00", "06:00", "12:00")


def test_all_spans_back_to_the_oldest_sample_in_clock_times() -> None:
    axis = time_axis(math.inf, NOW, oldest=NOW - 7200.0, width=53, localtime=utc)
    assert (axis.lo, axis.hi) == (-7200.0, 0.0)
    assert axis.labels == ("13:00", "13:20", "13:40", "14:00", "14:20")
    # A few seconds of history, or none, still make a 5-minute axis.
    assert time_axis(math.inf, NOW, oldest=NOW - 10.0, localtime=utc).lo == -300.0
    assert time_axis(math.inf, NOW, localtime=utc).lo == -300.0


def test_all_over_days_labels_dates() -> None:
    axis = time_axis(math.inf, NOW, oldest=NOW - 20 * 86400.0, width=53, localtime=utc)
    assert axis.labels[0].startswith(("Dec", "Jan"))
    assert all(re_date(label) for label in axis.labels)


def re_date(label: str) -> bool:
    month, _, day = label.partition(" ")
    return month in ("Dec", "Jan") and day.isdigit()


def test_clock_ticks_leave_room_for_their_labels_at_the_ends() -> None:
    # 14:35:30 now: a 14:35 tick would sit under a cell from the right end (plotext
    # would push its label left into 14:30's); it is left out.
    now = NOW - 90.0
    axis = time_axis(math.inf, now, oldest=now - 1800.0, width=50, localtime=utc)
    assert axis.labels == ("14:10", "14:15", "14:20", "14:25", "14:30")
    # 14:37: 14:35 is 3 cells from the end, room enough for its label.
    axis = time_axis(math.inf, NOW, oldest=NOW - 1800.0, width=50, localtime=utc)
    assert axis.labels[-1] == "14:35"


@pytest.mark.parametrize("window", [300.0, 3600.0, 86400.0, math.inf])
@pytest.mark.parametrize("width", [20, 34, 53, 115, 200])
def test_time_labels_never_crowd(window: float, width: int) -> None:
    axis = time_axis(window, NOW, oldest=NOW - 5000.0, width=width, localtime=utc)
    assert 1 <= len(axis.ticks) <= MAX_TIME_TICKS
    assert list(axis.ticks) == sorted(axis.ticks)
    assert all(axis.lo <= t <= 0 for t in axis.ticks)
    cells = [(t - axis.lo) / (axis.hi - axis.lo) * width for t in axis.ticks]
    widest = max(len(label) for label in axis.labels)
    assert all(b - a >= widest + 1 for a, b in itertools.pairwise(cells))


@pytest.mark.parametrize(
    ("seconds", "label"),
    [(0.0, "now"), (-60.0, "-1m"), (-2700.0, "-45m"), (-3600.0, "-1h"), (-5400.0, "-1h30m")],
)
def test_relative_labels(seconds: float, label: str) -> None:
    assert relative_label(seconds) == label
