"""The history file's compact sample encoding: chunks of one configuration's samples.

A *chunk* holds consecutive samples of one configuration (the ones whose counters
changed; see :mod:`tui.store` for how unchanged polls are kept as runs). It is laid
out by column (the times, then each counter), each column as delta-of-delta integers
(a counter that grows at a steady rate, or polls 5 s apart, give zeros), and the
whole compressed with :mod:`zlib`. Encoding and decoding run at C speed: the columns
are ``array('q')`` buffers and the running sums are :func:`itertools.accumulate`.

Exact integers. A column whose values are all known and whose deltas-of-deltas fit in
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
_DELTA, _TEXT, _LESS_1, _LESS_2 = 0, 1, 2, 3
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


def _int64(values: list[int]) -> array[int] | None:
    """``values`` as int64, or None when one does not fit."""
    try:
        return array("q", values)
    except OverflowError:
        return None


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


def encode_chunk(times: Sequence[int], rows: Sequence[Values]) -> bytes:
    """Encode samples (times in integer milliseconds, ascending; ``rows`` their counters).

    Layout (zlib-compressed after a 6-byte header): a kind byte per column, then the
    columns. Times: delta-of-delta. A counter: its deltas (kind 0), or its deltas less
    those of the column one or two before it (kinds 2 and 3: counters that move
    together, such as tokens in and LLM tokens in, leave small differences), or
    decimal text (kind 1: unknown values, numbers beyond 64 bits).
    """
    n = len(times)
    if n != len(rows):
        raise ValueError("times and rows differ in length")
    width = len(rows[0]) if rows else 0
    time_dod = _int64(_deltas(_deltas(times)))
    if time_dod is None:
        raise ValueError("sample times must be 64-bit integers")
    kinds = bytearray((_DELTA,))
    parts = [time_dod]
    texts: dict[int, bytes] = {}
    deltas: list[list[int] | None] = [None]
    for col_no, column in enumerate(zip(*rows, strict=True) if rows else (), 1):
        d = None if None in column else _deltas(column)
        packed = None if d is None else _int64(d)
        deltas.append(d if packed is not None else None)
        if packed is None:
            text = ",".join("" if v is None else str(v) for v in column).encode("ascii")
            kinds.append(_TEXT)
            texts[col_no] = _LEN.pack(len(text)) + text
            parts.append(array("q"))
            continue
        assert d is not None
        kind, best, cost = _DELTA, packed, sum(map(abs, d))
        for back, ref_kind in ((1, _LESS_1), (2, _LESS_2)):
            ref = deltas[col_no - back] if col_no - back >= 1 else None
            if ref is None:
                continue
            rest = list(map(operator.sub, d, ref))
            size = sum(map(abs, rest))
            if size < cost // 2:  # clearly better (a lone sample's delta is its value)
                packed_rest = _int64(rest)
                if packed_rest is not None:
                    kind, best, cost = ref_kind, packed_rest, size
        kinds.append(kind)
        parts.append(best)
    body = bytearray(kinds)
    for col_no, part in enumerate(parts):
        if col_no in texts:
            body += texts[col_no]
            continue
        if not _LITTLE:
            part.byteswap()
        body += _shuffle(part.tobytes())
    return _HEAD.pack(FORMAT, n, width) + zlib.compress(bytes(body), LEVEL)


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
    deltas: list[array[int] | None] = []
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
            raw = array("q")
            raw.frombytes(_unshuffle(body[pos : pos + 8 * n]))
            if len(raw) != n:
                raise ChunkError("chunk too short")
            if not _LITTLE:
                raw.byteswap()
            pos += 8 * n
            if kind in (_LESS_1, _LESS_2):
                at = col_no - (1 if kind == _LESS_1 else 2)
                ref = deltas[at] if at >= 1 else None
                if ref is None:
                    raise ChunkError("chunk column refers to no column")
                raw = array("q", map(operator.add, raw, ref))
            elif kind != _DELTA:
                raise ChunkError(f"unknown column kind {kind}")
            if not col_no:
                raw = array("q", itertools.accumulate(raw))  # the times: twice
            deltas.append(raw if col_no else None)
            columns.append(list(itertools.accumulate(raw)))
    except (struct.error, ValueError, OverflowError) as exc:
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


def pack_values(values: Values, base: Values | None) -> bytes:
    """One sample's counters as variable-length integers: each the zigzagged difference
    from ``base`` (the sample before it; None: from zero), plus one, 0 when unknown."""
    out = bytearray((0 if base is None else 1,))
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
    if not blob or blob[0] not in (0, 1):
        raise ChunkError("not a packed sample")
    relative = blob[0] == 1
    if relative and base is None:
        raise ChunkError("a packed sample without the one before it")
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
