"""Formatting of numbers, rates, ages and sparklines for people (no UI toolkit here)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from tui.errors import one_line

_SUFFIXES = ("", "k", "M", "G", "T", "P", "E")
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def compact(value: int | float | None) -> str:
    """``45678`` -> ``45.7k``; at most 6 characters for any size; None -> ``?``."""
    if value is None:
        return "?"
    v = float(value) if isinstance(value, float) else value
    sign = "-" if v < 0 else ""
    v = abs(v)
    if v < 1000:
        return f"{sign}{v:.0f}" if isinstance(v, float) else f"{sign}{v}"
    for i, suffix in enumerate(_SUFFIXES[1:], start=1):
        scaled = v / 1000**i
        if scaled < 99.95:
            return f"{sign}{scaled:.1f}{suffix}"
        if scaled < 999.5:
            return f"{sign}{scaled:.0f}{suffix}"
    # Beyond exa: scientific, still short and exact in its leading digits.
    digits = str(int(v))
    return f"{sign}{digits[0]}.{digits[1]}e{len(digits) - 1}"


def exact(value: int | None) -> str:
    """Full digits with thousands separators; None -> ``?``."""
    return "?" if value is None else f"{value:,}"


def rate(value: float | None, unit: str = "/m") -> str:
    return "-" if value is None else f"{compact(round(value))}{unit}" if unit else compact(value)


def age(seconds: float | None) -> str:
    """``3 s``, ``4 min``, ``2 h 5 min``, ``3 d``."""
    if seconds is None:
        return "never"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    return f"{s // 86400} d"


def wall_time(at: float, now: float) -> str:
    """A moment as local wall-clock time, ``14:03:27``; with its date when not today."""
    t = time.localtime(at)
    if t[:3] == time.localtime(now)[:3]:
        return time.strftime("%H:%M:%S", t)
    return time.strftime("%Y-%m-%d %H:%M:%S", t)


def updated(last_ok: float | None, now: float, behind: bool) -> str:
    """``updated 14:03:27``, and how long ago when the data is ``behind``.

    A clock time rather than an age (like ``watch``): it changes only when data
    arrives, so an idle monitor does not repaint every second to count.
    """
    if not last_ok:
        return "no data yet"
    text = f"updated {wall_time(last_ok, now)}"
    return f"{text} ({age(now - last_ok)} ago)" if behind else text


def sparkline(values: Sequence[int | None], width: int) -> str:
    """Block characters for the last ``width`` values, scaled to their maximum.

    Zero draws the lowest block (so an idle line is visible), unknown draws a
    space. Fewer values than ``width`` are padded on the left.
    """
    vals = list(values)[-width:]
    known = [v for v in vals if v is not None]
    top = max(known) if known else 0
    chars = []
    for v in vals:
        if v is None:
            chars.append(" ")
        elif top <= 0 or v <= 0:
            chars.append(SPARK_BLOCKS[0])
        else:
            idx = 1 + (v * (len(SPARK_BLOCKS) - 2)) // top
            chars.append(SPARK_BLOCKS[min(idx, len(SPARK_BLOCKS) - 1)])
    return "".join(chars).rjust(width)


def safe_text(text: object, limit: int = 64) -> str:
    """Untrusted server text as one printable line, truncated with an ellipsis."""
    return one_line(text, limit)
