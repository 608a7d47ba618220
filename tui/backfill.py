"""The past before flashtop started, from the server: ``/aistats/minute`` as samples.

``/ai/llm/stats`` gives running totals and nothing about the time before the first
poll; ``/aistats/minute`` gives what happened in each minute. Anchored at the oldest
sample flashtop holds of a configuration (values ``V`` at time ``t``), the running
totals before it follow by subtraction: at a minute's edge ``e`` the counters were
``V`` minus everything the server counted between ``e`` and ``t`` (the minute that
holds ``t`` counts with the part of it before ``t``, taken as linear). These samples
are drawn like local ones, in front of them: local samples win where both exist.

Where the server's rows leave a counter out, or the subtraction would go below zero
(a reset, or the two sources disagree), that counter is unknown from there back.
Minutes with no row inside the asked range had no traffic. The samples are kept in
memory only: the history file holds what flashtop itself saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tui.aistats import MINUTE, Totals
from tui.history import Sample
from tui.past import in_front

#: How far back a backfill reaches (the drill-down's 1 h rate, and its 24 h window
#: from the history file once flashtop has run for a day).
BACKFILL_SECONDS = 6 * 3600.0
#: At most this many configuration-minutes in the one request (the answer's size).
MAX_CELLS = 120_000


def backfill_span(configs: int, wanted: float = BACKFILL_SECONDS) -> float:
    """Seconds to ask for: ``wanted``, fewer for many configurations (whole minutes,
    at least 10), so one answer stays about :data:`MAX_CELLS` rows."""
    minutes = MAX_CELLS // max(configs, 1)
    return max(10 * MINUTE, min(wanted, minutes * MINUTE))


def samples_before(
    buckets: Sequence[tuple[float, Totals]],
    anchor: Sample,
    since: float,
    *,
    width: float = MINUTE,
    asked_at: float | None = None,
) -> list[Sample]:
    """Running totals at each bucket edge from ``since`` up to (not including) the
    anchor's time, oldest first, from per-bucket sums (``buckets``: (start, sums),
    any order). Empty when the anchor is not after ``since``.

    ``asked_at``: when the rows were asked for. The bucket that was still running
    then holds only its growth up to that moment, so the share of it before the
    anchor is taken over that part of the bucket, not over its whole width."""
    t0 = anchor.at
    first_edge = math.ceil(since / width) * width
    if t0 <= first_edge:
        return []
    by_start = {start: totals.stats_values() for start, totals in buckets}
    count = len(anchor.values)
    # Walk back from the anchor, one edge at a time.
    values: list[int | None] = list(anchor.values)
    out: list[Sample] = []
    edge = math.floor(t0 / width) * width
    if edge == t0:
        edge -= width
    upper = t0  # the part of the bucket [edge, edge + width) before the anchor
    while edge >= first_edge:
        grown = by_start.get(edge)
        # The share of the bucket before ``upper``, in whole milliseconds: integer
        # arithmetic keeps 40-digit counters exact.
        covered = width if asked_at is None else min(width, max(asked_at - edge, 0.0))
        part_ms, whole_ms = round((upper - edge) * 1000), round(covered * 1000)
        for i in range(count):
            v = values[i]
            if v is None:
                continue
            if grown is not None:
                g = grown[i] if i < len(grown) else None
                if g is None:
                    values[i] = None
                    continue
                part = g if part_ms >= whole_ms else g * part_ms // whole_ms
                v -= part
            values[i] = v if v >= 0 else None
        out.append(Sample(edge, tuple(values)))
        upper = edge
        edge -= width
    out.reverse()
    return out


def reconstruct(
    by_config: dict[str, list[tuple[float, Totals]]],
    anchors: dict[str, Sample],
    since: float,
    asked_at: float | None = None,
) -> dict[str, tuple[Sample, ...]]:
    """:func:`samples_before` for every anchored configuration (those the server has
    no row for had no traffic: their totals stood still)."""
    out: dict[str, tuple[Sample, ...]] = {}
    for ident, anchor in anchors.items():
        samples = samples_before(by_config.get(ident, ()), anchor, since, asked_at=asked_at)
        if samples:
            out[ident] = tuple(samples)
    return out


def with_server_past(server: Sequence[Sample], local: Sequence[Sample]) -> list[Sample]:
    """``server`` samples older than the oldest local one, then ``local`` (oldest
    first): local samples win where both exist."""
    return in_front(server, local)
