"""Per-configuration time series of counters, with deltas, rates and counter resets.

Fixed-size ring buffers in memory; nothing here grows with run time. Deltas and
rates divide by the *measured* time between samples, never the nominal interval.
A counter that goes down is a reset: the delta for that interval is the new value
(what accumulated since the reset), never negative, and the reset is recorded.

Each series keeps its samples in arrays, not objects: which record holds each
sample's counters (2 bytes), its time as a tick on a :class:`Timeline` the history's
series share (nothing per sample while a configuration is in every poll), and a ring
of 80-byte records, one per *change* (a poll that moved no counter adds no record:
most configurations, most polls). So ten thousand configurations with an hour each,
a tenth of them changing, take about 75 MB (an 80-byte record per sample took 580)
and give the garbage collector nothing per sample to walk; readers unpack only what
they look at. The token rate every row shows is O(1) per
poll (see :meth:`Series.rate_per_minute`).
"""

from __future__ import annotations

import itertools
import math
import struct
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tui.counters import COUNTERS, EVENT_INDICES, TOKENS_IN, TOKENS_OUT
from tui.models import LlmStats

DEFAULT_MAXLEN = 720  # one hour at 5 s
DEFAULT_FORGET_AFTER = 3600.0
#: Polls recorded between trims of a history's timeline.
TRIM_EVERY = 256
_EVENT_IDX = EVENT_INDICES


@dataclass(frozen=True, slots=True)
class Sample:
    """The counters of one configuration at one moment (epoch seconds)."""

    at: float
    values: tuple[int | None, ...]


@dataclass(frozen=True, slots=True)
class Increase:
    """A counter that went up between two samples."""

    ai_llm_id: str
    counter: str
    delta: int


@dataclass(slots=True)
class Changes:
    """What one recorded poll changed, for marking cells and raising alerts."""

    #: id -> indices of counters whose value differs from the previous sample.
    changed: dict[str, frozenset[int]] = field(default_factory=dict)
    #: New violations, alerts and blocks.
    events: list[Increase] = field(default_factory=list)
    #: (id, counter) pairs that went down in this poll (told to the user once).
    resets: list[tuple[str, str]] = field(default_factory=list)


#: One held sample: its time, the running sum of token growth (in + out, modulo
#: 2**64) up to it, and the counters as unsigned 64-bit integers.
_RECORD = struct.Struct(f"<dQ{len(COUNTERS)}Q")
_CUM = struct.Struct("<8xQ")
_SIZE = _RECORD.size
_ZEROS = (0,) * len(COUNTERS)
_MASK = (1 << 64) - 1
_TOKEN_PAIR = (TOKENS_IN, TOKENS_OUT)
#: What a fast path answers when the general one must answer instead (no rate is
#: negative).
_SLOW = -1.0
_NOTHING: tuple[frozenset[int], list[tuple[int, int]], list[int]] = (frozenset(), [], [])


def delta(old: int | None, new: int | None) -> int | None:
    """Growth of one counter between two samples; a decrease is a reset."""
    if old is None or new is None:
        return None
    return new - old if new >= old else new


#: indices -> (a struct reading a record's time and the distinct counters among
#: ``indices`` in ascending order, those counters, where each of ``indices`` is in them).
_PICKERS: dict[tuple[int, ...], tuple[struct.Struct, tuple[int, ...], tuple[int, ...]]] = {}


def _picker(indices: tuple[int, ...]) -> tuple[struct.Struct, tuple[int, ...], tuple[int, ...]]:
    """How to unpack only the time and the counters ``indices`` from a packed record."""
    got = _PICKERS.get(indices)
    if got is None:
        if any(not 0 <= i < len(COUNTERS) for i in indices):
            raise IndexError(f"no counter at {indices}")
        wanted = tuple(sorted(set(indices)))
        fmt, pos = "<d8x", 0  # the time, then skip the running sum
        for i in wanted:
            fmt += f"{(i - pos) * 8}xQ" if i > pos else "Q"
            pos = i + 1
        got = _PICKERS[indices] = (
            struct.Struct(fmt),
            wanted,
            tuple(wanted.index(i) for i in indices),
        )
    return got


def _picked(sample: Sample, wanted: tuple[int, ...]) -> tuple[Any, ...]:
    """A sample that does not pack, as a picker reads a packed one: (time, *counters)."""
    return (sample.at, *(sample.values[i] for i in wanted))


def _token_growth(old: tuple[int | None, ...], new: tuple[int | None, ...]) -> int:
    """Tokens in + out grown between two value tuples (0 where a value is unknown)."""
    total = 0
    for i in _TOKEN_PAIR:
        d = delta(old[i], new[i])
        if d:
            total += d
    return total


class Timeline:
    """Sample times, each stored once for all the series of a :class:`History`.

    A poll's time is the same for every configuration in it, so a series keeps
    *ticks* (a time's number here) instead of times, and while its samples are at
    consecutive ticks (present in every poll: nearly always) it keeps only the first.
    Times are dropped from the front with :meth:`trim`, once no series refers to them.
    """

    __slots__ = ("_base", "_recent", "_times")

    #: Times remembered for finding their tick again (loading a stored hour gives
    #: every configuration the same times, one configuration after another).
    RECENT = 4096

    def __init__(self) -> None:
        self._times = array("d")
        self._base = 0  # the tick of _times[0]
        self._recent: dict[float, int] = {}

    def __len__(self) -> int:
        return len(self._times)

    def tick(self, at: float) -> int:
        """The tick of time ``at``: an earlier one with that time, else a new one."""
        t = self._recent.get(at)
        if t is not None and t >= self._base:
            return t
        t = self._base + len(self._times)
        self._times.append(at)
        if len(self._recent) >= self.RECENT:
            self._recent.clear()
        self._recent[at] = t
        return t

    @property
    def base(self) -> int:
        return self._base

    @property
    def times(self) -> array[float]:
        """The times held; the time of tick ``t`` is ``times[t - base]``."""
        return self._times

    def at(self, tick: int) -> float:
        return self._times[tick - self._base]

    def trim(self, oldest: int) -> None:
        """Forget the times of the ticks before ``oldest``."""
        k = oldest - self._base
        if k <= 0:
            return
        del self._times[:k]
        self._base = oldest
        self._recent = {at: t for at, t in self._recent.items() if t >= oldest}


class _BucketMemo(NamedTuple):
    """One answer of :meth:`Series.bucket_rates`, and what it depends on."""

    key: tuple[tuple[int, ...], float, float, int, float]
    #: The newest sample was at or past ``end``: later samples cannot change it.
    complete: bool
    #: Samples ever appended when it was computed.
    seq: int
    #: Sequence number of the oldest sample it read (it holds while that is held).
    oldest_read: int
    points: tuple[float | None, ...]


class Series:
    """The last ``maxlen`` samples of one configuration.

    Each sample is its time's tick on a :class:`Timeline` (shared by a
    :class:`History`'s series; only the first is kept while they are consecutive)
    and the slot of the record that holds its counters, in arrays of plain numbers
    (no Python object per sample: nothing for the garbage collector to walk).
    Records (80 bytes: the time of the change, the running sum of token growth and
    the counters) live in a third ring, a
    ``bytearray`` that holds one record per *change*: a sample equal to the one
    before it points at the same record, and a record goes when the last sample
    pointing at it does. A record that does not pack (an unknown value, or one
    beyond 64 bits) keeps its :class:`Sample` in a side table. The running sum makes
    the token rate over any window one subtraction, and the window's start is found
    from where it was last time (amortized O(1) per poll).
    """

    __slots__ = (
        "_buckets",
        "_buf",
        "_changed_at",
        "_count",
        "_cum",
        "_hints",
        "_last_at",
        "_last_values",
        "_maxlen",
        "_odd",
        "_odd_seq",
        "_rcap",
        "_rcount",
        "_refs",
        "_reset_at",
        "_rstart",
        "_seq",
        "_start",
        "_tick0",
        "_ticks",
        "_tl",
        "_tl_own",
        "last_event_at",
        "last_seen",
    )

    def __init__(self, maxlen: int = DEFAULT_MAXLEN, timeline: Timeline | None = None) -> None:
        self._maxlen = max(1, maxlen)
        self._tl = Timeline() if timeline is None else timeline
        self._tl_own = timeline is None
        self._tick0 = 0  # the oldest sample's tick while the ticks are consecutive
        self._ticks: array[int] | None = None  # else each sample's tick, by slot
        self._refs = array("H" if self._maxlen <= 0xFFFF else "I")  # its record's slot
        self._start = 0  # slot of the oldest sample once the ring is full
        self._count = 0
        self._seq = 0  # samples ever appended; the oldest held is _seq - _count
        self._buf = bytearray()  # the records: a ring of _rcap slots
        self._rcap = 1
        self._rstart = 0  # slot of the oldest record
        self._rcount = 0
        self._odd: dict[int, Sample] = {}  # record slot -> a sample that does not pack
        self._odd_seq = -1  # sequence number of the newest sample that did not pack
        self._hints: dict[float, int] = {}  # window -> sequence number of its last start
        #: The last answer of :meth:`bucket_rates` and when it still holds (see there).
        self._buckets: _BucketMemo | None = None
        self._cum = 0
        self._changed_at = 0.0  # when the values last differed from the sample before
        self._reset_at = -math.inf  # when a counter last went down (the server reset it)
        self._last_at = 0.0
        self._last_values: tuple[int | None, ...] | None = None
        self.last_seen = 0.0
        #: counter index -> when it last went up (for colouring event counters).
        self.last_event_at: dict[int, float] = {}

    def __len__(self) -> int:
        return self._count

    # ------------------------------------------------------------------ storage

    def _append(self, at: float, values: tuple[int | None, ...], cum: int) -> None:
        """Add a sample with a record of its own (its values changed)."""
        try:
            record = _RECORD.pack(at, cum, *values)
            odd = None
        except (struct.error, TypeError):  # None, negative, >= 2**64 or the wrong count
            record = _RECORD.pack(at, cum, *_ZEROS)
            odd = Sample(at, values)
        if self._count == self._maxlen:
            self._drop_oldest()
        r = self._put_record(record)
        if odd is not None:
            self._odd[r] = odd
            self._odd_seq = self._seq
        self._put(at, r)
        self._cum = cum
        if values != self._last_values:
            self._changed_at = at
        self._last_at = at
        self._last_values = values

    def _repeat(self, at: float) -> None:
        """Add a sample equal to the newest one (no record: it points at the same)."""
        r = self._refs[(self._start + self._count - 1) % self._maxlen]
        if self._count == self._maxlen:
            self._drop_oldest()
        self._put(at, r)
        self._last_at = at

    def _put(self, at: float, r: int) -> None:
        """Store a sample after the newest (over the oldest once full)."""
        tick = self._tl.tick(at)
        n = self._count
        ticks = self._ticks
        if ticks is None and n and tick != self._tick0 + n:
            # Not the next tick (a poll without this configuration, or one of its
            # own): from now on each sample keeps its tick.
            ticks = self._ticks = array("L", [0]) * len(self._refs)
            for k in range(n):
                ticks[self._slot(k)] = self._tick0 + k
        if n < self._maxlen:
            self._refs.append(r)
            if ticks is not None:
                ticks.append(tick)
            elif not n:
                self._tick0 = tick
            self._count = n + 1
        else:
            slot = self._start
            self._start = (slot + 1) % self._maxlen
            self._refs[slot] = r
            if ticks is not None:
                ticks[slot] = tick
            else:
                self._tick0 += 1
        self._seq += 1
        if self._tl_own and len(self._tl) > 2 * self._maxlen + 64:
            self._tl.trim(self.oldest_tick)

    @property
    def oldest_tick(self) -> int:
        """The smallest tick a sample held refers to (a large number when empty)."""
        if not self._count:
            return 1 << 62
        if self._ticks is None:
            return self._tick0
        return min(self._ticks)

    def _drop_oldest(self) -> None:
        """The ring is full and its oldest sample is about to go: its record goes too
        unless the next sample points at it."""
        slot = self._start
        r = self._refs[slot]
        if self._count > 1 and self._refs[(slot + 1) % self._maxlen] == r:
            return
        self._rstart = (self._rstart + 1) % self._rcap
        self._rcount -= 1
        if self._odd:
            self._odd.pop(r, None)

    def _put_record(self, record: bytes) -> int:
        """Store a record after the newest; return its slot."""
        if self._rcount == self._rcap:
            self._grow_records()
        r = (self._rstart + self._rcount) % self._rcap
        at = r * _SIZE
        if at == len(self._buf):
            self._buf += record
        else:
            self._buf[at : at + _SIZE] = record
        self._rcount += 1
        return r

    def _grow_records(self) -> None:
        """Double the record ring (up to ``maxlen``), oldest record first in slot 0."""
        cap = self._rcap
        order = [(self._rstart + i) % cap for i in range(self._rcount)]
        where = {old: new for new, old in enumerate(order)}
        buf = self._buf
        self._buf = bytearray(b"".join(buf[o * _SIZE : (o + 1) * _SIZE] for o in order))
        self._refs = array(self._refs.typecode, (where.get(r, 0) for r in self._refs))
        if self._odd:
            self._odd = {where[r]: sample for r, sample in self._odd.items()}
        self._rstart = 0
        self._rcap = min(max(cap * 2, 2), self._maxlen + 1)

    def _slot(self, k: int) -> int:
        """The slot of the ``k``-th sample held, oldest first."""
        return (self._start + k) % self._maxlen

    def _at(self, k: int) -> float:
        tl = self._tl
        if self._ticks is None:
            return tl._times[self._tick0 + k - tl._base]
        return tl._times[self._ticks[(self._start + k) % self._maxlen] - tl._base]

    def _cum_at(self, k: int) -> int:
        return int(_CUM.unpack_from(self._buf, self._refs[self._slot(k)] * _SIZE)[0])

    def _sample(self, k: int) -> Sample:
        slot = self._slot(k)
        r = self._refs[slot]
        at = self._at(k)
        odd = self._odd.get(r) if self._odd else None
        if odd is not None:
            return odd if odd.at == at else Sample(at, odd.values)
        t = _RECORD.unpack_from(self._buf, r * _SIZE)
        return Sample(at, t[2:])

    def _newest_first(self) -> Iterator[Sample]:
        return map(self._sample, range(self._count - 1, -1, -1))

    @property
    def samples(self) -> list[Sample]:
        """Every sample held, oldest first (unpacks them all: prefer :meth:`since`)."""
        return [self._sample(k) for k in range(self._count)]

    @property
    def oldest_at(self) -> float | None:
        """Time of the oldest sample held (nothing unpacked but that one float)."""
        return self._at(0) if self._count else None

    @property
    def latest(self) -> Sample | None:
        if self._last_values is None:
            return None
        return Sample(self._last_at, self._last_values)

    # ------------------------------------------------------------------ adding

    def add(self, sample: Sample) -> tuple[frozenset[int], list[tuple[int, int]], list[int]]:
        """Append a sample; return (changed indices, [(index, delta) increases], reset indices)."""
        return self.add_values(sample.at, sample.values)

    def add_values(
        self, at: float, values: tuple[int | None, ...]
    ) -> tuple[frozenset[int], list[tuple[int, int]], list[int]]:
        """:meth:`add` without building a :class:`Sample` (the poll's hot path)."""
        prev = self._last_values
        if prev is None:
            self._append(at, values, 0)
            self.last_seen = at
            return _NOTHING
        if at <= self._last_at:
            return _NOTHING  # out of order or duplicate time: ignore
        self.last_seen = at
        if values == prev and self._odd_seq != self._seq - 1:
            # Nothing moved (most configurations, most polls): a new time pointing at
            # the newest record.
            self._repeat(at)
            return _NOTHING
        self._append(at, values, (self._cum + _token_growth(prev, values)) & _MASK)
        changed: set[int] = set()
        ups: list[tuple[int, int]] = []
        resets: list[int] = []
        for i, (old, new) in enumerate(zip(prev, values, strict=True)):
            if old != new:
                changed.add(i)
            if old is not None and new is not None:
                if new < old:
                    resets.append(i)
                elif new > old:
                    ups.append((i, new - old))
        if resets:
            self._reset_at = at
        return frozenset(changed), ups, resets

    def extend(self, samples: Iterable[Sample]) -> None:
        """Append older samples in time order without reporting changes (loading a store).

        Out-of-order samples are skipped; increases of event counters still set
        :attr:`last_event_at`, so a restart keeps a recent event's colour.
        """
        for sample in samples:
            prev = self._last_values
            cum = 0
            if prev is not None:
                if sample.at <= self._last_at:
                    continue
                if sample.values == prev and self._odd_seq != self._seq - 1:
                    self._repeat(sample.at)  # unchanged: no record of its own
                    self.last_seen = max(self.last_seen, sample.at)
                    continue
                for i in _EVENT_IDX:
                    old, new = prev[i], sample.values[i]
                    if old is not None and new is not None and new > old:
                        self.last_event_at[i] = sample.at
                if any(
                    o is not None and n is not None and n < o
                    for o, n in zip(prev, sample.values, strict=True)
                ):
                    self._reset_at = sample.at
                cum = (self._cum + _token_growth(prev, sample.values)) & _MASK
            self._append(sample.at, sample.values, cum)
            self.last_seen = max(self.last_seen, sample.at)

    # ------------------------------------------------------------------ reading

    def since(self, seconds: float) -> list[Sample]:
        """Samples from the last ``seconds`` (all of them when ``seconds`` is inf)."""
        if self._last_values is None:
            return []
        cutoff = self._last_at - seconds
        out: list[Sample] = []
        for sample in self._newest_first():
            if sample.at < cutoff:
                break
            out.append(sample)
        out.reverse()
        return out

    def interval_deltas(self, indices: Sequence[int], last: int) -> list[int | None]:
        """Per-interval growth of the sum of ``indices`` over the last ``last`` intervals."""
        pts = list(itertools.islice(self._newest_first(), last + 1))
        pts.reverse()
        out: list[int | None] = []
        for a, b in itertools.pairwise(pts):
            parts = [delta(a.values[i], b.values[i]) for i in indices]
            out.append(None if any(p is None for p in parts) else sum(p for p in parts if p))
        return out

    def interval_rates(self, indices: Sequence[int], last: int) -> list[int | None]:
        """Growth per minute of the sum of ``indices`` in each of the last ``last`` intervals.

        Unlike :meth:`interval_deltas` this does not depend on how long an interval
        was, so a gap (a restart, an outage, a drill-down polling faster) does not
        draw as a spike. It still depends on when the samples were taken (a poll 0.3 s
        after another reads 0, the next one more): the sparklines use
        :meth:`bucket_rates`.
        """
        n = self._count
        first = max(n - last - 1, 0)
        if tuple(indices) == _TOKEN_PAIR and self._odd_seq < self._seq - n + first:
            # From the running sums: no sample unpacked (each visible row, each poll).
            heads = [(self._at(k), self._cum_at(k)) for k in range(first, n)]
            return [
                round(((b_cum - a_cum) & _MASK) * 60.0 / (b_at - a_at))
                for (a_at, a_cum), (b_at, b_cum) in itertools.pairwise(heads)
            ]
        pts = list(itertools.islice(self._newest_first(), last + 1))
        pts.reverse()
        out: list[int | None] = []
        for a, b in itertools.pairwise(pts):
            parts = [delta(a.values[i], b.values[i]) for i in indices]
            span = b.at - a.at
            if span <= 0 or any(p is None for p in parts):
                out.append(None)
            else:
                out.append(round(sum(p for p in parts if p) * 60.0 / span))
        return out

    def bucket_rates(
        self,
        indices: Sequence[int],
        *,
        end: float,
        width: float,
        count: int,
        max_gap: float,
    ) -> list[float | None]:
        """Growth per minute of the sum of ``indices`` in ``count`` buckets of ``width`` s.

        The buckets are consecutive and the last one ends at ``end`` (the caller aligns
        ``end`` to the clock, a multiple of ``width``, so that every row's buckets line
        up and stay put between polls); the answer is oldest first. Unlike
        :meth:`interval_rates` a point does not depend on when the samples were taken:
        a 0.3 s interval (a key press just after a poll) or a second poller beside the
        first (a drill-down) changes no point of a counter that grows steadily.

        Between two consecutive samples ``a``, ``b`` with ``b.at - a.at <= max_gap``
        the counters are taken as linear in time, so an interval that straddles a
        bucket edge gives each bucket the share of its growth that falls inside it.
        An interval longer than ``max_gap``, or one with an unknown value, is a gap:
        it covers nothing. A counter that goes down is a reset (see :func:`delta`):
        the new value is that interval's growth, spread over the interval. A
        bucket's point is its covered growth / its covered seconds * 60, or None when
        less than half of the bucket is covered (a gap draws as a gap, never as 0
        or as a spike; a series shorter than the window is None before its start).

        Growth is exact integer arithmetic (counters may exceed 64 bits); only an
        interval's share of a bucket and the final division are floating point, so
        a 40-digit counter keeps its magnitude (relative error ~1e-16). Only the
        samples that overlap the window (and the one before it) are read, newest
        first, and only the counters asked for are unpacked: O(samples in window).
        """
        points: list[float | None] = [None] * max(count, 0)
        n = self._count
        if count <= 0 or width <= 0 or n < 2:
            return points
        # The answer reads no sample after the first at or past ``end`` (an interval
        # that starts there is skipped), so once the newest is past ``end`` only
        # dropping the oldest sample read can change it: the overview asks the same
        # question of every visible row on every poll until the next bucket edge.
        key = (tuple(indices), end, width, count, max_gap)
        memo = self._buckets
        if (
            memo is not None
            and memo.key == key
            and (memo.complete or memo.seq == self._seq)
            and self._seq - n <= memo.oldest_read
        ):
            return list(memo.points)
        pick, wanted, where = _picker(key[0])
        unpack = pick.unpack_from
        at_first = tuple(p + 1 for p in where)  # positions in (time, *counters wanted)
        start = end - width * count
        whole = [0] * count  # exact growth of the intervals that lie inside one bucket
        share = [0.0] * count  # the parts of intervals that straddle a bucket edge
        covered = [0.0] * count
        buf, odd, maxlen = self._buf, self._odd, self._maxlen
        refs, ticks = self._refs, self._ticks
        times, first = self._tl.times, self._tick0 - self._tl.base
        m = count - 1  # the bucket the walk is in, and its start
        edge = start + m * width
        k = n - 1
        slot = (self._start + k) % maxlen
        rb = refs[slot]
        held = odd.get(rb) if odd else None
        b = unpack(buf, rb * _SIZE) if held is None else _picked(held, wanted)
        b_at: float = self._at(k)
        while k > 0 and b_at > start:  # newest first, until the window's start
            k -= 1
            slot = slot - 1 if slot else maxlen - 1
            ra = refs[slot]
            if ra == rb:
                a = b  # the same record: nothing moved
            else:
                held = odd.get(ra) if odd else None
                a = unpack(buf, ra * _SIZE) if held is None else _picked(held, wanted)
            a_at: float = times[first + k] if ticks is None else times[ticks[slot] - self._tl.base]
            span = b_at - a_at
            if a_at < end and 0 < span <= max_gap:
                growth = 0
                for p in at_first:
                    old, new = a[p], b[p]
                    if old is None or new is None:
                        growth = -1  # unknown: a gap (growth is never negative)
                        break
                    if new != old:
                        growth += new - old if new > old else new  # down: a reset
                if growth >= 0:
                    hi = b_at if b_at < end else end
                    while edge >= hi:  # hi > start, so this stops at bucket 0
                        m -= 1
                        edge = start + m * width
                    if a_at >= edge and hi == b_at:  # the usual case: inside one bucket
                        whole[m] += growth
                        covered[m] += span
                    else:  # across edges: each bucket gets its share, by time
                        lo = a_at if a_at > start else start
                        j, bottom, top = m, edge, hi
                        while True:
                            part = top - (bottom if bottom > lo else lo)
                            if part > 0:
                                covered[j] += part
                                if growth:
                                    share[j] += growth * (part / span)
                            if bottom <= lo or j == 0:
                                break
                            j -= 1
                            top, bottom = bottom, start + j * width
            b, b_at, rb = a, a_at, ra
        half = width / 2
        for j in range(count):
            seconds = covered[j]
            if seconds >= half:
                total = share[j] + whole[j] if share[j] else whole[j]
                points[j] = total * 60 / seconds
        self._buckets = _BucketMemo(
            key, self._last_at >= end, self._seq, self._seq - n + k, tuple(points)
        )
        return points

    def _window_start(self, window: float, end: int, end_at: float) -> int:
        """The newest sample before ``end`` with ``end_at - at >= window`` (else the
        oldest), found from where it was last time (amortized O(1) per poll)."""
        first_seq = self._seq - self._count
        k = self._hints.get(window, first_seq - 1) - first_seq
        if 0 <= k < end and end_at - self._at(k) >= window:
            while k + 1 < end and end_at - self._at(k + 1) >= window:
                k += 1
        else:
            lo, hi = 0, end  # the answer is the last k in [0, end) that qualifies
            while lo < hi:
                mid = (lo + hi) // 2
                if end_at - self._at(mid) >= window:
                    lo = mid + 1
                else:
                    hi = mid
            k = max(lo - 1, 0)
        self._hints[window] = first_seq + k
        return k

    def span_rate(self, index: int, window: float) -> float | None:
        """Growth per minute of one counter over about the last ``window`` seconds, from
        the two ends of the span alone (O(1), for slow-moving figures over long
        windows such as a budget's burn rate). When a counter went down inside the
        span (the server reset it), or a value is unknown, it walks the span as
        :meth:`rate_per_minute` does."""
        n = self._count
        if n < 2:
            return None
        if self._last_at - self._changed_at >= window and self._odd_seq != self._seq - 1:
            return 0.0  # nothing has moved for the whole window
        end = n - 1
        end_at = self._at(end)
        k = self._window_start(window, end, end_at)
        start_at = self._at(k)
        a, b = self._sample(k).values[index], self._sample(end).values[index]
        span = end_at - start_at
        if span <= 0:
            return None
        if a is None or b is None or b < a or self._reset_at > start_at:
            return self.rate_per_minute((index,), window)
        return (b - a) * 60.0 / span

    def increase(
        self, index: int, window: float, end: float | None = None, not_before: float = -math.inf
    ) -> int | None:
        """How much one counter went up within the ``window`` seconds before ``end``
        (default: the newest sample), for alert rules on event counters.

        The sum, over consecutive samples ``a``, ``b`` with ``b.at > end - window``, of
        ``b - a`` where the counter went up. A decrease (the server reset the counter)
        adds nothing, and neither does the interval after an unknown value: unlike
        :func:`delta`, a reset is never taken for new events, so it never raises a
        false alert. None with fewer than two samples or when the newest value is
        unknown.

        O(1) for the series that did not change within the window (nearly all of
        them): :attr:`last_event_at` (kept by :meth:`History.record` and
        :meth:`extend`) or the time of the last change answers; otherwise only the
        samples within the window are unpacked. Steps that begin before ``not_before``
        are not counted (the step from a sample loaded from the history file to the
        first poll after a restart: when in the hours between those events came, and
        whether anyone was told, is unknown).
        """
        n = self._count
        last = self._last_values
        if n < 2 or last is None or last[index] is None:
            return None
        cutoff = (self._last_at if end is None else end) - window
        if self._changed_at <= cutoff:
            return 0  # nothing has moved within the window
        went_up = self.last_event_at.get(index)
        if went_up is not None and went_up <= cutoff:
            return 0  # this counter last went up before the window
        pick, _, _ = _picker((index,))
        unpack = pick.unpack_from
        buf, odd, maxlen = self._buf, self._odd, self._maxlen
        refs = self._refs
        total = 0
        k = n - 1
        slot = (self._start + k) % maxlen
        rb = refs[slot]
        held = odd.get(rb) if odd else None
        b = unpack(buf, rb * _SIZE) if held is None else _picked(held, (index,))
        b_at = self._at(k)
        while k > 0 and b_at > cutoff:
            k -= 1
            slot = slot - 1 if slot else maxlen - 1
            ra = refs[slot]
            a_at = self._at(k)
            if a_at < not_before:
                break
            if ra != rb:
                held = odd.get(ra) if odd else None
                a = unpack(buf, ra * _SIZE) if held is None else _picked(held, (index,))
                old, new = a[1], b[1]
                if old is not None and new is not None and new > old:
                    total += new - old
                b, rb = a, ra
            b_at = a_at
        return total

    def _token_rate_consecutive(self, window: float, min_span: float) -> float | None:
        """:meth:`rate_per_minute` of the token pair for a series whose samples have
        consecutive ticks and pack (the common case, which every poll computes for
        every moving configuration), without the general helpers' calls; :data:`_SLOW`
        when the window's start is not next to where it was last time."""
        n = self._count
        end = n - 1
        first_seq = self._seq - n
        tl = self._tl
        times, off = tl._times, self._tick0 - tl._base
        end_at = times[off + end]
        k = self._hints.get(window, first_seq - 1) - first_seq
        if not (0 <= k < end and end_at - times[off + k] >= window):
            return _SLOW
        while k + 1 < end and end_at - times[off + k + 1] >= window:
            k += 1
        self._hints[window] = first_seq + k
        span: float = end_at - times[off + k]
        if span <= 0 or span < min_span:
            return None
        refs, start, maxlen, buf = self._refs, self._start, self._maxlen, self._buf
        end_cum = _CUM.unpack_from(buf, refs[(start + end) % maxlen] * _SIZE)[0]
        start_cum = _CUM.unpack_from(buf, refs[(start + k) % maxlen] * _SIZE)[0]
        return float((end_cum - start_cum) & _MASK) * 60.0 / span

    def rate_per_minute(
        self, indices: Sequence[int], window: float = 60.0, min_span: float = 0.0
    ) -> float | None:
        """Growth per minute of the sum of ``indices`` over about the last ``window`` seconds.

        The span starts at the newest sample at least ``window`` before the last
        one (else the oldest held) and covers at least the last interval; it divides
        by measured time. None when there are fewer than two samples, a value in
        the span is unknown, or the span is shorter than ``min_span`` seconds.
        """
        n = self._count
        if n < 2:
            return None
        if (
            min_span <= 0
            and self._last_at - self._changed_at >= window
            and self._odd_seq != self._seq - 1
        ):
            return 0.0  # nothing has moved for the whole window (most configurations)
        end = n - 1
        first_seq = self._seq - n
        if self._ticks is None and self._odd_seq < first_seq and indices == _TOKEN_PAIR:
            fast = self._token_rate_consecutive(window, min_span)
            if fast != _SLOW:
                return fast
        end_at, end_cum = self._at(end), self._cum_at(end)
        k = self._window_start(window, end, end_at)
        start_at, start_cum = self._at(k), self._cum_at(k)
        span: float = end_at - start_at
        if tuple(indices) == _TOKEN_PAIR and self._odd_seq < first_seq + k:
            total: int = (end_cum - start_cum) & _MASK
        else:
            total = 0
            for j in range(k, end):
                a, b = self._sample(j), self._sample(j + 1)
                for i in indices:
                    d = delta(a.values[i], b.values[i])
                    if d is None:
                        return None
                    total += d
        if span <= 0 or span < min_span:
            return None
        return total * 60.0 / span


class History:
    """All series, keyed by ``aiLlmId``; configurations that vanish are forgotten later."""

    def __init__(
        self, maxlen: int = DEFAULT_MAXLEN, forget_after: float = DEFAULT_FORGET_AFTER
    ) -> None:
        self.maxlen = maxlen
        self.forget_after = forget_after
        self.series: dict[str, Series] = {}
        #: The times of every series' samples, each once.
        self.timeline = Timeline()
        self._records = 0

    def record(
        self,
        stats: Iterable[LlmStats],
        at: float,
        changes: Changes | None = None,
        *,
        forget: bool = True,
    ) -> Changes:
        """Add one poll's values (taken at ``at``) and say what changed.

        A large poll can be recorded in parts: pass the same ``changes`` to each
        part and ``forget=False`` to all but the last.
        """
        if changes is None:
            changes = Changes()
        for s in stats:
            series = self.series.get(s.ai_llm_id)
            if series is None:
                series = self.series[s.ai_llm_id] = Series(self.maxlen, self.timeline)
            changed, ups, resets = series.add_values(at, s.values)
            if not changed:
                continue  # nothing moved (then nothing went up or down either)
            changes.changed[s.ai_llm_id] = changed
            for i, d in ups:
                if i in _EVENT_IDX:
                    series.last_event_at[i] = at
                    changes.events.append(Increase(s.ai_llm_id, COUNTERS[i], d))
            if resets:
                changes.resets.extend((s.ai_llm_id, COUNTERS[i]) for i in resets)
        if forget:
            self.forget(at)
            self._records += 1
            if self._records % TRIM_EVERY == 0:
                self.trim()
        return changes

    def trim(self) -> None:
        """Drop the times no series refers to any more from the timeline."""
        oldest = min((s.oldest_tick for s in self.series.values()), default=None)
        if oldest is None:
            oldest = self.timeline.base + len(self.timeline)
        self.timeline.trim(oldest)

    def forget(self, now: float) -> None:
        """Drop configurations not seen for ``forget_after`` seconds."""
        stale = [k for k, s in self.series.items() if now - s.last_seen > self.forget_after]
        for k in stale:
            del self.series[k]

    def get(self, ai_llm_id: str) -> Series | None:
        return self.series.get(ai_llm_id)

    def load(self, loaded: Mapping[str, Iterable[Sample]]) -> None:
        """Add stored samples (each id's in time order) before the first poll is recorded."""
        for ai_llm_id, samples in loaded.items():
            series = self.series.get(ai_llm_id)
            if series is None:
                series = self.series[ai_llm_id] = Series(self.maxlen, self.timeline)
            series.extend(samples)
