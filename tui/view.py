"""The overview's rows: what each line of the table shows, filtered and sorted.

Pure data (no UI toolkit) so that filtering, sorting and rates are testable alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, cast, get_args

from tui.counters import COUNTERS, REGISTRY, TOKENS_IN, TOKENS_OUT, Counter
from tui.fmt import compact, rate, safe_text, sparkline
from tui.history import History, Series
from tui.models import CellProblem, LlmConfig, LlmStats
from tui.pricing import PeriodCost, format_usd
from tui.ranking import CalmOrder, calm_order

if TYPE_CHECKING:
    from tui.costs import Costs

#: How long an increase of violations, alerts or blocks keeps its colour.
EVENT_HIGHLIGHT_SECONDS = 60.0
TREND_POINTS = 12
#: Seconds per sparkline point when the caller does not say (the default poll interval).
DEFAULT_TREND_WIDTH = 5.0
#: A sparkline interpolates across intervals of up to this many points' width.
TREND_MAX_GAP = 3
#: Seconds a sparkline point covers at least: at a 1 or 2 s poll interval a point per
#: poll would shift every busy row's sparkline on every poll (bytes to the terminal
#: for every row), for a line that covers only 12-24 s.
MIN_TREND_WIDTH = 5.0
_TREND_COUNTERS = (TOKENS_IN, TOKENS_OUT)


#: What a cell's style means; the table maps each role to a style of its theme.
Role = Literal["", "changed", "warning", "error", "muted", "accent"]
ROLES: tuple[Role, ...] = get_args(Role)
SortValue = float | int | str | None


@dataclass(frozen=True, slots=True)
class Cell:
    """One rendered cell, free of any UI toolkit: its text, style role and alignment."""

    text: str
    role: Role = ""
    right: bool = True


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
    #: The profile prices this configuration (it names its model).
    priced: bool = False
    #: USD per hour now, and spent since local midnight (None: unknown or unpriced).
    cost_rate: Decimal | None = None
    cost_today: PeriodCost | None = None
    #: A group line (`g`): how many configurations it sums (0: a configuration), and
    #: whether its members are hidden.
    group: int = 0
    folded: bool = False

    def value(self, key: str) -> int | None:
        return self.values[COUNTER_COLUMNS[key]]

    def problem(self, key: str) -> CellProblem | None:
        return self.problems.get(COUNTERS[COUNTER_COLUMNS[key]])


@dataclass(frozen=True, slots=True)
class SortContext:
    """What a column's sort function may look at besides the configuration's counters."""

    configs: Mapping[str, LlmConfig]
    history: History
    #: Token rates by id, filled as they are computed (one walk per series per poll).
    rates: dict[str, float | None]
    #: Prices and spend (None: the profile names no models), and the time of the poll.
    costs: Costs | None = None
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: key, header, width, from what screen width it is shown, and
    how it renders a row's cell and what it sorts by (None: not sortable)."""

    key: str
    title: str
    width: int
    render: Callable[[RowView, int, bool], Cell]
    sort: Callable[[LlmStats, SortContext], SortValue] | None = None
    min_screen: int = 0
    numeric: bool = True
    #: Sorted calmly (tui/ranking.py): near-ties keep their order, a move needs two
    #: polls. For rates, which wobble; counters sort exactly.
    calm: bool = False
    #: A cost column: shown only when the profile prices its configurations.
    cost: bool = False
    #: From what screen width it is shown when the cost columns are (they take room:
    #: the LLM token and event columns give way first, the cost columns after them).
    min_screen_cost: int | None = None
    #: The :class:`RowView` fields ``render`` reads (besides ``marked``): a row whose
    #: fields are equal renders the same cell, so the table reuses it. Empty: unknown
    #: (the cell is rendered again every time).
    reads: tuple[str, ...] = ()

    def sized(self, width: int) -> Column:
        return replace(self, width=width)


def config_name(configs: Mapping[str, LlmConfig], ident: str) -> str:
    cfg = configs.get(ident)
    return cfg.name if cfg and cfg.name else ident


def config_provider(configs: Mapping[str, LlmConfig], ident: str) -> str:
    cfg = configs.get(ident)
    return cfg.ai_type if cfg and cfg.ai_type else ""


def _counter_column(counter: Counter, index: int) -> Column:
    """The column of one registry counter: compact value, ``?`` invalid, ``-`` absent."""

    def render(row: RowView, width: int, marked: bool) -> Cell:
        value = row.values[index]
        if value is not None:
            text = compact(value, width)  # fits the column: 30,000 in VIOL is 30k
        else:
            text = "-" if row.problems.get(counter.api) == CellProblem.MISSING else "?"
        role: Role = ""
        if counter.key in row.hot:
            role = "error" if counter.severe else "warning"
        elif marked:
            role = "changed"
        elif value is None:
            role = "muted"
        return Cell(text, role)

    def sort(s: LlmStats, ctx: SortContext) -> SortValue:
        return s.values[index]

    return Column(
        counter.key,
        counter.title,
        counter.width,
        render,
        sort,
        counter.min_screen,
        min_screen_cost=_COST_MIN_SCREEN.get(counter.key),
        reads=("values", "problems", "hot"),
    )


def _name_cell(row: RowView, width: int, marked: bool) -> Cell:
    if row.group:
        count = f" ({row.group})"
        name = safe_text(row.name, max(1, width - 2 - len(count)))
        return Cell(f"{'▸' if row.folded else '▾'} {name}{count}", "accent", right=False)
    return Cell(safe_text(row.name, width), right=False)


def _provider_cell(row: RowView, width: int, marked: bool) -> Cell:
    return Cell(safe_text(row.provider or ("" if row.group else "-"), width), right=False)


def _rate_cell(row: RowView, width: int, marked: bool) -> Cell:
    return Cell(rate(row.rate, ""))


def _trend_cell(row: RowView, width: int, marked: bool) -> Cell:
    return Cell(sparkline(row.trend, width), "accent", right=False)


def _rate_sort(s: LlmStats, ctx: SortContext) -> SortValue:
    return token_rate(ctx.history, s.ai_llm_id, ctx.rates)


def _cost_rate_cell(row: RowView, width: int, marked: bool) -> Cell:
    if not row.priced:
        return Cell("n/a", "muted")
    return Cell(format_usd(row.cost_rate, width) if row.cost_rate is not None else "-")


def _cost_today_cell(row: RowView, width: int, marked: bool) -> Cell:
    if not row.priced:
        return Cell("n/a", "muted")
    today = row.cost_today
    if today is None:
        return Cell("-", "muted")
    if today.exact:
        return Cell(format_usd(today.usd, width))
    # "~": the history starts after midnight, so this is only part of the day
    # ("<$0.01" says enough on its own).
    shown = format_usd(today.usd, width - 1)
    return Cell(shown if shown.startswith("<") else "~" + shown)


def _cost_rate_sort(s: LlmStats, ctx: SortContext) -> SortValue:
    value = ctx.costs.rate(s.ai_llm_id) if ctx.costs is not None else None
    return None if value is None else float(value)


def _cost_today_sort(s: LlmStats, ctx: SortContext) -> SortValue:
    today = ctx.costs.today(s.ai_llm_id, ctx.now) if ctx.costs is not None else None
    return None if today is None else float(today.usd)


#: The narrowest screen that shows the cost columns.
COST_MIN_SCREEN = 80
#: Where counter columns go when the cost columns are shown (screen widths).
_COST_MIN_SCREEN = {
    "llm_in": 150,
    "llm_out": 150,
    "alerts": 120,
    "calls": 100,
    "viol": 90,
    "blocks": 90,
}


_COUNTER_COLUMNS = {c.key: _counter_column(c, i) for i, c in enumerate(REGISTRY)}

#: Every column, in screen order. A computed column is one entry here.
COLUMNS: tuple[Column, ...] = (
    # width 0: takes what is left
    Column(
        "name", "NAME", 0, _name_cell,
        lambda s, ctx: config_name(ctx.configs, s.ai_llm_id).casefold(), numeric=False,
        reads=("name", "group", "folded"),
    ),
    Column(
        "provider", "PROVIDER", 9, _provider_cell,
        lambda s, ctx: config_provider(ctx.configs, s.ai_llm_id).casefold(), 100, numeric=False,
        min_screen_cost=110, reads=("provider", "group"),
    ),
    *_COUNTER_COLUMNS.values(),
    Column("rate", "TOK/MIN", 7, _rate_cell, _rate_sort, calm=True, reads=("rate",)),
    Column("cost_rate", "$/H", 7, _cost_rate_cell, _cost_rate_sort, calm=True, cost=True,
           min_screen_cost=80, reads=("priced", "cost_rate")),
    Column("cost_today", "$ TODAY", 8, _cost_today_cell, _cost_today_sort, cost=True,
           min_screen_cost=80, reads=("priced", "cost_today")),
    Column("trend", "TREND", TREND_POINTS, _trend_cell, numeric=False, reads=("trend",)),
)  # fmt: skip
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}

#: Column key -> index in COUNTERS for the counter columns.
COUNTER_COLUMNS: dict[str, int] = {c.key: i for i, c in enumerate(REGISTRY)}
#: Counter index -> its column key (for marking the cells a poll changed).
COLUMN_OF_COUNTER: dict[int, str] = {i: c.key for i, c in enumerate(REGISTRY)}
EVENT_COLUMNS = tuple(c.key for c in REGISTRY if c.is_event)
#: The sort the monitor starts with; `s` cycles from it through the sortable columns.
DEFAULT_SORT = "rate"
SORT_KEYS: tuple[str, ...] = (
    DEFAULT_SORT,
    *(c.key for c in COLUMNS if c.sort is not None and c.key != DEFAULT_SORT),
)
SORT_LABELS = {c.key: c.title.lower() for c in COLUMNS}


def columns_for_width(width: int, cost: bool = False) -> tuple[Column, ...]:
    """The columns that fit a screen ``width`` columns wide, by priority; ``cost``:
    with the cost columns (the profile prices its configurations)."""
    if not cost or width < COST_MIN_SCREEN:
        # Narrower than the cost columns need: the plain layout (events stay).
        return tuple(c for c in COLUMNS if width >= c.min_screen and not c.cost)
    return tuple(
        c
        for c in COLUMNS
        if width >= (c.min_screen if c.min_screen_cost is None else c.min_screen_cost)
    )


def make_row(
    stats: LlmStats,
    config: LlmConfig | None,
    history: History,
    now: float,
    rates: dict[str, float | None] | None = None,
    *,
    trend_width: float = DEFAULT_TREND_WIDTH,
    costs: Costs | None = None,
) -> RowView:
    """The row of one configuration (its token rate taken from ``rates`` if there).

    ``trend_width``: seconds per sparkline point, the overview's poll interval (see
    :func:`trend_points`).
    """
    series = history.get(stats.ai_llm_id)
    rate = trend = None
    hot: set[str] = set()
    if series is not None:
        rate = token_rate(history, stats.ai_llm_id, rates)
        # Ending at the last poll, not at "now": a key pressed between polls (a sort,
        # a filter) redraws the same points.
        latest = series.latest
        trend = trend_points(series, latest.at if latest else now, trend_width)
        for key in EVENT_COLUMNS:
            at = series.last_event_at.get(COUNTER_COLUMNS[key])
            if at is not None and now - at <= EVENT_HIGHLIGHT_SECONDS:
                hot.add(key)
    priced = costs is not None and costs.price(stats.ai_llm_id) is not None
    return RowView(
        priced=priced,
        cost_rate=costs.rate(stats.ai_llm_id) if costs is not None and priced else None,
        cost_today=costs.today(stats.ai_llm_id, now) if costs is not None and priced else None,
        id=stats.ai_llm_id,
        name=(config.name if config and config.name else stats.ai_llm_id),
        provider=(config.ai_type if config and config.ai_type else ""),
        values=stats.values,
        problems=stats.problems,
        rate=rate,
        trend=trend or (),
        hot=frozenset(hot),
    )


def trend_points(series: Series, now: float, width: float) -> tuple[int | None, ...]:
    """The sparkline of one row: tokens (in + out) per minute in :data:`TREND_POINTS`
    clock-aligned buckets of ``width`` seconds, the last one the last complete bucket
    before ``now`` (see :meth:`Series.bucket_rates`), rounded; None is a gap.

    Buckets, not poll intervals: a poll 0.3 s after another (``r``), or the drill-down's
    2 s poller recording beside the overview's, does not make a steady line dip to 0
    and spike. Aligned to the clock, every row's points cover the same seconds and do
    not move between polls. An interval of up to 3 polls is interpolated (a poll or
    two late or lost to a slow server or a retry still draws the average it
    measured); a longer silence (an outage, a suspended laptop, a restart) is a gap.
    """
    if width <= 0:
        return ()
    end = math.floor(now / width) * width
    points = series.bucket_rates(
        _TREND_COUNTERS, end=end, width=width, count=TREND_POINTS, max_gap=TREND_MAX_GAP * width
    )
    return tuple(None if p is None else round(p) for p in points)


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
    calm: CalmOrder | None = None,
    poll: object = None,
    costs: Costs | None = None,
    now: float = 0.0,
) -> list[LlmStats]:
    """Filter and sort without building rows: only the sort metric is computed.

    Unknown values sort last either way; ties are broken by name, then id. Token
    rates computed on the way are kept in ``rates``, and the filtered name order in
    ``cache`` (for the next call with the same ids, names and filter), when given.
    A calm column (rates) is ordered by :func:`tui.ranking.calm_order` when ``calm``
    (its memory between polls) is given; ``poll`` names the poll being shown.
    """

    def name_of(s: LlmStats) -> str:
        return config_name(configs, s.ai_llm_id)

    def provider_of(s: LlmStats) -> str:
        return config_provider(configs, s.ai_llm_id)

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
    column = COLUMN_BY_KEY[key]
    sort = column.sort
    if sort is None:
        return by_name
    ctx = SortContext(configs, history, {} if rates is None else rates, costs, now)
    metric = [sort(s, ctx) for s in by_name]
    known = [i for i, m in enumerate(metric) if m is not None]
    unknown = [by_name[i] for i, m in enumerate(metric) if m is None]
    if calm is not None and not column.calm:
        calm.sort = None  # back on a calm column later, its order starts afresh
    if column.calm and calm is not None:
        values = cast("list[float]", metric)
        order = calm_order(
            [by_name[i].ai_llm_id for i in known],
            [values[i] for i in known],
            desc,
            calm,
            (key, desc, needle),
            poll,
        )
        return [by_name[known[j]] for j in order] + unknown
    # Python's sort is stable, so equal metrics keep name order either way. The
    # positions in ``known`` all hold values of one type, and a C-level key sorts
    # 10,000 fast.
    known.sort(key=cast("list[float]", metric).__getitem__, reverse=desc)
    return [by_name[i] for i in known] + unknown


def group_metric(key: str, members: Sequence[LlmStats], ctx: SortContext) -> float | int | None:
    """A group's value of a numeric sort column: the sum over its members (None when
    no member has one, or the column is not numeric: groups then go by name)."""
    column = COLUMN_BY_KEY[key]
    if column.sort is None or not column.numeric:
        return None
    total: float | int | None = None
    for s in members:
        value = column.sort(s, ctx)
        if isinstance(value, int | float):
            total = value if total is None else total + value
    return total


def group_row(
    ident: str,
    name: str,
    members: Sequence[LlmStats],
    t: Totals,
    trend: tuple[int | None, ...],
    *,
    folded: bool,
    priced: bool,
) -> RowView:
    """The line of one group: its members' sums (see :func:`totals`)."""
    today = None
    if t.cost_today is not None:
        today = PeriodCost(t.cost_today, 0.0, not t.cost_approx)
    return RowView(
        id=ident,
        name=name,
        provider="",
        values=t.values,
        problems={},
        rate=t.rate,
        trend=trend,
        priced=priced,
        cost_rate=t.cost_rate,
        cost_today=today,
        group=len(members),
        folded=folded,
    )


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over the rows shown; a sum with an unknown part is reported as partial."""

    values: tuple[int, ...]
    partial: tuple[bool, ...]
    rate: float | None
    count: int
    #: USD per hour and USD today over the priced rows (None: no cost shown).
    cost_rate: Decimal | None = None
    cost_today: Decimal | None = None
    #: Some rows shown are unpriced or unknown (the sums leave them out).
    cost_partial: bool = False
    #: Some of today's spend was counted from after midnight.
    cost_approx: bool = False


def totals(
    stats: Sequence[LlmStats],
    history: History,
    rates: dict[str, float | None] | None = None,
    costs: Costs | None = None,
    now: float = 0.0,
) -> Totals:
    """Sums of the counters, token rates and (with ``costs``) cost of ``stats``
    (rates reused from ``rates``)."""
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
    if costs is None or not costs.enabled:
        return Totals(tuple(sums), tuple(partial), rate_sum, len(stats))
    cost_rate, cost_today, cost_partial, cost_approx = costs.sums([s.ai_llm_id for s in stats], now)
    return Totals(
        tuple(sums),
        tuple(partial),
        rate_sum,
        len(stats),
        cost_rate,
        cost_today,
        cost_partial,
        cost_approx,
    )
