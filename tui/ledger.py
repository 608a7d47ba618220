"""LLM tokens used since the start of the local day and of the local month.

Budgets and "spent today" need a configuration's growth since local midnight (or the
first of the month), not its all-time total. The :class:`Ledger` keeps, per
configuration, one small record: the last sample's LLM token counters and, for each
period kind, what grew since that period began. Nothing is kept per sample, so its
memory does not grow with run time.

Rules (the same as :func:`tui.history.delta`): growth between two samples is
``new - old``; a counter that went down was reset on the server and grew by ``new``.
An unknown value (None) loses that counter's growth for the steps to and from it;
counting carries on from the next known value. A step that straddles a period's
start (the last sample before midnight, the next after) is split in proportion to
time on each side: the new period gets the part after its start. A configuration
first seen after its period began has ``exact=False`` and counts from that sample.

At start-up :meth:`Ledger.seed` takes what the history file knows (see
:meth:`tui.store.HistoryStore.period_baselines` and :func:`load_baselines`), so a
restart mid-day keeps the day's usage. Standard library only (no UI toolkit).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from fractions import Fraction

from tui.history import Sample, delta
from tui.models import LlmStats
from tui.pricing import LLM_IN, LLM_OUT
from tui.settings import Settings
from tui.store import Baseline, HistoryStore, StoreError, store_path

#: The period kinds a ledger counts, in the order its records hold them.
PERIODS: tuple[str, ...] = ("day", "month")
#: How far before a period's start the history file is searched for the sample
#: that starts its count (and how old the newest stored sample may be to seed at all).
LOOKBACK = 3 * 86400.0


def _midnight(day: date) -> float:
    """Epoch seconds of local midnight starting ``day`` (naive: local time, DST-aware)."""
    return datetime.combine(day, clock_time()).timestamp()


def period_bounds(kind: str, at: float) -> tuple[float, float]:
    """The local-time period ``kind`` ("day" or "month") containing ``at``: [start, end).

    Computed from the local calendar date, so a 23- or 25-hour day (a DST change) has
    its true length. Where local midnight does not exist (a DST jump at 00:00), the
    start is the first instant of the day as Python maps it, clamped so that the
    period always contains ``at``.
    """
    today = datetime.fromtimestamp(at).date()
    if kind == "day":
        first, after = today, today + timedelta(days=1)
    elif kind == "month":
        first = today.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"unknown period {kind!r}: expected one of {PERIODS}")
    start, end = _midnight(first), _midnight(after)
    return min(start, at), max(end, at + 1e-6)


@dataclass(frozen=True, slots=True)
class Usage:
    """LLM tokens grown in one period (so far)."""

    tokens_in: int
    tokens_out: int
    #: The period's start when ``exact``; else when counting began (the
    #: configuration was first seen, or the history starts, after the period began).
    since: float
    exact: bool


def _after(growth: int, a_at: float, b_at: float, start: float) -> int:
    """The part of ``growth`` (between times ``a_at`` < ``start`` <= ``b_at``) after
    ``start``, in proportion to time; exact rational arithmetic (40-digit counts)."""
    span = Fraction(b_at) - Fraction(a_at)
    if span <= 0:
        return growth
    return round(growth * (Fraction(b_at) - Fraction(start)) / span)


class _Period:
    """One period's count for one configuration."""

    __slots__ = ("end", "since", "start", "tin", "tout")

    def __init__(self, start: float, end: float, since: float) -> None:
        self.start = start
        self.end = end
        self.since = since
        self.tin = 0
        self.tout = 0


class _Track:
    """One configuration: its last sample's LLM tokens and a count per period kind."""

    __slots__ = ("at", "periods", "vin", "vout")

    def __init__(self, at: float, vin: int | None, vout: int | None) -> None:
        self.at = at
        self.vin = vin
        self.vout = vout
        self.periods: list[_Period] = []


class Ledger:
    """Usage per configuration since the start of the local day and month."""

    def __init__(self) -> None:
        self._tracks: dict[str, _Track] = {}
        #: kind -> the last bounds computed (most calls fall inside them).
        self._bounds: dict[str, tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._tracks)

    def __contains__(self, ai_llm_id: object) -> bool:
        return ai_llm_id in self._tracks

    def ids(self) -> Iterable[str]:
        """Every configuration the ledger has a record of."""
        return self._tracks.keys()

    def bounds(self, kind: str, at: float) -> tuple[float, float]:
        """:func:`period_bounds`, remembered: one datetime computation per period."""
        got = self._bounds.get(kind)
        if got is not None and got[0] <= at < got[1]:
            return got
        got = self._bounds[kind] = period_bounds(kind, at)
        return got

    # ------------------------------------------------------------------ counting

    def record(self, ai_llm_id: str, at: float, values: tuple[int | None, ...]) -> None:
        """Count one sample (every poll, the overview's and a drill-down's alike).

        A sample at or before the last one recorded for the configuration is ignored.
        """
        vin, vout = values[LLM_IN], values[LLM_OUT]
        track = self._tracks.get(ai_llm_id)
        if track is None:
            track = self._tracks[ai_llm_id] = _Track(at, vin, vout)
            for kind in PERIODS:
                start, end = self.bounds(kind, at)
                # Seen first at the very start of a period: all of the period counted.
                track.periods.append(_Period(start, end, at))
            return
        a_at = track.at
        if at <= a_at:
            return
        gin, gout = delta(track.vin, vin), delta(track.vout, vout)
        track.at, track.vin, track.vout = at, vin, vout
        for k, period in enumerate(track.periods):
            if at >= period.end:
                start, end = self.bounds(PERIODS[k], at)
                period = track.periods[k] = _Period(start, end, start)
                if gin:
                    period.tin = _after(gin, a_at, at, start)
                if gout:
                    period.tout = _after(gout, a_at, at, start)
            elif a_at < period.start:
                # The step began before this period did (a restart after midnight: the
                # seed opened the period at the file's last sample): only its share.
                if gin:
                    period.tin += _after(gin, a_at, at, period.start)
                if gout:
                    period.tout += _after(gout, a_at, at, period.start)
            else:
                if gin:
                    period.tin += gin
                if gout:
                    period.tout += gout

    def forget(self, before: float) -> None:
        """Drop configurations last seen before ``before`` (gone from the server), so a
        long run with configurations coming and going stays bounded."""
        stale = [k for k, t in self._tracks.items() if t.at < before]
        for k in stale:
            del self._tracks[k]

    def record_all(self, stats: Iterable[LlmStats], at: float) -> None:
        """:meth:`record` every configuration of one poll."""
        record = self.record
        for s in stats:
            record(s.ai_llm_id, at, s.values)

    def usage(self, ai_llm_id: str, kind: str, now: float) -> Usage | None:
        """LLM tokens grown in the ``kind`` period containing ``now``; None when nothing
        is known of the configuration (or ``now`` is before its last period)."""
        track = self._tracks.get(ai_llm_id)
        if track is None:
            return None
        period = track.periods[PERIODS.index(kind)]
        start, _end = self.bounds(kind, now)
        if start == period.start:
            return Usage(period.tin, period.tout, period.since, period.since <= period.start)
        if start > period.start:
            # No sample since this period began: nothing grown that we know of, and
            # the next sample will give the period its share of the step.
            return Usage(0, 0, start, True)
        return None

    # ------------------------------------------------------------------ seeding

    def seed(
        self, baselines: Mapping[str, Baseline], now: float, *, lookback: float = LOOKBACK
    ) -> None:
        """Start from what the history file knew at start-up (before the first poll).

        For each period the count is the growth from the period's start to the newest
        stored sample: the value at the start is interpolated between the last sample
        before it and the first after it (the same proportional split as live
        counting), a reset seen at either of those samples counts as :func:`delta`
        does, but a reset *between* the first sample after the start and the newest
        is not visible in these three samples and under-counts (usually by the growth
        before the reset). Without a sample before the start (within ``lookback``) the
        count starts at the first stored sample: ``exact=False``. A configuration whose
        newest stored sample is older than ``lookback`` is not seeded; nor is one
        already recorded live.
        """
        for ai_llm_id, base in baselines.items():
            newest = base.newest
            if ai_llm_id in self._tracks or newest.at < now - lookback or newest.at > now:
                continue
            track = _Track(newest.at, newest.values[LLM_IN], newest.values[LLM_OUT])
            for kind in PERIODS:
                start, end = self.bounds(kind, now)
                edge = base.edges.get(start)
                before = edge.before if edge is not None else None
                after = edge.after if edge is not None else None
                if newest.at <= start:
                    track.periods.append(_Period(start, end, start))
                    continue
                if after is None or after.at > newest.at:
                    after = newest  # the store did not find it: count from the newest
                if before is not None and before.at > start:
                    before = None
                period = _Period(start, end, start if before is not None else after.at)
                period.tin, period.tout = (
                    _seeded(i, before, after, newest, start) for i in (LLM_IN, LLM_OUT)
                )
                track.periods.append(period)
            self._tracks[ai_llm_id] = track


def _seeded(i: int, before: Sample | None, after: Sample, newest: Sample, start: float) -> int:
    """Growth of counter ``i`` from ``start`` to ``newest`` (see :meth:`Ledger.seed`)."""
    total = 0
    if before is not None:
        grown = delta(before.values[i], after.values[i])
        if grown:
            total += _after(grown, before.at, after.at, start)
    grown = delta(after.values[i], newest.values[i])
    if grown:
        total += grown
    return total


def load_baselines(
    settings: Settings, now: float, *, lookback: float = LOOKBACK
) -> Mapping[str, Baseline]:
    """The profile's history file's baselines for the day and month containing ``now``
    (read-only); {} when there is no readable file. Blocking: call it off the event loop.
    """
    path = store_path(settings.profile)
    if not path.exists():
        return {}
    try:
        store = HistoryStore.open(path, readonly=True)
    except (sqlite3.Error, OSError, StoreError):
        return {}
    try:
        starts = [period_bounds(kind, now)[0] for kind in PERIODS]
        return store.period_baselines(starts, lookback)
    except (sqlite3.Error, StoreError):
        return {}
    finally:
        store.close()
