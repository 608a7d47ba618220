"""The main screen: every configuration in a live table, with status and totals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Idle, Resize
from textual.screen import Screen
from textual.widgets import Footer, Input

from tui.budgets import BudgetStatus, percent_text
from tui.counters import REGISTRY
from tui.fmt import compact, rate, safe_text
from tui.grouping import (
    GROUPINGS,
    Group,
    group_key,
    groups_of,
    is_group,
    key_function,
    lines,
    order_groups,
    sum_trends,
)
from tui.history import Changes
from tui.models import LlmStats, StatsPage
from tui.monitor import Monitor
from tui.poller import ConnState, PollStatus
from tui.pricing import format_usd
from tui.ranking import CalmOrder
from tui.screens.alerts import AlertsScreen
from tui.screens.budgets import BudgetsScreen, outlook, worst
from tui.screens.detail import DetailScreen
from tui.screens.keys import key_label
from tui.screens.messages import LoginWanted, Polled
from tui.view import (
    COLUMN_BY_KEY,
    COLUMN_OF_COUNTER,
    DEFAULT_SORT,
    MIN_TREND_WIDTH,
    SORT_KEYS,
    SORT_LABELS,
    NameOrder,
    RowView,
    SortContext,
    group_metric,
    group_row,
    make_row,
    order_ids,
    totals,
)
from tui.widgets._textual_compat import install_cropping_compositor, paint_now
from tui.widgets.line_static import LineStatic
from tui.widgets.stats_table import StatsTable
from tui.widgets.status_bar import StatusBar
from tui.widgets.theme_colors import Palette
from tui.windowed import NOTE, WindowedPage

#: Groups with more members than this show no sparkline (it sums every member's).
GROUP_TREND_LIMIT = 200


class OverviewScreen(Screen[None]):
    """Table of configurations, status bar on top, totals and keys at the bottom."""

    BINDINGS = [
        Binding(
            "enter",
            "open_detail",
            "Open selected",
            id="open-detail",
            show=False,
            tooltip="open the selected configuration",
        ),
        Binding("slash", "filter", "Filter", id="filter", tooltip="filter by name, id or provider"),
        Binding("s", "sort_next", "Sort", id="sort-next", tooltip="sort by the next column"),
        Binding(
            "S",
            "sort_reverse",
            "Reverse sort",
            id="sort-reverse",
            show=False,
            tooltip="reverse the sort direction",
        ),
        Binding("r", "refresh", "Refresh", id="refresh", tooltip="poll now (also while paused)"),
        Binding("p", "pause", "Pause", id="pause", tooltip="pause / resume polling"),
        Binding(
            "g",
            "group",
            "Group",
            id="group",
            tooltip="group: provider, workspace, none (enter folds)",
        ),
        Binding(
            "a",
            "alerts",
            "Alerts",
            id="alerts",
            tooltip="alerts: firing, pending, and the log",
        ),
        Binding(
            "b",
            "budgets",
            "Budgets",
            id="budgets",
            tooltip="budgets, and when each runs out",
        ),
        Binding(
            "F",
            "follow",
            "Follow",
            id="follow",
            tooltip="follow the selected configuration when rows re-rank (else the view stays)",
        ),
        Binding(
            "plus,equals_sign",
            "faster",
            "Interval",
            id="faster",
            key_display="+/-",
            tooltip="poll more often (down to every 1 s)",
        ),
        Binding(
            "minus",
            "slower",
            "Poll less often",
            id="slower",
            show=False,
            tooltip="poll less often (up to every 1 h)",
        ),
        Binding(
            "escape",
            "back",
            "Clear filter",
            id="back",
            show=False,
            tooltip="clear the filter; else dismiss the toasts",
        ),
        Binding(
            "l",
            "login",
            "Log in",
            id="login",
            show=False,
            tooltip="log in again (when login is needed)",
        ),
    ]

    def __init__(self, monitor: Monitor, *, mark_changes: bool = True) -> None:
        super().__init__()
        self.monitor = monitor
        #: Show the cells that changed in the last poll marked (bold, underlined).
        self.mark_changes = mark_changes
        # Partial repaints cropped to the changed cells, on the Textual versions
        # that was checked with (see widgets/_textual_compat.py).
        install_cropping_compositor(self)
        self.sort_key = DEFAULT_SORT
        self.sort_desc = COLUMN_BY_KEY[DEFAULT_SORT].numeric
        #: What the totals line was last computed from (shown again on a resize).
        self._totals_of: tuple[Sequence[LlmStats], dict[str, float | None] | None] = ([], None)
        #: The rate sort's memory between polls (near-ties keep their order).
        self._calm = CalmOrder()
        #: Follow the selected configuration through re-ranking (``F``, like htop's).
        self.follow = False
        #: Grouping (``g``): "", "provider" or "workspace"; and the folded groups' names.
        self.grouping = ""
        self.folded: set[str] = set()
        self.filter_text = ""
        self.page: StatsPage | None = None
        #: The last page by id, and its count of invalid cells (computed once a page).
        self._by_id: dict[str, LlmStats] = {}
        self._invalid = 0
        self._totals_text: Text | None = None
        self._table: StatsTable | None = None
        self._status_bar: StatusBar | None = None
        self._totals_line: LineStatic | None = None
        self._name_order = NameOrder()
        self._row_of: Callable[[str], RowView] | None = None
        #: id -> column keys of the cells that changed in the last poll (shown marked
        #: until the next one, like ``watch -d``).
        self.marks: dict[str, frozenset[str]] = {}
        #: A poll's changes are waiting to be painted (see :meth:`_on_idle`).
        self._poll_to_paint = False

    def compose(self) -> ComposeResult:
        settings = self.monitor.settings
        login_keys = settings.keymap.get("login", "l").split(",")
        yield StatusBar(
            settings.profile,
            settings.base_url,
            self.monitor.clock,
            login_key=key_label(login_keys[0]),
            id="status",
        )
        yield StatsTable(id="table")
        yield LineStatic("", id="totals")
        yield Input(placeholder="filter by name, id or provider", id="filter")
        yield Footer()

    # The screen's widgets are composed once and never replaced: found once (a
    # query walks the DOM, and a poll asks for them about ten times).

    @property
    def table(self) -> StatsTable:
        if self._table is None:
            self._table = self.query_one(StatsTable)
        return self._table

    @property
    def status_bar(self) -> StatusBar:
        if self._status_bar is None:
            self._status_bar = self.query_one(StatusBar)
        return self._status_bar

    @property
    def totals_line(self) -> LineStatic:
        if self._totals_line is None:
            self._totals_line = self.query_one("#totals", LineStatic)
        return self._totals_line

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.table.palette = Palette.from_app(self.app)
        self.table.show_cost = self.monitor.costs.enabled
        self.table.layout_for(self.size.width or self.app.size.width)
        self.table.focus()
        self._update_sort_label()

    def on_resize(self, event: Resize) -> None:
        if self.table.layout_for(event.size.width):
            self.render_rows()
        else:
            self._render_totals(*self._totals_of)

    def on_theme_changed(self) -> None:
        self.table.palette = Palette.from_app(self.app)
        self.table.columns_shown = ()
        self.table.layout_for(self.size.width)
        self.render_rows()

    @property
    def rows(self) -> list[RowView]:
        """Every row in display order (builds them all: for tests, not the poll path)."""
        if self._row_of is None:
            return []
        return [self._row_of(ident) for ident in self.table.order]

    # ------------------------------------------------------------------ data in

    def use_monitor(self, monitor: Monitor) -> None:
        """Show another monitor's data from its next poll on (the demo backend)."""
        self.monitor = monitor
        bar = self.status_bar
        bar.profile, bar.base_url = monitor.settings.profile, monitor.settings.base_url
        bar.refresh_text()
        self._follow_costs()

    def _follow_costs(self) -> None:
        """Show the cost columns exactly while the monitor prices something (another
        monitor, or the server's model mix priced since the last poll)."""
        enabled = self.monitor.costs.enabled
        if self.table.show_cost != enabled:
            self.table.show_cost = enabled
            self.table.columns_shown = ()
            self.table.layout_for(self.size.width)

    def on_polled(self, message: Polled) -> None:
        if message.monitor is not self.monitor:
            message.done()  # a poll of the monitor this screen no longer shows
            return
        try:
            update = message.update
            bar = self.status_bar
            # The poll goes on screen now: the state line says so in the same frame.
            # (The poller's own report, once this is shown, then changes nothing on
            # screen: one frame per poll, not two.)
            bar.status = replace(
                bar.status,
                state=ConnState.PAUSED if self.monitor.poller.paused else ConnState.LIVE,
                last_ok=update.at,
                last_error=None,
                retry_at=None,
                in_flight=False,
            )
            # Where /ai/llm/stats is missing, the figures are a window's sums: said
            # beside the state, where a narrow pane still shows it.
            bar.source = NOTE if isinstance(update.page, WindowedPage) else ""
            bar.notes = [note for note in update.notes if note != bar.source]
            self._follow_costs()
            self.status_bar.firing = self.monitor.rules.firing_count()
            self._show_budget(update.budgets)
            self.show_page(update.page, update.changes, update.rates)
        except Exception as exc:  # reported by the poller in the status bar
            message.done(exc)
        else:
            self._poll_to_paint = True
            # Done once painted: the poller then hands the poll to the history file's
            # writer, whose thread writes it while this process is awake anyway.
            self.call_after_refresh(message.done)

    async def _on_idle(self, event: Idle) -> None:
        # Once the widgets a poll changed have told the screen (a few messages after
        # on_polled), paint them in this wake-up of the process, not in the one
        # Textual's update timer would make a frame later (see paint_now). Only for
        # a poll: keys and the mouse keep Textual's timer, which coalesces bursts.
        if self._poll_to_paint and paint_now(self):
            self._poll_to_paint = False
            event.prevent_default()  # Screen._on_idle would start the timer

    def _show_budget(self, statuses: Sequence[BudgetStatus]) -> None:
        """The worst budget in the status bar (`b` lists them all)."""
        bad = worst(statuses)
        bar = self.status_bar
        if bad is None:
            bar.budget, bar.budget_alarm = "", False
            return
        state = bad.state()
        line = f"budget {safe_text(bad.spec.label, 24)} {percent_text(bad.percent)} %"
        if state == "over":
            line += " over budget"
        elif state == "runs out":
            line += " · " + outlook(bad).plain  # "runs out at 15:40"
        bar.budget = line
        bar.budget_alarm = state != "ok"

    def show_status(self, status: PollStatus) -> None:
        self.status_bar.set_state(status, self.monitor.poller.interval)

    def show_page(
        self, page: StatsPage, changes: Changes, rates: dict[str, float | None] | None = None
    ) -> None:
        """A new poll result arrived: remember it and mark what changed.

        ``rates``: token rates already computed for this poll, by id.
        """
        self.page = page
        self._by_id = page.by_id()
        self._invalid = page.invalid_cells
        self.marks = {}
        if self.mark_changes:
            for ident, indices in changes.changed.items():
                cols = frozenset(COLUMN_OF_COUNTER[i] for i in indices if i in COLUMN_OF_COUNTER)
                if cols:
                    self.marks[ident] = cols
        self.render_rows(rates, polled=True)

    def render_rows(
        self, rates: dict[str, float | None] | None = None, *, polled: bool = False
    ) -> None:
        """Filter and sort the last page, and show it; rows are built when visible.

        ``polled``: a new poll, not a key, asks for it: the view stays where the user
        left it unless following the selected configuration (``F``).
        """
        monitor = self.monitor
        if self.page is None:
            self._render_totals([])
            return
        now = monitor.clock()
        by_id = self._by_id
        self.status_bar.configs = len(by_id)
        self.status_bar.invalid = self._invalid
        if monitor.costs.enabled:
            self.status_bar.unpriced = monitor.costs.unpriced(by_id)
        # Each configuration's token rate is computed once, for sorting and totals.
        if rates is None:
            rates = {}
        chosen = order_ids(
            self.page.stats,
            monitor.names,
            monitor.history,
            self.filter_text,
            self.sort_key,
            self.sort_desc,
            rates,
            self._name_order,
            self._calm,
            self.page,
            monitor.costs if monitor.costs.enabled else None,
            now,
        )
        built: dict[str, RowView] = {}
        costs = monitor.costs if monitor.costs.enabled else None

        def row_of(ident: str) -> RowView:
            row = built.get(ident)
            if row is None:
                row = built[ident] = make_row(
                    by_id[ident],
                    monitor.names.get(ident),
                    monitor.history,
                    now,
                    rates,
                    trend_width=max(monitor.poller.interval, MIN_TREND_WIDTH),
                    costs=costs,
                )
            return row

        ids = [s.ai_llm_id for s in chosen]
        source: Callable[[str], RowView] = row_of
        if self.grouping:
            ids, source = self._grouped(chosen, row_of, rates, now)
        self._row_of = source
        follow = self.follow or not polled
        self.table.show(ids, source, self.marks, follow=follow)
        self._render_totals(chosen, rates)
        self.status_bar.refresh_text()

    def _grouped(
        self,
        chosen: Sequence[LlmStats],
        member_row: Callable[[str], RowView],
        rates: dict[str, float | None],
        now: float,
    ) -> tuple[list[str], Callable[[str], RowView]]:
        """Group lines and members in display order, and a row source for both.

        Groups go by the sum of the sort column over their members (by name for a
        text column); a group line is built when it is visible.
        """
        monitor = self.monitor
        costs = monitor.costs if monitor.costs.enabled else None
        key = key_function(self.grouping, monitor.names, monitor.workspaces)
        ctx = SortContext(monitor.names, monitor.history, rates, costs, now)
        sort_key = self.sort_key

        def metric(group: Group) -> float | int | None:
            return group_metric(sort_key, group.members, ctx)

        numeric = COLUMN_BY_KEY[sort_key].numeric
        groups = order_groups(
            groups_of(chosen, key), metric if numeric else None, self.sort_desc and numeric
        )
        by_id = {g.id: g for g in groups}
        built: dict[str, RowView] = {}

        def row_of(ident: str) -> RowView:
            group = by_id.get(ident)
            if group is None:
                return member_row(ident)
            row = built.get(ident)
            if row is None:
                members = group.members
                t = totals(members, monitor.history, rates, costs, now)
                # A group's sparkline sums its members' (skipped for huge groups: each
                # member's sparkline costs a walk of its history).
                trend = (
                    sum_trends([member_row(s.ai_llm_id).trend for s in members])
                    if len(members) <= GROUP_TREND_LIMIT
                    else ()
                )
                priced = costs is not None and any(
                    costs.price(s.ai_llm_id) is not None for s in members
                )
                row = built[ident] = group_row(
                    ident,
                    group.name,
                    members,
                    t,
                    trend,
                    folded=group.key in self.folded,
                    priced=priced,
                )
            return row

        return lines(groups, self.folded), row_of

    def on_screen_suspend(self) -> None:
        # Another screen on top: its clocks tick every second from now (the app
        # ticks less often while only this screen's status bar could change).
        want_tick = getattr(self.app, "want_tick", None)
        if want_tick is not None:
            want_tick()

    def tick(self) -> None:
        """Once a second: the age in the status bar (once the screen is up: under load
        the app's first tick can come before the screen has mounted)."""
        if self.is_mounted:
            self.status_bar.tick()

    def _render_totals(
        self, stats: Sequence[LlmStats], rates: dict[str, float | None] | None = None
    ) -> None:
        monitor = self.monitor
        costs = monitor.costs if monitor.costs.enabled else None
        t = totals(stats, monitor.history, rates, costs, monitor.clock())
        muted = self.table.palette.muted if self.table.palette else ""
        text = Text()
        page = self.page
        window = f" {page.label}" if isinstance(page, WindowedPage) else ""
        text.append(f" TOTAL{window} ", style="bold reverse")
        text.append(f" {t.count} shown ")
        text.append(" tok/min ", style=muted)
        text.append(rate(t.rate, ""), style="bold")
        if t.cost_rate is not None and t.cost_today is not None:
            # "+": some rows shown are unpriced; "~": part of today came before the history.
            more = "+" if t.cost_partial else ""
            text.append(" $/h ", style=muted)
            text.append(format_usd(t.cost_rate) + more, style="bold")
            text.append(" today ", style=muted)
            approx = "~" if t.cost_approx else ""
            text.append(approx + format_usd(t.cost_today) + more, style="bold")
        # Whole label-and-value pairs only, as many as fit: a number is never cut.
        room = (self.size.width or self.app.size.width) - text.cell_len
        for i, counter in enumerate(REGISTRY):
            # "+" marks a sum that leaves out values the server sent unreadable.
            value = compact(t.values[i]) + ("+" if t.partial[i] else "")
            room -= len(counter.short) + 2 + len(value)
            if room < 0:
                break
            text.append(f" {counter.short} ", style=muted)
            text.append(value, style="bold")
        self._totals_of = (stats, rates)
        text.no_wrap = True
        text.overflow = "ellipsis"
        if text == self._totals_text:
            return  # unchanged: no repaint at all
        self._totals_text = text
        # One line of fixed height: no layout of the screen needed.
        self.totals_line.update(text, layout=False)

    # ------------------------------------------------------------------ actions

    def _update_sort_label(self) -> None:
        arrow = "↓" if self.sort_desc else "↑"
        follow = " follow" if self.follow else ""
        group = f"  group {self.grouping}" if self.grouping else ""
        self.status_bar.sort_label = f"{SORT_LABELS[self.sort_key]} {arrow}{follow}{group}"
        self.status_bar.refresh_text()

    def action_sort_next(self) -> None:
        shown = {c.key for c in self.table.columns_shown}
        keys = [k for k in SORT_KEYS if k in shown]
        idx = keys.index(self.sort_key) if self.sort_key in keys else -1
        self.sort_key = keys[(idx + 1) % len(keys)]
        self.sort_desc = COLUMN_BY_KEY[self.sort_key].numeric
        self._update_sort_label()
        self.render_rows()

    def action_follow(self) -> None:
        self.follow = not self.follow
        self._update_sort_label()
        if self.follow:
            self.notify("following the selected configuration (F stops)", timeout=2)
            self.render_rows()  # brings it into view at once
        else:
            self.notify("the view stays put when rows re-rank", timeout=2)

    def action_sort_reverse(self) -> None:
        self.sort_desc = not self.sort_desc
        self._update_sort_label()
        self.render_rows()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.status_bar.filter_text = self.filter_text
        self.render_rows()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        if not self.filter_text:
            self.query_one("#filter", Input).display = False
        self.table.focus()

    def action_back(self) -> None:
        """Escape: clear the filter; with none, dismiss the toasts."""
        box = self.query_one("#filter", Input)
        if not (box.display or self.filter_text):
            self.app.clear_notifications()
            return
        if box.display or self.filter_text:
            box.value = ""
            box.display = False
            self.filter_text = ""
            self.status_bar.filter_text = ""
            self.table.focus()
            self.render_rows()

    def action_refresh(self) -> None:
        self.monitor.poll_now()

    def action_pause(self) -> None:
        paused = self.monitor.toggle_pause()
        self.notify("polling paused (p resumes)" if paused else "polling resumed", timeout=2)

    def _step_interval(self, direction: int) -> None:
        new = self.monitor.step_interval(direction)
        self.status_bar.interval = new
        self.status_bar.refresh_text()
        self.notify(f"polling every {new:g} s", timeout=2)

    def action_faster(self) -> None:
        self._step_interval(-1)

    def action_slower(self) -> None:
        self._step_interval(+1)

    def action_login(self) -> None:
        self.post_message(LoginWanted())

    def action_group(self) -> None:
        self.grouping = GROUPINGS[(GROUPINGS.index(self.grouping) + 1) % len(GROUPINGS)]
        self.folded.clear()
        self._update_sort_label()
        self.notify(
            f"grouped by {self.grouping} (enter folds a group)" if self.grouping else "not grouped",
            timeout=2,
        )
        self.render_rows()

    def action_alerts(self) -> None:
        self.app.push_screen(AlertsScreen(self.monitor))

    def action_budgets(self) -> None:
        self.app.push_screen(BudgetsScreen(self.monitor))

    def action_open_detail(self) -> None:
        ident = self.table.current_id()
        if ident is None:
            return
        if is_group(ident):
            self.folded.symmetric_difference_update({group_key(ident)})
            self.render_rows()
            return
        self.app.push_screen(DetailScreen(self.monitor, ident, self.ordered_ids))

    @on(StatsTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open_detail()

    def ordered_ids(self) -> list[str]:
        """The configurations in display order (without group lines)."""
        return [ident for ident in self.table.order if not is_group(ident)]
