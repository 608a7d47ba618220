"""Formatting of numbers, rates, ages and sparklines for people (no UI toolkit here)."""

from __future__ import annotations

import functools
import math
import re
import time
import unicodedata
from collections.abc import Sequence

from tui.errors import one_line

_SUFFIXES = ("", "k", "M", "G", "T", "P", "E")
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


#: The widest compact figure (and what ``compact`` fits into unless told otherwise).
COMPACT_WIDTH = 6


#: The table formats every visible counter on every poll, mostly the same values as
#: the poll before (idle configurations): remembered, not worked out again.
@functools.lru_cache(maxsize=8192, typed=True)
def compact(value: int | float | None, width: int = COMPACT_WIDTH) -> str:
    """``45678`` -> ``45.7k`` in at most ``width`` characters; None -> ``?``.

    The most precise form that fits wins: the number itself below 1000; else a
    suffix (k M G T P E) with one decimal below 100 of its unit (``45.7k``), without
    the decimal when that is too wide (``46k`` in 4 cells) or at 100 and more
    (``457k``); beyond that a power of ten (``1.2e40``, ``1e40``). Rounding is half
    up and only ever to the shown precision, so the magnitude is never wrong
    (99,999 in 4 cells is ``100k``, 999,999 is ``1.0M``). Only a width no form fits
    (under 4 cells for a negative figure, or a figure of 10**100 and more in 4)
    gives the shortest form, wider than asked.
    """
    if value is None:
        return "?"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "?"
        n = int(abs(value) + 0.5)
    else:
        n = abs(value)
    sign = "-" if value < 0 and n else ""
    forms = _compact_forms(n)
    for text in forms:
        if len(sign) + len(text) <= width:
            return sign + text
    return sign + min(forms, key=len)


def _round_div(n: int, d: int) -> int:
    """``n / d`` rounded half up, in integers (exact for any size)."""
    return (2 * n + d) // (2 * d)


def _compact_forms(n: int) -> list[str]:
    """Compact forms of ``n >= 0``, most precise first."""
    if n < 1000:
        return [str(n)]
    forms = []
    for i, suffix in enumerate(_SUFFIXES[1:], start=1):
        unit = 1000**i
        whole = _round_div(n, unit)
        if whole < 1000:
            tenths = _round_div(n * 10, unit)
            if tenths < 1000:  # below 99.95 of the unit: one decimal
                forms.append(f"{tenths // 10}.{tenths % 10}{suffix}")
            forms.append(f"{whole}{suffix}")
            break
    # A power of ten: with one decimal, then without.
    exp = len(str(n)) - 1
    tenths = _round_div(n * 10, 10**exp)
    e1 = exp + 1 if tenths >= 100 else exp
    tenths = 10 if tenths >= 100 else tenths
    forms.append(f"{tenths // 10}.{tenths % 10}e{e1}")
    whole = _round_div(n, 10**exp)
    e0 = exp + 1 if whole >= 10 else exp
    forms.append(f"{1 if whole >= 10 else whole}e{e0}")
    return forms


def exact(value: int | None) -> str:
    """Full digits with thousands separators; None -> ``?``."""
    return "?" if value is None else f"{value:,}"


def wrap_number(text: str, width: int) -> list[str]:
    """An exact figure (``+1,234,567``) as lines of at most ``width`` characters.

    Lines break only after a thousands separator, which ends the line so that a
    reader sees the figure goes on. A digit group wider than ``width`` stays whole
    on its line (wider than asked: a number is never cut).
    """
    lines: list[str] = []
    line = ""
    for part in re.findall(r"[^,]*,|[^,]+", text):
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = ""
        line += part
    lines.append(line)
    return lines


def rate(value: float | None, unit: str = "/m") -> str:
    """A rate as a compact figure and its unit: at most ``COMPACT_WIDTH`` + unit characters."""
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


def _needs_escape(ch: str) -> bool:
    # Controls, format characters (bidi overrides, zero-width), unassigned and
    # private-use code points, and every space but the plain one.
    return ch == "\\" or (ch != " " and (unicodedata.category(ch)[0] in "CZ"))


def has_controls(text: str) -> bool:
    """Whether ``text`` holds a control, format (bidi, zero-width) or line-separator character."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in text)


def escaped_id(text: str, limit: int = 200) -> str:
    """An identifier shown so that two different ones never look alike.

    Printable characters stand for themselves; a backslash and every control,
    format, private-use or space character other than " " is written as a Python
    escape (``\\x1b``, ``\\u202e``), so the mapping is one-to-one. Only an id longer
    than ``limit`` is cut (with an ellipsis); the drill-down shows ids up to 200.
    """
    out: list[str] = []
    for ch in text:
        if not _needs_escape(ch):
            out.append(ch)
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    s = "".join(out)
    return s if len(s) <= limit else s[: limit - 1] + "…"
