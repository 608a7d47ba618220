"""The past beyond memory: a configuration's samples from the history file's tiers.

Memory holds the last 720 samples of each configuration (12 minutes at a 1 s
interval); the drill-down's 15-minute and 1-hour rates and its 24 h and "all" charts
need more. The history file keeps one sample a minute for 7 days and one an hour for
400 days, so the drill-down reads what memory lacks from there (read-only, off the
event loop) and puts it in front of what memory holds: local samples win where both
exist.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from tui.history import Sample, Series, delta
from tui.settings import Settings
from tui.store import HistoryStore, StoreError, store_path


def read_past(settings: Settings, ai_llm_id: str, since: float) -> list[Sample]:
    """Stored samples of one configuration since ``since`` (epoch seconds), oldest
    first, each moment once from the finest tier that has it; [] when there is no
    readable history file. Blocking: call it off the event loop."""
    path = store_path(settings.profile)
    if not path.exists():
        return []
    try:
        store = HistoryStore.open(path, readonly=True)
    except (sqlite3.Error, OSError, StoreError):
        return []
    try:
        return [Sample(s.at, s.values) for s in store.samples(ai_llm_id, since)]
    except (sqlite3.Error, StoreError):
        return []
    finally:
        store.close()


def in_front(older: Sequence[Sample], newer: Sequence[Sample]) -> list[Sample]:
    """``older`` samples before the first of ``newer``, then ``newer`` (oldest first):
    the newer source wins where both have samples."""
    if not newer:
        return list(older)
    first = newer[0].at
    return [s for s in older if s.at < first] + list(newer)


def merged(past: Sequence[Sample], series: Series | None) -> list[Sample]:
    """``past`` older than the oldest sample in memory, then memory's samples."""
    return in_front(past, series.samples if series is not None else [])


def window_rate(
    samples: Sequence[Sample], indices: Sequence[int], window: float, min_span: float = 0.0
) -> float | None:
    """Growth per minute of the sum of ``indices`` over about the last ``window``
    seconds of ``samples`` (oldest first), by measured time: from the newest sample at
    least ``window`` before the last one (else the oldest) to the last. None with
    fewer than two samples, an unknown value on the way, a span under ``min_span``, or
    one over half again the window (a hole in the samples: not that window's rate).
    """
    if len(samples) < 2:
        return None
    end = samples[-1].at
    k = 0
    for j in range(len(samples) - 2, -1, -1):
        if end - samples[j].at >= window:
            k = j
            break
    span = end - samples[k].at
    if span <= 0 or span < min_span or span > 1.5 * window:
        return None
    total = 0
    for a, b in zip(samples[k:], samples[k + 1 :], strict=False):
        for i in indices:
            d = delta(a.values[i], b.values[i])
            if d is None:
                return None
            total += d
    return total * 60.0 / span
