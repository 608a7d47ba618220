"""Axes of the drill-down's charts: round tick values and short labels (no UI toolkit).

A value axis starts at 0 and ends at a round top with 3-5 ticks a "nice" step apart
(1, 2 or 5 x 10^k), labelled compactly (``0 20k 40k 60k``). A time axis covers a whole
chart window in seconds relative to now (negative .. 0): windows up to an hour are
labelled relative to now (``-5m -4m .. now``), longer ones and "all" by local clock time
(``14:00``), like the status line's ``updated 14:03:27``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

_SUFFIXES = ("", "k", "M", "G", "T", "P", "E")
_MANTISSAS = (1, 2, 5)

#: Windows up to this many seconds get relative labels (``-15m``); longer ones and "all"
#: (whatever its span) local clock times.
RELATIVE_LIMIT = 3600.0
#: The shortest x range: "all" over a few seconds of history still spans 5 minutes.
MIN_SPAN = 300.0
RELATIVE_STEPS = (60, 120, 300, 600, 900, 1200, 1800, 3600)
CLOCK_STEPS = (
    60,
    120,
    300,
    600,
    900,
    1200,
    1800,
    3600,
    7200,
    10800,
    14400,
    21600,
    43200,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
    28 * 86400,
)
DAY = 86400
MAX_TIME_TICKS = 6
#: Widest time labels: ``-45m``, ``16:00``; at most this many time ticks.
RELATIVE_LABEL = 4
CLOCK_LABEL = 5

LocalTime = Callable[[float], time.struct_time]


@dataclass(frozen=True)
class Axis:
    """A chart axis: its range and the ticks to draw, each with its label."""

    lo: float
    hi: float
    ticks: tuple[float, ...]
    labels: tuple[str, ...]


# ------------------------------------------------------------------ value axes


def data_top(*series: Iterable[float | None]) -> float:
    """The largest finite, positive value of all ``series`` (0 when there is none)."""
    top = 0.0
    for values in series:
        for v in values:
            if v is not None and math.isfinite(v) and v > top:
                top = float(v)
    return top


def nice_step(top: float, max_ticks: int = 5, *, integer: bool = False) -> tuple[int, int]:
    """The smallest step ``(m, k)`` = m x 10^k, m in 1/2/5, that covers 0..``top`` in
    at most ``max_ticks`` ticks (0 included). ``integer`` steps are at least 1."""
    max_ticks = max(2, max_ticks)
    if not (math.isfinite(top) and top > 0):
        top = 1.0
    k = math.floor(math.log10(top)) - 2
    if integer:
        k = max(k, 0)
    while True:
        for m in _MANTISSAS:
            step = m * 10.0**k
            # The tolerance keeps float noise (0.6 / 0.2 = 2.9999...) from adding a tick.
            intervals = max(1, math.ceil(top / step - 1e-9))
            if intervals + 1 <= max_ticks:
                return m, k
        k += 1


def tick_label(n: int, k: int = 0) -> str:
    """The value n x 10^k, compactly and exactly: ``0``, ``0.5``, ``20k``, ``2.5M``, ``5e38``."""
    d = Decimal(n).scaleb(k)
    if d == 0:
        return "0"
    sign = "-" if d < 0 else ""
    d = abs(d)
    exponent = d.adjusted()  # position of the leading digit: 54241 -> 4
    group = max(0, exponent // 3)
    if group < len(_SUFFIXES):
        return f"{sign}{_plain(d.scaleb(-3 * group))}{_SUFFIXES[group]}"
    return f"{sign}{_plain(d.scaleb(-exponent))}e{exponent}"


def _plain(d: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: ``20``, ``2.5``, ``0.05``."""
    text = f"{d:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def value_axis(top: float, max_ticks: int = 5, *, integer: bool = False) -> Axis:
    """0 .. a round top at or above ``top``, with 3-5 (at most ``max_ticks``) ticks."""
    m, k = nice_step(top, max_ticks, integer=integer)
    step = m * 10.0**k
    clean = top if math.isfinite(top) and top > 0 else 1.0
    intervals = max(1, math.ceil(clean / step - 1e-9))
    # float(f"{n}e{k}") is the float nearest to the decimal value (10.0**-1 * 3 is not).
    ticks = tuple(float(f"{i * m}e{k}") for i in range(intervals + 1))
    labels = tuple(tick_label(i * m, k) for i in range(intervals + 1))
    return Axis(0.0, ticks[-1], ticks, labels)


# ------------------------------------------------------------------ time axes


def span_of(window: float, now: float, oldest: float | None) -> float:
    """Seconds the x axis covers: the window; for "all" (inf) back to ``oldest``."""
    if math.isfinite(window):
        return max(float(window), 1.0)
    if oldest is None or not math.isfinite(oldest):
        return MIN_SPAN
    return max(float(now - oldest), MIN_SPAN)


def relative_label(seconds: float) -> str:
    """``-300`` -> ``-5m``, ``-3600`` -> ``-1h``, ``-5400`` -> ``-1h30m``, ``0`` -> ``now``."""
    s = round(-seconds)
    if s == 0:
        return "now"
    h, rest = divmod(abs(s), 3600)
    m, sec = divmod(rest, 60)
    text = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{sec}s" if sec else "")
    return f"{'-' if s > 0 else '+'}{text}"


def clock_label(at: float, step: float, localtime: LocalTime = time.localtime) -> str:
    """A tick's local clock time, ``14:00``; its date, ``Mar 14``, for steps of a day or more."""
    t = localtime(at)
    if step >= DAY:
        return f"{time.strftime('%b', t)} {t.tm_mday}"
    return time.strftime("%H:%M", t)


def _clock_ticks(lo: float, now: float, step: int, localtime: LocalTime) -> list[float]:
    """Moments in [now + lo, now], relative to now, at local clock multiples of ``step``."""
    offset = localtime(now).tm_gmtoff or 0
    at = math.ceil((now + lo + offset) / step) * step - offset
    ticks: list[float] = []
    while at <= now + 1e-6:
        ticks.append(at - now)
        at += step
    return ticks


def time_axis(
    window: float,
    now: float,
    *,
    oldest: float | None = None,
    width: int = 60,
    localtime: LocalTime = time.localtime,
) -> Axis:
    """The x axis of a chart of the last ``window`` seconds (inf: all since ``oldest``)
    whose plot area is ``width`` cells wide.

    x values are seconds relative to ``now`` (negative .. 0) and the range is the whole
    window, whatever part of it has data. Up to an hour: ``-5m .. now`` on round
    minutes; longer and "all": local clock times on round steps (``16:00``), none so
    close to an end that plotext would push its label into its neighbour's.
    """
    span = span_of(window, now, oldest)
    lo = -span
    cells = max(width, 1)

    def roomy(step: int, label_width: int, ends: int) -> bool:
        # Neighbouring labels at least two cells apart, and not too many of them
        # (relative ticks include both ends of the range; clock ticks neither).
        count = math.floor(span / step + 1e-9) + ends
        return cells * step / span >= label_width + 2 and count <= MAX_TIME_TICKS

    if math.isfinite(window) and span <= RELATIVE_LIMIT:
        step = next((s for s in RELATIVE_STEPS if roomy(s, RELATIVE_LABEL, 1)), RELATIVE_STEPS[-1])
        count = math.floor(span / step + 1e-9)
        ticks = [float(-i * step) for i in range(count, -1, -1)]  # 0, not -0.0
        return Axis(lo, 0.0, tuple(ticks), tuple(relative_label(t) for t in ticks))
    step = next((s for s in CLOCK_STEPS if roomy(s, CLOCK_LABEL, 0)), CLOCK_STEPS[-1])
    # Seconds that half a label takes up at either end: plotext would push a label
    # closer to an end inwards, towards its neighbour.
    margin = span * (CLOCK_LABEL / 2) / cells
    ticks = [t for t in _clock_ticks(lo, now, step, localtime) if lo + margin <= t <= -margin]
    if len(ticks) > MAX_TIME_TICKS:  # longer than the longest step covers: every n-th
        ticks = ticks[:: math.ceil(len(ticks) / MAX_TIME_TICKS)]
    if not ticks:
        # Too few cells for any round step: the middle of the range alone.
        ticks = [lo / 2]
    labels = tuple(clock_label(now + t, step, localtime) for t in ticks)
    return Axis(lo, 0.0, tuple(ticks), labels)


# ------------------------------------------------------------------ series


#: RGB colour of each named series, the same in the plot and in its legend.
SERIES_COLORS: dict[str, tuple[int, int, int]] = {
    "in": (0, 130, 200),
    "out": (60, 180, 75),
    "calls": (0, 130, 200),
    "violations": (230, 25, 75),
    "alerts": (255, 225, 25),
    "blocks": (245, 130, 48),
}
#: Colours of series not named above, in turn.
OTHER_COLORS: tuple[tuple[int, int, int], ...] = ((145, 30, 180), (70, 240, 240), (240, 50, 230))


def color_of(name: str, index: int = 0) -> tuple[int, int, int]:
    return SERIES_COLORS.get(name, OTHER_COLORS[index % len(OTHER_COLORS)])


def segments(
    xs: Sequence[float], ys: Sequence[float | None], lo: float, hi: float
) -> list[tuple[list[float], list[float]]]:
    """The runs of points with a value (None is a gap) and an x in [lo, hi], in order."""
    runs: list[tuple[list[float], list[float]]] = []
    run: tuple[list[float], list[float]] = ([], [])
    for x, y in zip(xs, ys, strict=False):
        if y is None or not math.isfinite(y) or not lo <= x <= hi:
            if run[0]:
                runs.append(run)
                run = ([], [])
            continue
        run[0].append(x)
        run[1].append(max(0.0, float(y)))
    if run[0]:
        runs.append(run)
    return runs
