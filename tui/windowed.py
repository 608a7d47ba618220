"""Totals over the last 24 h from ``/aistats/minute``, for servers without ``/ai/llm/stats``.

Flashback documents ``/ai/llm/stats`` as TEST-only: a production host answers 404.
There the monitor shows what ``/aistats/minute`` can give instead: per configuration,
the sums of the minute rows of a sliding window (the last 24 h), as a
:class:`WindowedPage`. Such figures are *not* running totals: they go down as old
minutes leave the window, so nothing that reads counters as cumulative (the history,
its rates and resets, the spend ledger, budgets and alert rules) may see them. The
monitor shows them and records nothing.

:class:`WindowedTotals` keeps per-minute sums per configuration, so each refresh asks
only for the minutes since the last one (and a few before, for rows that arrive
late) instead of the whole day again. Standard library only: no Textual, no httpx.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType

from tui.aistats import MINUTE, AiStatsPage, AiStatsQuery, Totals, bucket_of, group_rows
from tui.counters import COUNTERS
from tui.models import CellProblem, LlmStats, StatsPage

#: The window the totals cover (seconds).
WINDOW = 86400.0
#: At most one ``/aistats/minute`` request per this many seconds (the rows are per minute).
REFRESH = 60.0
#: How often ``/ai/llm/stats`` is tried again while it answers 404 (seconds).
STATS_RETRY = 600.0
#: Each refresh asks again for this many seconds before the last one's end: a minute
#: still filling, or rows the server writes late, are replaced rather than missed.
OVERLAP = 300.0
#: What the window is called on screen.
LABEL = "24 h"
#: One line for the status bar (and the daemon's log): why the figures are windowed.
NOTE = f"no /ai/llm/stats here (404): {LABEL} totals from /aistats"


@dataclass(frozen=True, slots=True)
class WindowedPage(StatsPage):
    """A :class:`StatsPage` whose values are sums over ``[since, until]``, not running
    totals (see the module docstring: never recorded as counters)."""

    #: Start of the window's first minute and the time of the request (epoch seconds).
    since: float = 0.0
    until: float = 0.0
    #: What the window is called on screen ("24 h").
    label: str = LABEL


def _stats_of(ai_llm_id: str, totals: Totals | None) -> LlmStats:
    if totals is None:  # no row in the window: nothing was used
        return LlmStats(ai_llm_id, (0,) * len(COUNTERS))
    values = totals.stats_values()
    problems = {COUNTERS[i]: CellProblem.MISSING for i, v in enumerate(values) if v is None}
    return LlmStats(ai_llm_id, values, MappingProxyType(problems))


class WindowedTotals:
    """Sums of ``/aistats/minute`` rows over a sliding window, refreshed incrementally.

    ``missing_at``: when ``/ai/llm/stats`` last answered 404 (None: it answers, and
    this is not in use). The monitor calls :meth:`query` for the request to send,
    :meth:`add` with its answer and :meth:`page` for what to show.
    """

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self.missing_at: float | None = None
        #: (minute, aiLlmId) -> that minute's sums.
        self._minutes: dict[tuple[float, str], Totals] = {}
        #: Sums per configuration over the window, as of the last :meth:`add`.
        self._sums: dict[str, Totals] = {}
        #: End of the last request answered, and when it was sent (epoch seconds).
        self._until: float | None = None
        self._since = 0.0
        self.page_ids: tuple[str, ...] = ()
        self._page: WindowedPage | None = None

    @property
    def active(self) -> bool:
        """``/ai/llm/stats`` answered 404: the windowed totals stand in for it."""
        return self.missing_at is not None

    def stats_due(self, now: float) -> bool:
        """Time to try ``/ai/llm/stats`` again (every :data:`STATS_RETRY` seconds)."""
        return self.missing_at is None or not 0 <= now - self.missing_at < STATS_RETRY

    def refresh_due(self, now: float) -> bool:
        """No answer yet, or the last one is :data:`REFRESH` seconds old (or the clock
        went back)."""
        return self._until is None or not 0 <= now - self._until < REFRESH

    def query(self, now: float) -> AiStatsQuery:
        """The request for what is missing: the whole window first, then the minutes
        since the last request (with :data:`OVERLAP` before them)."""
        start = bucket_of(now - self.window, MINUTE)
        if self._until is not None and self._until <= now:
            start = max(start, bucket_of(self._until - OVERLAP, MINUTE))
        return AiStatsQuery(start=start, end=now)

    def add(self, page: AiStatsPage, query: AiStatsQuery, now: float) -> None:
        """Take the answer to :meth:`query` (sent at ``now``): its minutes replace what
        was kept for them, minutes older than the window are dropped."""
        assert query.start is not None
        fresh_from = query.start
        oldest = bucket_of(now - self.window, MINUTE)
        minutes = {key: t for key, t in self._minutes.items() if oldest <= key[0] < fresh_from}
        for key, totals in group_rows(page.rows, bucket=MINUTE).items():
            if key.at < oldest:
                continue
            kept = minutes.get((key.at, key.ai_llm_id))
            if kept is None:
                minutes[(key.at, key.ai_llm_id)] = totals
            else:  # cannot happen with group_rows; kept for safety
                kept.merge(totals)
        sums: dict[str, Totals] = {}
        for (_, ai_llm_id), totals in minutes.items():
            total = sums.get(ai_llm_id)
            if total is None:
                total = sums[ai_llm_id] = Totals()
            total.merge(totals)
        self._minutes, self._sums = minutes, sums
        self._since, self._until = oldest, now
        self._page = None

    def page(self, known_ids: Iterable[str] = ()) -> WindowedPage:
        """The window's totals per configuration: those with rows, and ``known_ids``
        (from ``/ai/llm``) with zeros when they had none."""
        ids = tuple(dict.fromkeys([*sorted(self._sums), *known_ids]))
        if self._page is None or ids != self.page_ids:
            self.page_ids = ids
            self._page = WindowedPage(
                stats=tuple(_stats_of(i, self._sums.get(i)) for i in ids),
                since=self._since,
                until=self._until or 0.0,
            )
        return self._page
