"""The overview's rows: what each line of the table shows, filtered and sorted.

Pure data (no UI toolkit) so that filtering, sorting and rates are testable alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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


def make_row(stats: LlmStats, config: LlmConfig | None, history: History, now: float) -> RowView:
    series = history.get(stats.ai_llm_id)
    rate = trend = None
    hot: set[str] = set()
    if series is not None:
        rate = series.rate_per_minute((TOKENS_IN, TOKENS_OUT))
        trend = tuple(series.interval_deltas((TOKENS_IN, TOKENS_OUT), TREND_POINTS))
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


def matches(row: RowView, needle: str) -> bool:
    """Case-insensitive substring match on name, id or provider."""
    return matches_fields(row.id, row.name, row.provider, needle)


def matches_fields(ident: str, name: str, provider: str, needle: str) -> bool:
    if not needle:
        return True
    n = needle.casefold()
    return n in name.casefold() or n in ident.casefold() or n in provider.casefold()


def token_rate(history: History, ident: str) -> float | None:
    series = history.get(ident)
    return series.rate_per_minute((TOKENS_IN, TOKENS_OUT)) if series is not None else None


def order_ids(
    stats: Sequence[LlmStats],
    configs: Mapping[str, LlmConfig],
    history: History,
    needle: str,
    key: str,
    desc: bool,
) -> list[LlmStats]:
    """Filter and sort without building rows: only the sort metric is computed.

    Unknown values sort last either way; ties are broken by name, then id.
    """

    def name_of(s: LlmStats) -> str:
        cfg = configs.get(s.ai_llm_id)
        return cfg.name if cfg and cfg.name else s.ai_llm_id

    def provider_of(s: LlmStats) -> str:
        cfg = configs.get(s.ai_llm_id)
        return cfg.ai_type if cfg and cfg.ai_type else ""

    chosen = [s for s in stats if matches_fields(s.ai_llm_id, name_of(s), provider_of(s), needle)]
    by_name = sorted(chosen, key=lambda s: (name_of(s).casefold(), s.ai_llm_id))
    if key == "name":
        return by_name[::-1] if desc else by_name
    if key == "provider":
        return sorted(by_name, key=lambda s: provider_of(s).casefold(), reverse=desc)
    if key == "rate":
        metric = {s.ai_llm_id: token_rate(history, s.ai_llm_id) for s in by_name}
    else:
        idx = COUNTER_COLUMNS[key]
        metric = {s.ai_llm_id: s.values[idx] for s in by_name}
    known = [s for s in by_name if metric[s.ai_llm_id] is not None]
    unknown = [s for s in by_name if metric[s.ai_llm_id] is None]
    # Python's sort is stable, so equal metrics keep name order either way.
    known.sort(key=lambda s: metric[s.ai_llm_id] or 0, reverse=desc)
    return known + unknown


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


def totals(stats: Sequence[LlmStats], history: History) -> Totals:
    """Sums of the counters and token rates of ``stats``."""
    n = len(COUNTERS)
    sums = [0] * n
    partial = [False] * n
    rate_sum: float | None = None
    for s in stats:
        for i, v in enumerate(s.values):
            if v is None:
                partial[i] = True
            else:
                sums[i] += v
        r = token_rate(history, s.ai_llm_id)
        if r is not None:
            rate_sum = (rate_sum or 0.0) + r
    return Totals(tuple(sums), tuple(partial), rate_sum, len(stats))
