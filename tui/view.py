"""The overview's rows: what each line of the table shows, filtered and sorted.

Pure data (no UI toolkit) so that filtering, sorting and rates are testable alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from tui.history import IDX, TOKENS_IN, TOKENS_OUT, History
from tui.models import COUNTERS, CellProblem, LlmConfig, LlmStats

#: How long an increase of violations, alerts or blocks keeps its colour.
EVENT_HIGHLIGHT_SECONDS = 60.0
TREND_POINTS = 12


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: its key, header, width and from what width it is shown."""

    key: str
    label: str
    width: int
    min_screen: int = 0
    numeric: bool = True


COLUMNS: tuple[Column, ...] = (
    Column("name", "NAME", 0, numeric=False),  # width 0: takes what is left
    Column("provider", "PROVIDER", 9, 100, numeric=False),
    Column("calls", "CALLS", 6, 100),
    Column("tok_in", "TOK IN", 6),
    Column("tok_out", "TOK OUT", 7),
    Column("llm_in", "LLM IN", 6, 120),
    Column("llm_out", "LLM OUT", 7, 120),
    Column("viol", "VIOL", 4),
    Column("alerts", "ALRT", 4, 100),
    Column("blocks", "BLK", 4),
    Column("rate", "TOK/MIN", 7),
    Column("trend", "TREND", TREND_POINTS, numeric=False),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}

#: Column key -> index in COUNTERS for the counter columns.
COUNTER_COLUMNS: dict[str, int] = {
    "calls": IDX["totalApiCalls"],
    "tok_in": IDX["totalTokensIn"],
    "tok_out": IDX["totalTokensOut"],
    "llm_in": IDX["totalLlmTokensIn"],
    "llm_out": IDX["totalLlmTokensOut"],
    "viol": IDX["totalPolicyViolations"],
    "alerts": IDX["totalAlerts"],
    "blocks": IDX["totalBlocks"],
}
EVENT_COLUMNS = ("viol", "alerts", "blocks")
#: Sort keys in the order `s` cycles through them.
SORT_KEYS: tuple[str, ...] = (
    "rate", "name", "provider", "calls", "tok_in", "tok_out",
    "llm_in", "llm_out", "viol", "alerts", "blocks",
)  # fmt: skip
SORT_LABELS = {c.key: c.label.lower() for c in COLUMNS}


def columns_for_width(width: int) -> tuple[Column, ...]:
    """The columns that fit a screen ``width`` columns wide, by priority."""
    return tuple(c for c in COLUMNS if width >= c.min_screen)


@dataclass(frozen=True, slots=True)
class RowView:
    """Everything one table row shows for one configuration."""

    id: str
    name: str
    provider: str
    values: tuple[int | None, ...]
    problems: Mapping[str, CellProblem]
    rate: float | None
    trend: tuple[int | None, ...]
    #: Column keys of event counters that went up recently.
    hot: frozenset[str] = field(default_factory=frozenset)

    def value(self, key: str) -> int | None:
        return self.values[COUNTER_COLUMNS[key]]

    def problem(self, key: str) -> CellProblem | None:
        return self.problems.get(COUNTERS[COUNTER_COLUMNS[key]])


def make_row(
    stats: LlmStats,
    config: LlmConfig | None,
    history: History,
    now: float,
    rates: dict[str, float | None] | None = None,
) -> RowView:
    """The row of one configuration (its token rate taken from ``rates`` if there)."""
    series = history.get(stats.ai_llm_id)
    rate = trend = None
    hot: set[str] = set()
    if series is not None:
        rate = token_rate(history, stats.ai_llm_id, rates)
        trend = tuple(series.interval_rates((TOKENS_IN, TOKENS_OUT), TREND_POINTS))
        for key in EVENT_COLUMNS:
            at = series.last_event_at.get(COUNTER_COLUMNS[key])
            if at is not None and now - at <= EVENT_HIGHLIGHT_SECONDS:
                hot.add(key)
    return RowView(
        id=stats.ai_llm_id,
        name=(config.name if config and config.name else stats.ai_llm_id),
        provider=(config.ai_type if config and config.ai_type else ""),
        values=stats.values,
        problems=stats.problems,
        rate=rate,
        trend=trend or (),
        hot=frozenset(hot),
    )


def matches_fields(ident: str, name: str, provider: str, needle: str) -> bool:
    if not needle:
        return True
    n = needle.casefold()
    return n in name.casefold() or n in ident.casefold() or n in provider.casefold()


def token_rate(
    history: History, ident: str, memo: dict[str, float | None] | None = None
) -> float | None:
    """Tokens (in + out) per minute of one configuration; ``memo`` keeps each answer,
    so that one poll's sorting and totals walk each series only once."""
    if memo is not None and ident in memo:
        return memo[ident]
    series = history.get(ident)
    rate = series.rate_per_minute((TOKENS_IN, TOKENS_OUT)) if series is not None else None
    if memo is not None:
        memo[ident] = rate
    return rate


@dataclass(slots=True)
class NameOrder:
    """The name order of one poll's configurations, reused while ids, names and filter
    stay the same (sorting 10,000 names costs more than everything else in a poll)."""

    ids: list[str] = field(default_factory=list)
    configs: Mapping[str, LlmConfig] | None = None
    needle: str = ""
    #: Positions in the poll's stats, filtered, in name order.
    positions: list[int] = field(default_factory=list)


def order_ids(
    stats: Sequence[LlmStats],
    configs: Mapping[str, LlmConfig],
    history: History,
    needle: str,
    key: str,
    desc: bool,
    rates: dict[str, float | None] | None = None,
    cache: NameOrder | None = None,
) -> list[LlmStats]:
    """Filter and sort without building rows: only the sort metric is computed.

    Unknown values sort last either way; ties are broken by name, then id. Token
    rates computed on the way are kept in ``rates``, and the filtered name order in
    ``cache`` (for the next call with the same ids, names and filter), when given.
    """

    def name_of(s: LlmStats) -> str:
        cfg = configs.get(s.ai_llm_id)
        return cfg.name if cfg and cfg.name else s.ai_llm_id

    def provider_of(s: LlmStats) -> str:
        cfg = configs.get(s.ai_llm_id)
        return cfg.ai_type if cfg and cfg.ai_type else ""

    ids = [s.ai_llm_id for s in stats]
    if (
        cache is not None
        and cache.configs is configs
        and cache.needle == needle
        and cache.ids == ids
    ):
        positions = cache.positions
    else:
        chosen: Sequence[int] = range(len(stats))
        if needle:
            chosen = [
                i
                for i, s in enumerate(stats)
                if matches_fields(s.ai_llm_id, name_of(s), provider_of(s), needle)
            ]
        positions = sorted(chosen, key=lambda i: (name_of(stats[i]).casefold(), ids[i]))
        if cache is not None:
            cache.ids, cache.configs, cache.needle = ids, configs, needle
            cache.positions = positions
    by_name = [stats[i] for i in positions]
    if key == "name":
        return by_name[::-1] if desc else by_name
    if key == "provider":
        return sorted(by_name, key=lambda s: provider_of(s).casefold(), reverse=desc)
    metric: list[float | int | None]
    if key == "rate":
        memo: dict[str, float | None] = {} if rates is None else rates
        metric = [
            memo[s.ai_llm_id] if s.ai_llm_id in memo else token_rate(history, s.ai_llm_id, memo)
            for s in by_name
        ]
    else:
        idx = COUNTER_COLUMNS[key]
        metric = [s.values[idx] for s in by_name]
    known = [i for i, m in enumerate(metric) if m is not None]
    unknown = [by_name[i] for i, m in enumerate(metric) if m is None]
    # Python's sort is stable, so equal metrics keep name order either way. The
    # positions in ``known`` all hold numbers, and a C-level key sorts 10,000 fast.
    known.sort(key=cast("list[float]", metric).__getitem__, reverse=desc)
    return [by_name[i] for i in known] + unknown


def sort_rows(rows: Sequence[RowView], key: str, reverse: bool) -> list[RowView]:
    """Sort built rows by ``key`` (same rules as :func:`order_ids`)."""
    by_name = sorted(rows, key=lambda r: (r.name.casefold(), r.id))
    if key == "name":
        return by_name[::-1] if reverse else by_name
    if key == "provider":
        return sorted(by_name, key=lambda r: r.provider.casefold(), reverse=reverse)

    def metric(r: RowView) -> float | int | None:
        return r.rate if key == "rate" else r.value(key)

    known = [r for r in by_name if metric(r) is not None]
    unknown = [r for r in by_name if metric(r) is None]
    known.sort(key=lambda r: metric(r) or 0, reverse=reverse)
    return known + unknown


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over the rows shown; a sum with an unknown part is reported as partial."""

    values: tuple[int, ...]
    partial: tuple[bool, ...]
    rate: float | None
    count: int


def totals(
    stats: Sequence[LlmStats], history: History, rates: dict[str, float | None] | None = None
) -> Totals:
    """Sums of the counters and token rates of ``stats`` (rates reused from ``rates``)."""
    n = len(COUNTERS)
    sums = [0] * n
    partial = [False] * n
    # Column by column: sum() runs in C when a column has no unknown value.
    for i, column in enumerate(zip(*(s.values for s in stats), strict=False)):
        if None in column:
            partial[i] = True
            sums[i] = sum(v for v in column if v is not None)
        else:
            sums[i] = sum(column)
    rate_sum: float | None = None
    memo: dict[str, float | None] = {} if rates is None else rates
    for s in stats:
        ident = s.ai_llm_id
        r = memo[ident] if ident in memo else token_rate(history, ident, memo)
        if r is not None:
            rate_sum = (rate_sum or 0.0) + r
    return Totals(tuple(sums), tuple(partial), rate_sum, len(stats))
