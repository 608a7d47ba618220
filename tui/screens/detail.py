"""The drill-down: one aiLlmId with exact figures, windowed rates and charts."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static
from textual.worker import Worker
from textual_plotext import PlotextPlot

from tui.aistats import AiStatsQuery, Breakdown, breakdown
from tui.backfill import with_server_past
from tui.charts import (
    color_of,
    data_top,
    segments,
    time_axis,
    value_axis,
)
from tui.counters import EVENT_INDICES, IDX, REGISTRY
from tui.errors import FlashtopError, one_line
from tui.fmt import compact, escaped_id, exact, has_controls, safe_text, updated, wrap_number
from tui.history import Sample, Series, delta
from tui.models import StatsPage
from tui.monitor import Monitor
from tui.past import merged, read_past, window_rate
from tui.poller import Poller, PollStatus
from tui.pricing import MIX_SOURCE, Price, format_usd, model_prices
from tui.promsource import PrometheusError, fetch_history
from tui.screens.messages import RaiseAlerts, SelectConfig
from tui.widgets.breakdown_view import breakdown_view, model_cost
from tui.widgets.status_bar import is_behind, state_label
from tui.windowed import LABEL as WINDOW_LABEL

#: The drill-down's display order of configurations (the overview's, at the moment).
Order = Callable[[], Sequence[str]]
#: Chart windows cycled by `w`: (label, seconds).
WINDOWS: tuple[tuple[str, float], ...] = (
    ("5 min", 300.0),
    ("1 h", 3600.0),
    ("24 h", 86400.0),
    ("7 d", 7 * 86400.0),
    ("30 d", 30 * 86400.0),
    ("all", math.inf),
)
#: Seconds a models-and-hosts answer is shown before it is asked again.
BREAKDOWN_FRESH = 60.0
#: The longest window of the models-and-hosts view ("all": 30 days of daily buckets).
BREAKDOWN_LONGEST = 30 * 86400.0
#: Windows up to this long read minute buckets; longer ones the daily buckets.
BREAKDOWN_MINUTES_UP_TO = 2 * 86400.0
#: Seconds a window's answer from Prometheus is used before it is asked again.
PROMETHEUS_FRESH = 60.0
#: Seconds up/down must rest on a configuration before it is polled (a held key).
STEP_SETTLE = 0.3
#: How far back the drill-down reads the history file (its hour tier keeps 400 days).
PAST_SECONDS = 400 * 86400.0
#: Time buckets across a rate chart's window (fewer when a poll interval is longer).
CHART_POINTS = 100
RATE_WINDOWS = (("1 min", 60.0), ("15 min", 900.0), ("1 h", 3600.0))


class DetailScreen(Screen[str]):
    """Everything flashtop knows about one configuration; polls it on its own cadence."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="detail-back", tooltip="back to the table"),
        # priority: the scrolling body would otherwise take the arrows for itself
        # (pgup/pgdn still scroll it).
        Binding(
            "down,j",
            "step(1)",
            "Next",
            id="detail-next",
            priority=True,
            tooltip="next configuration",
        ),
        Binding(
            "up,k",
            "step(-1)",
            "Previous",
            id="detail-prev",
            priority=True,
            tooltip="previous configuration",
        ),
        Binding(
            "w",
            "window",
            "Window",
            id="detail-window",
            tooltip="chart window: 5 min, 1 h, 24 h, 7 d, 30 d, all",
        ),
        Binding(
            "c",
            "copy_id",
            "Copy id",
            id="detail-copy",
            tooltip="copy the aiLlmId to the clipboard (OSC 52)",
        ),
        Binding(
            "r", "refresh", "Refresh", id="detail-refresh", tooltip="poll this configuration now"
        ),
        Binding(
            "m",
            "breakdown",
            "Models",
            id="detail-breakdown",
            tooltip="models and hosts (from /aistats) in place of the charts, and back",
        ),
    ]

    def __init__(self, monitor: Monitor, ai_llm_id: str, order: Order = tuple) -> None:
        super().__init__()
        self.monitor = monitor
        self.ai_llm_id = ai_llm_id
        #: Where up/down go: the overview's order of configurations.
        self.order = order
        self.window_index = 0
        self.opened: Sample | None = None
        self.previous: Sample | None = None
        self.vanished = False
        self.requests = 0
        self.poller: Poller[StatsPage] | None = None
        #: Samples older than memory, from the history file (tui/past.py).
        self._past: list[Sample] = []
        #: When the history file was last read (monotonic), to read it again later.
        self._past_read = -math.inf
        self._step_timer: Timer | None = None
        self._merged_key: tuple[str, list[Sample], float | None, tuple[Sample, ...]] | None = None
        self._merged_samples: list[Sample] = []
        self._chart_key: tuple[str, float, int, float] | None = None
        self._chart_series_cache: Series | None = None
        self._status_text: Text | None = None
        self._worker: Worker[None] | None = None
        #: (id, window) -> (when asked, monotonic; the samples, or why there are none)
        #: from the profile's Prometheus, for windows the history file does not cover.
        self._prom: dict[tuple[str, float], tuple[float, list[Sample] | str]] = {}
        #: Where the charts' window comes from, when not the local history alone.
        self._source = ""
        #: Models and hosts (`m`) by (id, window): when read, and what (or why not).
        self._breakdowns: dict[
            tuple[str, float],
            tuple[float, tuple[Breakdown, Breakdown, dict[str, Price | None]] | str],
        ] = {}
        self._breakdown_asked: set[tuple[str, float]] = set()

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-status")
        with VerticalScroll(id="detail-body"):
            yield Static("", id="detail-identity")
            yield Static("", id="detail-figures")
            yield Static("", id="detail-notes")
            # Each chart under a one-line title that carries its legend (plotext would
            # draw the legend over the data).
            with Horizontal(id="detail-charts-top"):
                with Vertical(classes="chart"):
                    yield Static("", id="chart-tokens-title", classes="chart-title")
                    yield PlotextPlot(id="chart-tokens")
                with Vertical(classes="chart"):
                    yield Static("", id="chart-calls-title", classes="chart-title")
                    yield PlotextPlot(id="chart-calls")
            with Vertical(id="detail-charts-events", classes="chart"):
                yield Static("", id="chart-events-title", classes="chart-title")
                yield PlotextPlot(id="chart-events")
            yield Static("", id="detail-breakdown")
        yield Footer()

    def on_mount(self) -> None:
        self._start()

    def on_resize(self) -> None:
        self.render_all()

    def _start(self) -> None:
        """(Re)start this screen's poll loop for the current id."""
        if self._worker is not None:
            self._worker.cancel()
        self.opened = self.previous = None
        self.vanished = False
        series = self.monitor.history.get(self.ai_llm_id)
        if series is not None and series.latest is not None:
            self.opened = series.latest
        self.poller = Poller(
            self._fetch,
            interval=self.monitor.settings.detail_interval,
            on_result=self._on_result,
            on_status=self._on_status,
            clock=self.monitor.clock,
        )
        self._worker = self.run_worker(
            self.poller.run(), name="detail-poll", group="detail-poll", exit_on_error=False
        )
        self._past = []
        if self.monitor.keep_history:
            self._read_past()
        self.render_all()

    def _read_past(self) -> None:
        """Read the history file for the current configuration, off the event loop."""
        self.run_worker(
            self._load_past(self.ai_llm_id),
            group="detail-past",
            exclusive=True,
            exit_on_error=False,
        )

    async def _load_past(self, ai_llm_id: str) -> None:
        """What the history file holds beyond memory, for the long rates and windows."""
        since = self.monitor.clock() - PAST_SECONDS
        self._past_read = time.monotonic()
        past = await asyncio.to_thread(read_past, self.monitor.settings, ai_llm_id, since)
        if ai_llm_id == self.ai_llm_id:
            self._past = past
            self.render_all()

    def samples_since(self, seconds: float) -> list[Sample]:
        """This configuration's samples of the last ``seconds`` (inf: all): memory's,
        behind them the history file's where memory does not reach back."""
        series = self._series()
        held = series.since(seconds) if series is not None else []
        if not self._past and not self._server_samples():
            return held
        end = held[-1].at if held else self.monitor.clock()
        return [s for s in self._merged() if s.at >= end - seconds]

    def _merged(self) -> list[Sample]:
        """:func:`tui.past.merged` of the history file's samples and memory's, kept
        until either changes (a render asks for it once per counter and window)."""
        series = self._series()
        latest = series.latest if series is not None else None
        server = self._server_samples()
        key = (self.ai_llm_id, self._past, latest.at if latest else None, server)
        if self._merged_key is None or any(
            a is not b and a != b for a, b in zip(key, self._merged_key, strict=True)
        ):
            # Local first (memory, then the history file), then the server's minutes
            # before the oldest of them (tui/backfill.py): local samples win.
            local = merged(self._past, series)
            self._merged_key = key
            self._merged_samples = with_server_past(server, local)
        return self._merged_samples

    def _server_samples(self) -> tuple[Sample, ...]:
        """Samples from before flashtop started, read from the server (/aistats)."""
        return self.monitor.server_past.get(self.ai_llm_id, ())

    def _server_note(self, samples: Sequence[Sample]) -> str:
        """Says where the window's samples begin to come from the server, if they do."""
        server = self._server_samples()
        if not server or not samples or samples[0].at > server[-1].at:
            return ""
        local = [s for s in samples if s.at > server[-1].at]
        if not local:
            return "(from the server's /aistats)"
        when = time.strftime("%H:%M", time.localtime(local[0].at))
        return f"(before {when}: from the server's /aistats)"

    def _chart_source(self, samples: Sequence[Sample], *, own: bool = False) -> Series:
        """A series holding ``samples`` for bucketing: memory's own when they are all
        from memory, else one built from them (kept until memory or the file changes);
        ``own``: they come from elsewhere (Prometheus)."""
        held = self._series()
        if not self._past and not self._server_samples() and held is not None and not own:
            return held
        key = (self.ai_llm_id, samples[0].at, len(samples), samples[-1].at)
        if key != self._chart_key:
            series = Series(len(samples))
            series.extend(samples)
            self._chart_key, self._chart_series_cache = key, series
        assert self._chart_series_cache is not None
        return self._chart_series_cache

    def _rate(self, index: int, window: float, min_span: float) -> float | None:
        """Growth per minute of one counter over ``window`` seconds, from memory when
        it reaches back that far, else with the history file's samples in front."""
        series = self._series()
        r = series.rate_per_minute((index,), window, min_span=min_span) if series else None
        if r is None and self._past:
            r = window_rate(self._merged(), (index,), window, min_span)
        return r

    def on_unmount(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    async def _fetch(self) -> StatsPage:
        self.requests += 1
        return await self.monitor.fetch_one(self.ai_llm_id)

    async def _on_result(self, page: StatsPage, at: float) -> None:
        mine = page.by_id().get(self.ai_llm_id)
        if mine is None:
            self.vanished = True
        else:
            self.vanished = False
            history = self.monitor.history
            series = history.get(self.ai_llm_id)
            self.previous = series.latest if series is not None else None
            update = await self.monitor.ingest(page, at)
            if update.alerts:
                self.app.post_message(RaiseAlerts(update.alerts))
            series = history.get(self.ai_llm_id)
            if self.opened is None and series is not None:
                self.opened = series.latest
            self._maybe_reload_past(series)
        self.render_all()

    def _maybe_reload_past(self, series: Series | None) -> None:
        """Memory drops its oldest samples as polls come in: once it no longer reaches
        back to where the file's samples end, read the file again (at most a minute
        apart), so long windows get no hole between the two."""
        if not self._past or series is None or not self.monitor.keep_history:
            return
        oldest = series.oldest_at
        if (
            oldest is not None
            and oldest > self._past[-1].at
            and time.monotonic() - self._past_read > 60
        ):
            self._past_read = time.monotonic()
            self._read_past()

    def _on_status(self, status: PollStatus) -> None:
        if self.is_mounted:
            self._render_status(status)

    def tick(self) -> None:
        if self.poller is not None:
            self._render_status(self.poller.status)

    # ------------------------------------------------------------------ rendering

    def _series(self) -> Series | None:
        return self.monitor.history.get(self.ai_llm_id)

    def _render_status(self, status: PollStatus) -> None:
        interval = self.poller.interval if self.poller else 0.0
        now = self.monitor.clock()
        label = state_label(status, interval, time.monotonic(), now)
        text = Text()
        # The state first: on a narrow pane the line is cut from the right, and stale
        # data must never look live.
        text.append(f" ● {label} ", style="bold")
        text.append(
            f" {safe_text(self.monitor.name_of(self.ai_llm_id), 40)} ",
            style="bold reverse",
        )
        when = updated(status.last_ok, now, is_behind(status, label)) if status.last_ok else ""
        text.append(f"  {when}  every {interval:g} s  window {WINDOWS[self.window_index][0]}")
        if self._source:
            text.append(f" {safe_text(self._source, 60)}")
        if self.vanished:
            text.append("  no longer reported by the server: showing the last values", style="bold")
        if status.last_error:
            text.append(f"  ✗ {safe_text(status.last_error, 120)}")
        text.no_wrap = True
        text.overflow = "ellipsis"
        widget = self.query_one("#detail-status", Static)
        widget.set_class(self.vanished or status.last_error is not None, "-stale")
        if text != self._status_text:  # the once-a-second tick mostly changes nothing
            self._status_text = text
            widget.update(text, layout=False)  # one fixed line

    def render_all(self) -> None:
        if not self.is_mounted:
            return
        self._render_identity()
        self._render_figures()
        self._render_charts()
        if self.has_class("-breakdown"):
            self._render_breakdown()
        if self.poller is not None:
            self._render_status(self.poller.status)

    def _render_identity(self) -> None:
        monitor = self.monitor
        cfg = monitor.names.get(self.ai_llm_id)
        ws_id = cfg.workspace_id if cfg else None
        ws = monitor.workspaces.get(ws_id, ws_id) if ws_id else None
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        # Server text goes in as Text, never str: Rich would parse a str as markup.
        t.add_row("Name", Text(safe_text(cfg.name if cfg and cfg.name else "(unknown)", 80)))
        t.add_row("Provider", Text(safe_text(cfg.ai_type if cfg and cfg.ai_type else "-", 40)))
        t.add_row("Workspace", Text(safe_text(ws or "-", 80)))
        t.add_row("Created", Text(safe_text(cfg.created_at if cfg and cfg.created_at else "-", 40)))
        t.add_row("aiLlmId", Text(escaped_id(self.ai_llm_id)))
        cost = self._cost_table()
        shown: Table | Group = t
        if cost is not None:
            # Beside the identity when both fit whole, else below it: either way the
            # charts keep their room at 120x40.
            console = self.app.console
            need = console.measure(t).maximum + 4 + console.measure(cost).maximum
            if need <= self._figures_width():
                shown = Table.grid(padding=(0, 4))
                shown.add_column()
                shown.add_column()
                shown.add_row(t, cost)
            else:
                shown = Group(t, Text(""), cost)
        self.query_one("#detail-identity", Static).update(shown)

    def _render_figures(self) -> None:
        series = self._series()
        latest = series.latest if series else None
        value_title = "Value"
        sums = self.monitor.window
        if latest is None and sums.active:
            # No /ai/llm/stats on this server: the overview's window sums (tui/windowed.py).
            page = sums.page(sums.page_ids)
            stats = page.by_id().get(self.ai_llm_id)
            if stats is not None:
                latest = Sample(page.until, stats.values)
                value_title = f"Last {WINDOW_LABEL}"
        labels = [counter.long for counter in REGISTRY]
        value_cells: list[str] = []
        since_cells: list[str] = []
        last_cells: list[str] = []
        rate_cells: list[list[str]] = [[] for _ in range(len(RATE_WINDOWS) + 1)]
        for i in range(len(REGISTRY)):
            value = latest.values[i] if latest else None
            value_cells.append(exact(value))
            since_cells.append(_fmt_delta(self.opened.values[i] if self.opened else None, value))
            last_cells.append(_fmt_delta(self.previous.values[i] if self.previous else None, value))
            for k, (_label, window) in enumerate(RATE_WINDOWS):
                # The 1-minute rate may use a shorter span; longer windows need most
                # of their span covered, or the figure would claim more than we saw.
                need = 0.0 if window <= 60 else window * 0.9
                r = self._rate(i, window, need)
                rate_cells[k].append(compact(round(r)) if r is not None else "-")
            hourly = self._rate(i, 3600.0, 3240.0)
            rate_cells[-1].append(compact(round(hourly * 60)) if hourly is not None else "-")
        rate_titles = [f"/min {label}" for label, _ in RATE_WINDOWS] + ["/hour 1 h"]
        tables, hidden = self._figures_tables(
            labels,
            [
                (value_title, value_cells),
                ("Δ since open", since_cells),
                ("Δ last poll", last_cells),
            ],
            list(zip(rate_titles, rate_cells, strict=True)),
            self._figures_width(),
        )
        parts: list[Table | Text] = []
        for table in tables:
            parts += [Text(""), table] if parts else [table]
        if hidden:
            parts.append(Text(f"On a wider screen also: {', '.join(hidden)}", style="dim"))
        self.query_one("#detail-figures", Static).update(Group(*parts))

        notes = Text()
        if latest is not None:
            v = latest.values
            tin, tout = v[IDX["totalTokensIn"]], v[IDX["totalTokensOut"]]
            lin, lout = v[IDX["totalLlmTokensIn"]], v[IDX["totalLlmTokensOut"]]
            if tin and tout is not None:
                notes.append(f"Output / input tokens: {tout / tin:.2f}\n")
            if tin is not None and lin is not None:
                notes.append(f"LLM tokens in − tokens in: {lin - tin:+,}\n")
            if tout is not None and lout is not None:
                notes.append(f"LLM tokens out − tokens out: {lout - tout:+,}\n")
        else:
            notes.append("waiting for the first answer…")
        self.query_one("#detail-notes", Static).update(notes)

    def _cost_table(self) -> Table | None:
        """What this configuration costs: all time, today, this month, now; its model,
        prices and the price table's date. None when the profile prices nothing."""
        costs = self.monitor.costs
        if not costs.enabled:
            return None
        ident, now = self.ai_llm_id, self.monitor.clock()
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        price = costs.price(ident)
        model = costs.model(ident)
        if price is None:
            profile = self.monitor.settings.profile
            why = f"'{model}' has no price" if model else f"add it to [profiles.{profile}.models]"
            t.add_row("Cost", Text("n/a", style="bold"))
            t.add_row("Model", Text(safe_text(f"none: {why}", 60), style="dim"))
            return t
        series = self._series()
        latest = series.latest if series else None
        every_time = costs.all_time(ident, latest.values) if latest else None
        t.add_row("Cost, all time", format_usd(every_time) if every_time is not None else "-")
        for label, kind in (("Today", "day"), ("This month", "month")):
            spent = costs.period(ident, kind, now)
            if spent is None:
                t.add_row(label, "-")
            elif spent.exact:
                t.add_row(label, format_usd(spent.usd))
            else:
                # "~": counted from when the history starts, not from the period's start.
                since = time.strftime(
                    "%H:%M" if kind == "day" else "%b %d", time.localtime(spent.since)
                )
                t.add_row(label, f"~{format_usd(spent.usd)}  since {since}")
        rate_now = costs.rate(ident)
        t.add_row("Now", f"{format_usd(rate_now)}/h" if rate_now is not None else "-")
        t.add_row("Model", Text(safe_text(model or "-", 60)))
        t.add_row("Prices", f"${price.input:f} in, ${price.output:f} out /1M tokens")
        table = costs.pricebook.table
        if price.source == "config":
            source = "the profile's own"
        elif price.source == MIX_SOURCE:
            # No model in the profile: priced by what the server saw it call (/aistats).
            source = f"no model in the profile: blended from {MIX_SOURCE} (m)"
        elif table is not None and table.checked:
            source = f"genai-prices {table.version} ({table.checked})"
        else:
            source = price.source
        t.add_row("", Text(f"{source}, base rates", style="dim"))
        return t

    def _figures_width(self) -> int:
        """Cells the figures may use: the screen less margins and the body's scrollbar."""
        figures = self.query_one("#detail-figures", Static)
        body = self.query_one("#detail-body", VerticalScroll)
        return (
            self.size.width
            - figures.styles.margin.width
            - figures.styles.gutter.width
            - body.styles.gutter.width
            - body.styles.scrollbar_size_vertical
        )

    @staticmethod
    def _figures_tables(
        labels: Sequence[str],
        exact_cols: Sequence[tuple[str, Sequence[str]]],
        rate_cols: Sequence[tuple[str, Sequence[str]]],
        width: int,
    ) -> tuple[list[Table], list[str]]:
        """The figures as tables that fit ``width`` cells whole, and the rate titles left out.

        Nothing is cut: widths are measured here, and every column gets what its
        title and cells need, so Rich never shrinks one. The first layout that fits
        wins: one table; figures over rates; values, changes and rates as three
        tables. A rates table that is still too wide drops its longest windows first
        (per hour, then 1 h, then 15 min). When even the three tables do not fit,
        the exact figures wrap onto more lines after a thousands separator.
        """
        label_width = max(cell_len(label) for label in labels)

        def natural(title: str, cells: Sequence[str]) -> int:
            return max(cell_len(title), *(cell_len(c) for c in cells))

        def narrowest(title: str, cells: Sequence[str]) -> int:
            groups = (cell_len(g) for c in cells for g in wrap_number(c, 1))
            return max(cell_len(title), *groups)

        def needs(head: str, widths: Sequence[int]) -> int:
            # padding (0, 1) on every column, the edges included
            return max(label_width, cell_len(head)) + 2 + sum(w + 2 for w in widths)

        rates = list(rate_cols)
        while len(rates) > 1 and needs("Rate", [natural(*c) for c in rates]) > width:
            rates.pop()
        hidden = [title for title, _ in rate_cols[len(rates) :]]
        value, *changes = exact_cols
        layouts = (
            [("Counter", [*exact_cols, *rate_cols])],
            [("Counter", list(exact_cols)), ("Rate", rates)],
            [("Counter", [value]), ("Change", changes), ("Rate", rates)],
        )
        # (when the one table fits, so do all the rates: nothing is hidden then)
        fits = [
            all(needs(head, [natural(*c) for c in cols]) <= width for head, cols in layout)
            for layout in layouts
        ]
        layout = layouts[fits.index(True)] if True in fits else layouts[-1]
        tables = []
        for head, cols in layout:
            widths = [natural(*c) for c in cols]
            # Only when no layout fits: the widest exact figure wraps, one cell at a time.
            floor = [narrowest(*c) for c in cols]
            while needs(head, widths) > width:
                room = [k for k, w in enumerate(widths) if w > floor[k]]
                if not room:
                    break  # a screen too narrow for any layout: Rich shrinks
                widths[max(room, key=lambda k: widths[k])] -= 1
            table = Table(box=None, padding=(0, 1), expand=False, header_style="bold")
            table.add_column(head, no_wrap=True, width=max(label_width, cell_len(head)))
            sized = list(zip(cols, widths, strict=True))
            for (title, _), w in sized:
                table.add_column(title, justify="right", no_wrap=True, width=w)
            for row, label in enumerate(labels):
                table.add_row(label, *("\n".join(wrap_number(c[row], w)) for (_, c), w in sized))
            tables.append(table)
        return tables, hidden

    def _render_charts(self) -> None:
        label, seconds = WINDOWS[self.window_index]
        samples = self.samples_since(seconds)
        # x: seconds relative to now (the clock, not the newest sample), over the whole
        # window named in the status line whatever part of it has data.
        now = self.monitor.clock()
        span = "all history" if math.isinf(seconds) else f"last {label}"
        samples, source = self._long_history(samples, now, seconds)
        if not source:
            source = self._server_note(samples)
        if source != self._source:  # said in the status line: a chart title may be cut
            self._source = source
            if self.poller is not None:
                self._render_status(self.poller.status)
        window = (seconds, now, samples[0].at if samples else None)
        xs, rates, events = self._chart_series(
            samples, now, seconds, own=source == "(from Prometheus)"
        )
        self._draw(
            "chart-tokens",
            ("Tokens / min", span),
            [("in", xs, rates["in"]), ("out", xs, rates["out"])],
            window,
        )
        self._draw(
            "chart-calls", ("API calls / min", span), [("calls", xs, rates["calls"])], window
        )
        self._draw(
            "chart-events",
            ("New events", span),
            [(name, ex, ey) for name, (ex, ey) in events.items()],
            window,
            scatter=True,
            integer=True,
        )

    def _draw(
        self,
        chart_id: str,
        title: tuple[str, str],
        lines: Sequence[tuple[str, Sequence[float], Sequence[float | None]]],
        window: tuple[float, float, float | None],
        *,
        scatter: bool = False,
        integer: bool = False,
    ) -> None:
        """Redraw one chart with the given (name, x, y) series; y None is a gap.

        x spans the whole ``window`` (seconds, now, oldest sample) with ticks in its
        units; y starts at 0 and ends at a round top. The legend goes in the title line
        above the chart (none for a single series), never over the data.
        """
        chart = self.query_one(f"#{chart_id}", PlotextPlot)
        seconds, now, oldest = window
        # Before the first layout the size is 0: a guess, redrawn on resize.
        width = chart.size.width or 50
        height = chart.size.height or 10
        # The plot area: the width less the y labels and the frame, the height less
        # the frame and the x labels; as many ticks as fit without crowding.
        x_axis = time_axis(seconds, now, oldest=oldest, width=width - 8)
        y_ticks = min(5, max(2, (height - 3) // 2 + 1))
        names = [name for name, _, _ in lines]
        runs = [(name, run) for name, x, y in lines for run in segments(x, y, x_axis.lo, x_axis.hi)]
        y_axis = value_axis(
            data_top(*(run[1] for _, run in runs)), max_ticks=y_ticks, integer=integer
        )
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlim(x_axis.lo, x_axis.hi)
        plt.ylim(y_axis.lo, y_axis.hi)
        plt.xticks(list(x_axis.ticks), list(x_axis.labels))
        plt.yticks(list(y_axis.ticks), list(y_axis.labels))
        draw = plt.scatter if scatter else plt.plot
        marker = self.monitor.settings.chart_marker
        for name, (x, y) in runs:
            draw(x, y, marker=marker, color=color_of(name, names.index(name)))
        if not runs:
            plt.scatter([], [])  # plotext draws no axes at all without data
        chart.refresh()
        heading = self._chart_heading(title, names if len(names) > 1 else [], scatter, width)
        self.query_one(f"#{chart_id}-title", Static).update(heading)

    @staticmethod
    def _chart_heading(
        title: tuple[str, str], names: Sequence[str], scatter: bool, width: int
    ) -> Text:
        """A chart's title line: its title and window (the window left out when the
        line would not fit), then each series' name after a swatch of its colour."""
        legend = Text()
        for i, name in enumerate(names):
            r, g, b = color_of(name, i)
            legend.append("  ")
            legend.append("•" if scatter else "━", style=f"bold rgb({r},{g},{b})")
            legend.append(f" {name}")
        what, span = title
        text = Text(f"{what}, {span}", style="bold")
        if text.cell_len + legend.cell_len > width:
            text = Text(what, style="bold")
        text.append_text(legend)
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def _long_history(
        self, samples: list[Sample], now: float, seconds: float
    ) -> tuple[list[Sample], str]:
        """Where the local history does not reach back over the window and the profile
        names a Prometheus (``prometheus_url``): its samples, and the chart says so;
        while it is asked, or when it cannot answer, the local ones with a note."""
        url = self.monitor.settings.prometheus_url
        if url is None or math.isinf(seconds):
            return samples, ""
        start = now - seconds
        if samples and samples[0].at <= start + max(3600.0, seconds * 0.05):
            return samples, ""  # the history file covers the window
        key = (self.ai_llm_id, seconds)
        held = self._prom.get(key)
        if held is None or time.monotonic() - held[0] > PROMETHEUS_FRESH:
            self._prom[key] = (time.monotonic(), held[1] if held else "asking Prometheus")
            self.run_worker(
                self._ask_prometheus(url, self.ai_llm_id, start, now, seconds),
                group="detail-prometheus",
                exit_on_error=False,
            )
            held = self._prom[key]
        got = held[1]
        if isinstance(got, str):
            return samples, f"(local: {got})"
        if len(got) < 2:
            return samples, "(local: Prometheus has nothing for it)"
        return got, "(from Prometheus)"

    async def _ask_prometheus(
        self, url: str, ai_llm_id: str, start: float, end: float, seconds: float
    ) -> None:
        try:
            got: list[Sample] | str = await fetch_history(url, ai_llm_id, start, end)
        except PrometheusError as exc:
            got = exc.message
        self._prom[(ai_llm_id, seconds)] = (time.monotonic(), got)
        if ai_llm_id == self.ai_llm_id and self.is_mounted:
            self._render_charts()

    def _chart_series(
        self, samples: Sequence[Sample], now: float, seconds: float, *, own: bool = False
    ) -> tuple[
        list[float],
        dict[str, list[float | None]],
        dict[str, tuple[list[float], list[float | None]]],
    ]:
        """The charts' data, all of it from here: the x of each point (seconds relative
        to ``now``), the rate series by name (``in``, ``out``, ``calls``: growth per
        minute, None for a gap) and each event counter's increases (x, count) by its
        plural (``violations``, ...).

        Rates come from up to :data:`CHART_POINTS` clock-aligned time buckets over the window
        (:meth:`Series.bucket_rates`), not from the intervals between samples: the
        drill-down's poller beside the overview's, or `r` pressed just after a poll,
        leave a steady line flat; an outage is a gap.
        """
        rates: dict[str, list[float | None]] = {"in": [], "out": [], "calls": []}
        events: dict[str, tuple[list[float], list[float | None]]] = {
            c.words[1]: ([], []) for c in REGISTRY if c.words is not None
        }
        if len(samples) < 2:
            return [], rates, events
        last = samples[-1].at
        window = seconds if math.isfinite(seconds) else max(last - samples[0].at, 300.0)
        # At least one overview poll interval a bucket: each spans a whole interval, so
        # a counter that moves in steps is misplaced by at most one step at its edges.
        # (but at least 10 buckets a window, whatever the overview's interval is).
        width = max(window / CHART_POINTS, min(self.monitor.poller.interval, window / 10))
        count = max(1, math.ceil(window / width))
        end = math.floor(last / width) * width
        series = self._chart_source(samples, own=own)
        # An interval of up to three polls (or buckets, for the coarser stored tiers)
        # is interpolated; a longer silence is a gap.
        max_gap = 3 * max(self.monitor.poller.interval, width)
        for name, counters in (
            ("in", (IDX["totalTokensIn"],)),
            ("out", (IDX["totalTokensOut"],)),
            ("calls", (IDX["totalApiCalls"],)),
        ):
            rates[name] = series.bucket_rates(
                counters, end=end, width=width, count=count, max_gap=max_gap
            )
        xs = [end - (count - k - 0.5) * width - now for k in range(count)]
        for a, b in itertools.pairwise(samples):
            for i in EVENT_INDICES:
                d = delta(a.values[i], b.values[i])
                if d:
                    ex, ey = events[REGISTRY[i].words[1]]  # type: ignore[index]
                    ex.append(b.at - now)
                    ey.append(float(d))
        return xs, rates, events

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        self.app.post_message(SelectConfig(self.ai_llm_id))
        self.dismiss(self.ai_llm_id)

    def action_step(self, direction: int) -> None:
        order = list(self.order())
        if not order:
            return
        idx = order.index(self.ai_llm_id) if self.ai_llm_id in order else -1
        new = order[(idx + direction) % len(order)] if idx >= 0 else order[0]
        if new == self.ai_llm_id:
            return
        self.ai_llm_id = new
        self.app.post_message(SelectConfig(new))
        # Holding the key moves through many: poll and read the history file only for
        # the configuration it stops on.
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self._past = []
        self.opened = self.previous = None
        self.render_all()
        if self._step_timer is not None:
            self._step_timer.stop()
        self._step_timer = self.set_timer(STEP_SETTLE, self._start)

    # ------------------------------------------------------------------ models and hosts

    def action_breakdown(self) -> None:
        """Models and hosts of the chart window in place of the charts (m again: back)."""
        self.toggle_class("-breakdown")
        if self.has_class("-breakdown"):
            self._render_breakdown()

    def _breakdown_window(self) -> tuple[str, float]:
        label, seconds = WINDOWS[self.window_index]
        if math.isinf(seconds):
            return "30 d", BREAKDOWN_LONGEST  # "all": as far as the daily buckets go here
        return label, seconds

    def _render_breakdown(self) -> None:
        label, seconds = self._breakdown_window()
        key = (self.ai_llm_id, seconds)
        held = self._breakdowns.get(key)
        due = held is None or time.monotonic() - held[0] > BREAKDOWN_FRESH
        if due and key not in self._breakdown_asked:
            self._breakdown_asked.add(key)
            self.run_worker(
                self._ask_breakdown(self.ai_llm_id, seconds),
                group="detail-breakdown",
                exit_on_error=False,
            )
        widget = self.query_one("#detail-breakdown", Static)
        if held is None:
            widget.update(Text(f"Models and hosts, last {label}: asking the server's /aistats …"))
            return
        got = held[1]
        if isinstance(got, str):
            widget.update(Text(f"Models and hosts, last {label}: {got}"))
            return
        by_model, by_host, prices = got
        note = self._pricing_note(by_model, prices)
        widget.update(
            breakdown_view(by_model, by_host, label, self.size.width - 2, note, prices.get)
        )

    def _pricing_note(self, by_model: Breakdown, prices: Mapping[str, Price | None]) -> str:
        """Which model the cost panel prices this configuration at: the profile's
        mapping wins; without one, the mix the server reports (the COST column)."""
        monitor = self.monitor
        price = monitor.costs.price(self.ai_llm_id) if monitor.costs.enabled else None
        mapped = monitor.costs.model(self.ai_llm_id) if price is not None else None
        if price is not None and price.source == MIX_SOURCE:
            return (
                "Cost panel: the profile maps no model here, so it prices the tokens at "
                f"the server's model mix ({safe_text(price.model, 60)})."
            )
        if mapped:
            return (
                f"Cost panel: the profile's model {safe_text(mapped, 40)} (the profile's "
                "mapping wins over the mix above)."
            )
        priced = [i for i in by_model.items if prices.get(i.name) is not None]
        if not priced:
            return "Cost: no model of this mix is in the price table, and the profile maps none."
        total = sum(
            (c for i in priced if (c := model_cost(i, prices.get)) is not None),
            Decimal(0),
        )
        return (
            "Cost: the profile maps no model to this configuration, so it is priced by the "
            f"server's model mix: {format_usd(total)} in this window at base rates"
            + (
                " (some models are not in the price table)"
                if len(priced) < len(by_model.items)
                else ""
            )
            + "."
        )

    async def _ask_breakdown(self, ai_llm_id: str, seconds: float) -> None:
        key = (ai_llm_id, seconds)
        now = self.monitor.clock()
        try:
            got: tuple[Breakdown, Breakdown, dict[str, Price | None]] | str
            query = AiStatsQuery(start=now - seconds, end=now, ai_llm_ids=(ai_llm_id,))
            client = self.monitor.client
            if seconds > BREAKDOWN_MINUTES_UP_TO:
                page = await client.get_aistats_daily(query)
            else:
                page = await client.get_aistats_minute(query)
            by_model = breakdown(page.rows, "model", ai_llm_ids=(ai_llm_id,))
            by_host = breakdown(page.rows, "host", ai_llm_ids=(ai_llm_id,))
            models = [i.name for i in by_model.items]
            prices = await asyncio.to_thread(model_prices, models, self.monitor.settings.prices)
            got = (by_model, by_host, prices)
        except FlashtopError as exc:
            got = f"the server did not answer ({one_line(exc.message, 100)})"
        finally:
            self._breakdown_asked.discard(key)
        self._breakdowns[key] = (time.monotonic(), got)
        if ai_llm_id == self.ai_llm_id and self.is_mounted and self.has_class("-breakdown"):
            self._render_breakdown()

    def action_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(WINDOWS)
        self.render_all()
        self.notify(f"chart window: {WINDOWS[self.window_index][0]}", timeout=2)

    def action_copy_id(self) -> None:
        if has_controls(self.ai_llm_id):
            # The clipboard would get the raw control characters (a pasted ESC sequence
            # acts on whatever terminal it is pasted into).
            self.notify(
                "not copied: this aiLlmId holds control characters (shown escaped)",
                severity="warning",
                timeout=5,
            )
            return
        # Textual's copy_to_clipboard writes OSC 52, which terminals honour over SSH.
        self.app.copy_to_clipboard(self.ai_llm_id)
        self.notify("aiLlmId copied to the clipboard (OSC 52)", timeout=3)

    def action_refresh(self) -> None:
        if self.poller is not None:
            self.poller.poll_now()

    @property
    def window_seconds(self) -> float:
        return WINDOWS[self.window_index][1]


def _fmt_delta(old: int | None, new: int | None) -> str:
    d = None if old is None or new is None else new - old
    if d is None:
        return "-"
    return f"{d:+,}" if d else "0"
