"""The history file's compact sample encoding: chunks of one configuration's samples.

A *chunk* holds consecutive samples of one configuration (the ones whose counters
changed; see :mod:`tui.tiers` for how unchanged polls are kept as runs). It is laid
out by column (the times, then each counter), each column as its deltas less their
smallest ("frame of reference": a steady counter or polls 5 s apart leave small
numbers), a counter that moves with one of the two before it (LLM tokens with
tokens) as its difference from that one, and the whole compressed with :mod:`zlib`.
Columns are byte-shuffled ``array`` buffers and the running sums
:func:`itertools.accumulate`, so most of the work runs at C speed.

Exact integers. A column whose values are all known and whose deltas fit in
64 bits (every counter a real server sends) uses the fast path; a column with an
unknown value or a number beyond 64 bits (a 40-digit counter) is written as decimal
text instead (the escape path: rare, exact, slower).

A *present set* (which configurations a poll saw) is a sorted list of integer ids
written as runs of consecutive ids, in variable-length integers.

Damage (a flipped bit, a truncated blob) raises :class:`ChunkError`, never garbage:
zlib checks an Adler-32 of what it decompresses, and the layout is checked as read.
Standard library only.
"""

from __future__ import annotations

import itertools
import operator
import struct
import sys
import zlib
from array import array
from collections.abc import Iterable, Sequence

#: First byte of every chunk: the layout version.
FORMAT = 1
#: Column kinds: deltas; decimal text; deltas less those of the column 1 or 2 before.
_DELTA, _TEXT, _LESS_1, _LESS_2, _SCALED_1, _SCALED_2 = 0, 1, 2, 3, 4, 5
#: Kinds 4 and 5: deltas less those of the column 1 or 2 before, times a factor
#: stored as an integer with this many fraction bits.
_SHIFT = 24
_FACTOR = struct.Struct("<q")
_PAIR = struct.Struct("<qq")
_HEAD = struct.Struct("<BIB")  # format, samples, columns
_LEN = struct.Struct("<I")
_LITTLE = sys.byteorder == "little"
LEVEL = 6

Values = tuple[int | None, ...]


class ChunkError(ValueError):
    """A chunk or present set that cannot be decoded (damaged on disk)."""


def _deltas(column: Sequence[int]) -> list[int]:
    """Each value less the one before it (the first less zero)."""
    return [b - a for a, b in zip(itertools.chain((0,), column), column, strict=False)]


def _shuffle(data: bytes) -> bytes:
    """The bytes of 8-byte integers grouped by position (all low bytes first): small
    deltas leave the high planes zero, which zlib compresses to almost nothing."""
    return b"".join(data[i::8] for i in range(8))


def _unshuffle(data: bytes) -> bytes:
    n = len(data) // 8
    if n * 8 != len(data):
        raise ChunkError("chunk too short")
    out = bytearray(len(data))
    for i in range(8):
        out[i::8] = data[i * n : (i + 1) * n]
    return bytes(out)


def _spread(values: Sequence[int]) -> int:
    """How wide the values after the first are (what a frame-of-reference column costs)."""
    return max(values[1:]) - min(values[1:]) if len(values) > 2 else 0


def _pack_column(values: Sequence[int]) -> bytes | None:
    """A column of integers: the first (8 bytes), the smallest of the rest (8 bytes),
    then the rest less that smallest as byte-shuffled unsigned 64-bit integers
    (frame of reference: a steady counter's deltas, or two counters' differences,
    leave small numbers whose high bytes are all zero). None when one does not fit."""
    if not values:
        return b""
    rest = values[1:]
    base = min(rest) if rest else 0
    try:
        head = _PAIR.pack(values[0], base)
        packed = array("Q", [v - base for v in rest])
    except (struct.error, OverflowError):
        return None
    if not _LITTLE:
        packed.byteswap()
    return head + _shuffle(packed.tobytes())


def _unpack_column(body: bytes, pos: int, n: int) -> tuple[list[int], int]:
    """The values :func:`_pack_column` wrote at ``pos``, and the position after them."""
    if not n:
        return [], pos
    first, base = _PAIR.unpack_from(body, pos)
    pos += _PAIR.size
    if n == 1:
        return [first], pos
    size = 8 * (n - 1)
    packed = array("Q")
    packed.frombytes(_unshuffle(body[pos : pos + size]))
    if len(packed) != n - 1:
        raise ChunkError("chunk too short")
    if not _LITTLE:
        packed.byteswap()
    out = [first]
    out.extend(map(base.__add__, packed) if base else packed)
    return out, pos + size


def encode_chunk(times: Sequence[int], rows: Sequence[Values]) -> bytes:
    """Encode samples (times in integer milliseconds, ascending; ``rows`` their counters).

    Layout (zlib-compressed after a 6-byte header): a kind byte per column, then the
    columns (see :func:`_pack_column`). Times: their deltas. A counter: its deltas
    (kind 0), or its deltas less those of the column one or two before it (kinds 2
    and 3), or less those times a factor (kinds 4 and 5: the factor, 8 bytes, first),
    whichever spreads clearly least (counters that move together, such as tokens in
    and LLM tokens in, leave small differences); or decimal text (kind 1: unknown
    values, numbers beyond 64 bits).
    """
    n = len(times)
    if n != len(rows):
        raise ValueError("times and rows differ in length")
    width = len(rows[0]) if rows else 0
    time_part = _pack_column(_deltas(times))
    if time_part is None:
        raise ValueError("sample times must be 64-bit integers")
    kinds = bytearray((_DELTA,))
    parts = [time_part]
    deltas: list[list[int] | None] = [None]
    for col_no, column in enumerate(zip(*rows, strict=True) if rows else (), 1):
        d = None if None in column else _deltas(column)
        part = None if d is None else _pack_column(d)
        deltas.append(d if part is not None else None)
        if part is None or d is None:
            text = ",".join("" if v is None else str(v) for v in column).encode("ascii")
            kinds.append(_TEXT)
            parts.append(_LEN.pack(len(text)) + text)
            continue
        kind, cost, factor, best = _DELTA, _spread(d), 0, d
        for back, less, scaled in ((1, _LESS_1, _SCALED_1), (2, _LESS_2, _SCALED_2)):
            ref = deltas[col_no - back] if col_no - back >= 1 else None
            if ref is None or cost < 2:
                continue  # nothing to refer to, or nothing to gain (a steady column)
            tries = [(less, list(map(operator.sub, d, ref)), 0)]
            total = sum(ref[1:])
            if total:
                p = round(sum(d[1:]) * (1 << _SHIFT) / total)
                if abs(p) < 1 << 62:
                    rest = [a - (b * p >> _SHIFT) for a, b in zip(d, ref, strict=True)]
                    tries.append((scaled, rest, p))
            for try_kind, rest, p in tries:
                spread = _spread(rest)
                if spread < cost // 2:  # clearly better
                    kind, cost, factor, best = try_kind, spread, p, rest
        packed = _pack_column(best) if best is not d else part
        if packed is None:
            kind, factor, packed = _DELTA, 0, part
        kinds.append(kind)
        parts.append(_FACTOR.pack(factor) + packed if kind in (_SCALED_1, _SCALED_2) else packed)
    body = bytes(kinds) + b"".join(parts)
    return _HEAD.pack(FORMAT, n, width) + zlib.compress(body, LEVEL)


def decode_chunk(blob: bytes) -> tuple[list[int], list[Values]]:
    """The (times, rows) :func:`encode_chunk` was given; :class:`ChunkError` when damaged."""
    try:
        fmt, n, width = _HEAD.unpack_from(blob)
        if fmt != FORMAT:
            raise ChunkError(f"unknown chunk format {fmt}")
        body = zlib.decompress(memoryview(blob)[_HEAD.size :])
    except (struct.error, zlib.error) as exc:
        raise ChunkError(str(exc)) from exc
    kinds = body[: width + 1]
    if len(kinds) != width + 1 or kinds[0] != _DELTA:
        raise ChunkError("chunk too short")
    pos = width + 1
    columns: list[list[int] | list[int | None]] = []
    deltas: list[list[int] | None] = []
    try:
        for col_no, kind in enumerate(kinds):
            if kind == _TEXT:
                (size,) = _LEN.unpack_from(body, pos)
                pos += _LEN.size
                text = body[pos : pos + size].decode("ascii")
                pos += size
                col = [int(v) if v else None for v in text.split(",")] if n else []
                if len(col) != n or not col_no:
                    raise ChunkError("chunk column length differs")
                columns.append(col)
                deltas.append(None)
                continue
            factor = 0
            if kind in (_SCALED_1, _SCALED_2):
                (factor,) = _FACTOR.unpack_from(body, pos)
                pos += _FACTOR.size
            values, pos = _unpack_column(body, pos, n)
            if kind in (_LESS_1, _LESS_2, _SCALED_1, _SCALED_2):
                at = col_no - (1 if kind in (_LESS_1, _SCALED_1) else 2)
                ref = deltas[at] if at >= 1 else None
                if ref is None:
                    raise ChunkError("chunk column refers to no column")
                if kind in (_LESS_1, _LESS_2):
                    values = list(map(operator.add, values, ref))
                else:
                    values = [r + (b * factor >> _SHIFT) for r, b in zip(values, ref, strict=True)]
            elif kind != _DELTA:
                raise ChunkError(f"unknown column kind {kind}")
            deltas.append(values if col_no else None)
            columns.append(list(itertools.accumulate(values)))
    except (struct.error, ValueError) as exc:
        raise ChunkError(str(exc)) from exc
    if pos != len(body) or not columns:
        raise ChunkError("chunk length differs")
    times: list[int] = columns[0]  # type: ignore[assignment]  # the times column is never text
    return times, list(zip(*columns[1:], strict=True)) if width else [() for _ in times]


# ---------------------------------------------------------------------------- varints


def _varint(out: bytearray, v: int) -> None:
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _varints(blob: bytes) -> list[int]:
    out: list[int] = []
    v = shift = 0
    for b in blob:
        v |= (b & 0x7F) << shift
        if b & 0x80:
            shift += 7
        else:
            out.append(v)
            v = shift = 0
    if shift:
        raise ChunkError("truncated integer")
    return out


def encode_present(ids: Iterable[int]) -> bytes:
    """Sorted non-negative ids as (gap, run length) pairs of variable-length integers."""
    out = bytearray()
    prev_end = 0
    start = -1
    end = -1
    for i in ids:
        if i == end:
            end += 1
            continue
        if i < end:
            raise ValueError("ids must be ascending and distinct")
        if start >= 0:
            _varint(out, start - prev_end)
            _varint(out, end - start)
            prev_end = end
        start, end = i, i + 1
    if start >= 0:
        _varint(out, start - prev_end)
        _varint(out, end - start)
    return bytes(out)


def decode_present(blob: bytes) -> list[int]:
    """The ids :func:`encode_present` was given."""
    nums = _varints(blob)
    if len(nums) % 2:
        raise ChunkError("present set has an odd number of integers")
    out: list[int] = []
    pos = 0
    for gap, length in zip(nums[::2], nums[1::2], strict=True):
        start = pos + gap
        out.extend(range(start, start + length))
        pos = start + length
    return out


def present_count(blob: bytes) -> int:
    """How many ids a present set holds (without listing them)."""
    return sum(_varints(blob)[1::2])


# ---------------------------------------------------------------------------- one sample

#: First byte of a packed sample: varint counters whole (0) or as differences from
#: the sample before (1); fixed-width differences from the sample before (2), the
#: second byte the width in bytes (1, 2, 4 or 8), the same for every counter.
_WHOLE, _RELATIVE, _FIXED = 0, 1, 2
#: Width in bytes -> its struct code (signed), narrowest first.
_WIDTHS = {1: "b", 2: "h", 4: "i", 8: "q"}
_FIXED_STRUCTS: dict[tuple[int, int], struct.Struct] = {}


def _fixed_struct(width: int, n: int) -> struct.Struct:
    got = _FIXED_STRUCTS.get((width, n))
    if got is None:
        got = _FIXED_STRUCTS[(width, n)] = struct.Struct(f"<{n}{_WIDTHS[width]}")
    return got


def pack_values(values: Values, base: Values | None) -> bytes:
    """One sample's counters, the difference from ``base`` (the sample before it; None:
    whole). Differences that fit 64 bits, with every value known, are fixed-width
    integers (one :mod:`struct` call: packing a poll's samples is the writer's
    hot path); otherwise variable-length integers (zigzagged, plus one; 0: unknown)."""
    if base is not None and None not in values and None not in base and len(values) == len(base):
        deltas = list(map(operator.sub, values, base))
        lo, hi = min(deltas, default=0), max(deltas, default=0)
        for width in _WIDTHS:
            limit = 1 << (8 * width - 1)
            if -limit <= lo and hi < limit:
                return bytes((_FIXED, width)) + _fixed_struct(width, len(deltas)).pack(*deltas)
    out = bytearray((_WHOLE if base is None else _RELATIVE,))
    for i, v in enumerate(values):
        if v is None:
            out.append(0)
            continue
        b = base[i] if base is not None else None
        d = v - (b or 0)
        _varint(out, (d << 1 if d >= 0 else ((-d) << 1) - 1) + 1)
    return bytes(out)


def unpack_values(blob: bytes, base: Values | None) -> Values:
    """The counters :func:`pack_values` was given (with the same ``base``)."""
    kind = blob[0] if blob else -1
    if kind not in (_WHOLE, _RELATIVE, _FIXED):
        raise ChunkError("not a packed sample")
    relative = kind != _WHOLE
    if relative and base is None:
        raise ChunkError("a packed sample without the one before it")
    if kind == _FIXED:
        assert base is not None
        width = blob[1] if len(blob) > 1 else 0
        n, extra = divmod(len(blob) - 2, width) if width in _WIDTHS else (-1, -1)
        if extra or n != len(base) or None in base:
            raise ChunkError("a packed sample of another width")
        deltas = _fixed_struct(width, n).unpack_from(blob, 2)
        return tuple(map(operator.add, base, deltas))
    nums = _varints(blob[1:])
    if relative and base is not None and len(nums) != len(base):
        raise ChunkError("a packed sample of another width")
    out: list[int | None] = []
    for i, z in enumerate(nums):
        if z == 0:
            out.append(None)
            continue
        z -= 1
        d = z >> 1 if not z & 1 else -((z + 1) >> 1)
        b = base[i] if relative and base is not None else None
        out.append((b or 0) + d)
    return tuple(out)
