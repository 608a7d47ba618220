"""Per-configuration time series of counters, with deltas, rates and counter resets.

Fixed-size ring buffers in memory; nothing here grows with run time. Deltas and
rates divide by the *measured* time between samples, never the nominal interval.
A counter that goes down is a reset: the delta for that interval is the new value
(what accumulated since the reset), never negative, and the reset is recorded.

Samples are kept packed (one 72-byte ``bytes`` per sample when every counter fits
in 64 bits, the :class:`Sample` itself otherwise), so a thousand configurations
with an hour each stay well under 150 MB; readers unpack only what they look at.
"""

from __future__ import annotations

import itertools
import struct
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from tui.models import COUNTERS, LlmStats

IDX = {name: i for i, name in enumerate(COUNTERS)}
TOKENS_IN = IDX["totalTokensIn"]
TOKENS_OUT = IDX["totalTokensOut"]
EVENT_COUNTERS = ("totalPolicyViolations", "totalAlerts", "totalBlocks")

DEFAULT_MAXLEN = 720  # one hour at 5 s
DEFAULT_FORGET_AFTER = 3600.0
_EVENT_IDX = tuple(IDX[name] for name in EVENT_COUNTERS)


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
    #: (id, counter) pairs that went down in this poll.
    resets: list[tuple[str, str]] = field(default_factory=list)
    #: Ids seen for the first time.
    new_ids: list[str] = field(default_factory=list)


#: Time and the counters as unsigned 64-bit integers; anything else stays a Sample.
_PACKED = struct.Struct(f"<d{len(COUNTERS)}Q")


def _pack(sample: Sample) -> bytes | Sample:
    try:
        return _PACKED.pack(sample.at, *sample.values)
    except (struct.error, TypeError):  # None, negative, >= 2**64 or the wrong count
        return sample


def _unpack(item: bytes | Sample) -> Sample:
    if type(item) is bytes:
        t = _PACKED.unpack(item)
        return Sample(t[0], t[1:])
    assert isinstance(item, Sample)
    return item


def delta(old: int | None, new: int | None) -> int | None:
    """Growth of one counter between two samples; a decrease is a reset."""
    if old is None or new is None:
        return None
    return new - old if new >= old else new


class Series:
    """The last ``maxlen`` samples of one configuration."""

    __slots__ = ("_items", "_last", "last_event_at", "last_seen", "resets")

    def __init__(self, maxlen: int = DEFAULT_MAXLEN) -> None:
        self._items: deque[bytes | Sample] = deque(maxlen=maxlen)
        self._last: Sample | None = None
        self.resets: deque[tuple[float, str]] = deque(maxlen=32)
        self.last_seen = 0.0
        #: counter index -> when it last went up (for colouring event counters).
        self.last_event_at: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self._items)

    @property
    def samples(self) -> list[Sample]:
        """Every sample held, oldest first (unpacks them all: prefer :meth:`since`)."""
        return [_unpack(item) for item in self._items]

    def _newest_first(self) -> Iterator[Sample]:
        return map(_unpack, reversed(self._items))

    def add(self, sample: Sample) -> tuple[frozenset[int], list[tuple[int, int]], list[int]]:
        """Append a sample; return (changed indices, [(index, delta) increases], reset indices)."""
        prev = self._last
        if prev is not None and sample.at <= prev.at:
            return frozenset(), [], []  # out of order or duplicate time: ignore
        self._items.append(_pack(sample))
        self._last = sample
        self.last_seen = sample.at
        if prev is None:
            return frozenset(), [], []
        changed: set[int] = set()
        ups: list[tuple[int, int]] = []
        resets: list[int] = []
        for i, (old, new) in enumerate(zip(prev.values, sample.values, strict=True)):
            if old != new:
                changed.add(i)
            if old is not None and new is not None:
                if new < old:
                    resets.append(i)
                    self.resets.append((sample.at, COUNTERS[i]))
                elif new > old:
                    ups.append((i, new - old))
        return frozenset(changed), ups, resets

    def extend(self, samples: Iterable[Sample]) -> None:
        """Append older samples in time order without reporting changes (loading a store).

        Out-of-order samples are skipped; increases of event counters still set
        :attr:`last_event_at`, so a restart keeps a recent event's colour.
        """
        prev = self._last
        for sample in samples:
            if prev is not None:
                if sample.at <= prev.at:
                    continue
                for i in _EVENT_IDX:
                    old, new = prev.values[i], sample.values[i]
                    if old is not None and new is not None and new > old:
                        self.last_event_at[i] = sample.at
            self._items.append(_pack(sample))
            prev = sample
        if prev is not None:
            self._last = prev
            self.last_seen = max(self.last_seen, prev.at)

    def since(self, seconds: float) -> list[Sample]:
        """Samples from the last ``seconds`` (all of them when ``seconds`` is inf)."""
        if self._last is None:
            return []
        cutoff = self._last.at - seconds
        out: list[Sample] = []
        for sample in self._newest_first():
            if sample.at < cutoff:
                break
            out.append(sample)
        out.reverse()
        return out

    @property
    def latest(self) -> Sample | None:
        return self._last

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
        draw as a spike.
        """
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

    def rate_per_minute(
        self, indices: Sequence[int], window: float = 60.0, min_span: float = 0.0
    ) -> float | None:
        """Growth per minute of the sum of ``indices`` over about the last ``window`` seconds.

        Uses at least the last interval; divides by measured time. None when
        there are fewer than two samples, a value in the span is unknown, or the
        history covers less than ``min_span`` seconds.
        """
        if len(self._items) < 2:
            return None
        newest = self._newest_first()
        end = next(newest)
        total = 0
        start = end
        for prev in newest:
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


class History:
    """All series, keyed by ``aiLlmId``; configurations that vanish are forgotten later."""

    def __init__(
        self, maxlen: int = DEFAULT_MAXLEN, forget_after: float = DEFAULT_FORGET_AFTER
    ) -> None:
        self.maxlen = maxlen
        self.forget_after = forget_after
        self.series: dict[str, Series] = {}

    def record(self, stats: Iterable[LlmStats], at: float) -> Changes:
        """Add one poll's values (taken at ``at``) and say what changed."""
        changes = Changes()
        for s in stats:
            series = self.series.get(s.ai_llm_id)
            if series is None:
                series = self.series[s.ai_llm_id] = Series(self.maxlen)
                changes.new_ids.append(s.ai_llm_id)
            changed, ups, resets = series.add(Sample(at, s.values))
            if changed:
                changes.changed[s.ai_llm_id] = changed
            for i, d in ups:
                if COUNTERS[i] in EVENT_COUNTERS:
                    series.last_event_at[i] = at
                    changes.events.append(Increase(s.ai_llm_id, COUNTERS[i], d))
            changes.resets.extend((s.ai_llm_id, COUNTERS[i]) for i in resets)
        self.forget(at)
        return changes

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
                series = self.series[ai_llm_id] = Series(self.maxlen)
            series.extend(samples)
