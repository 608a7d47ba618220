"""A calm order for rate columns: a row changes place only when its rate really changed.

Sorting 100 busy configurations exactly by tokens per minute reshuffles most rows on
every poll (their rates wobble by a few per cent), which is unreadable and rewrites
the whole screen. Here each row is sorted by a *reference* rate that follows its real
rate only when that really changed:

* the reference moves to the real rate once the two differ by more than
  :data:`TOLERANCE` (5 %) for :data:`CONFIRM_POLLS` polls in a row (a one-poll blip
  moves nothing; a configuration going quiet, or waking up, moves on its second poll);
* rows with equal references keep their previous order (ties);
* so rates within 5 % of what they were sorted by keep their places, and two rows
  whose rates are more than about 10 % apart ((1 + 5 %) / (1 - 5 %)) are always in
  rate order once settled.

Counter columns are not sorted this way: they sort exactly. Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

#: A rate within this fraction of its reference has not changed, for the order.
TOLERANCE = 0.05
#: Polls in a row a rate must stay changed before its row moves.
CONFIRM_POLLS = 2


def changed(rate: float, reference: float) -> bool:
    """The rate differs from the reference by more than the tolerance."""
    if reference <= 0:
        return rate > 0
    return abs(rate - reference) > TOLERANCE * reference


@dataclass(slots=True)
class CalmOrder:
    """What the calm order remembers between polls (one per table)."""

    #: The sort (column, direction, filter) it was built for; another starts afresh.
    sort: tuple[str, bool, str] | None = None
    #: The poll its references were last moved for (re-rendering one poll moves nothing).
    poll: object = None
    #: id -> position in the last order.
    position: dict[str, int] = field(default_factory=dict)
    #: id -> the rate its row is sorted by.
    reference: dict[str, float] = field(default_factory=dict)
    #: id -> polls in a row its rate has differed from the reference.
    pending: dict[str, int] = field(default_factory=dict)


def calm_order(
    ids: Sequence[str],
    rates: Sequence[float],
    desc: bool,
    state: CalmOrder,
    sort: tuple[str, bool, str],
    poll: object,
) -> list[int]:
    """Indices into ``ids`` (all with a known rate) in calm order; updates ``state``.

    ``poll`` identifies the poll being shown: references move (and changed rates
    count) once per poll, however often the same poll is rendered (a filter, a resize).
    """
    fresh = state.sort != sort
    if fresh:
        state.sort, state.position, state.reference, state.pending = sort, {}, {}, {}
    new_poll = fresh or poll is not state.poll
    state.poll = poll
    reference = state.reference
    pending = state.pending
    tolerance = TOLERANCE
    # One pass, inlined (10,000 rows a poll): the reference of each row.
    refs: list[float] = []
    append = refs.append
    get = reference.get
    for ident, rate in zip(ids, rates, strict=True):
        ref = get(ident)
        if ref is None:
            reference[ident] = ref = rate
        elif rate == ref or (
            ref > 0 and -tolerance * ref <= rate - ref <= tolerance * ref
        ):  # not changed (see :func:`changed`)
            if new_poll and pending:
                pending.pop(ident, None)
        elif new_poll:
            polls = pending.get(ident, 0) + 1
            if polls >= CONFIRM_POLLS:
                reference[ident] = ref = rate
                pending.pop(ident, None)
            else:
                pending[ident] = polls
        append(ref)
    # Where each row was; rows new to the order come after the others with the same
    # reference, by rate (so the first order of all is exactly the rate order).
    before = state.position
    if len(before) == len(ids) and all(map(before.__contains__, ids)):
        place = list(map(before.__getitem__, ids))  # the common case: the same rows
    else:
        n = len(before)
        by_rate = sorted(range(len(ids)), key=rates.__getitem__, reverse=desc)
        place = [0] * len(ids)
        for r, i in enumerate(by_rate):
            place[i] = before.get(ids[i], n + r)
    # Two C-level sorts: by place, then (stable, ties keep place) by reference.
    order = sorted(range(len(ids)), key=place.__getitem__)
    order.sort(key=refs.__getitem__, reverse=desc)
    state.position = dict(zip(map(ids.__getitem__, order), range(len(order)), strict=True))
    return order
