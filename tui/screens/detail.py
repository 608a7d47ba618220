"""The drill-down: one aiLlmId with exact figures, windowed rates and charts."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker
from textual_plotext import PlotextPlot

from tui.counters import EVENT_INDICES, IDX, REGISTRY
from tui.fmt import compact, exact, safe_text, updated
from tui.history import Sample, Series, delta
from tui.models import StatsPage
from tui.monitor import Monitor
from tui.poller import Poller, PollStatus
from tui.screens.messages import RaiseAlerts, SelectConfig
from tui.widgets.status_bar import is_behind, state_label

#: The drill-down's display order of configurations (the overview's, at the moment).
Order = Callable[[], Sequence[str]]
#: Chart windows cycled by `w`: (label, seconds).
WINDOWS: tuple[tuple[str, float], ...] = (
    ("5 min", 300.0),
    ("1 h", 3600.0),
    ("24 h", 86400.0),
    ("all", math.inf),
)
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
            tooltip="chart window: 5 min, 1 h, 24 h, all",
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
        self._status_text: Text | None = None
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-status")
        with VerticalScroll(id="detail-body"):
            yield Static("", id="detail-identity")
            yield Static("", id="detail-figures")
            yield Static("", id="detail-notes")
            with Horizontal(id="detail-charts-top"):
                yield PlotextPlot(id="chart-tokens")
                yield PlotextPlot(id="chart-calls")
            yield PlotextPlot(id="chart-events")
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
        self.render_all()

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
        self.render_all()

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
        cfg = self.monitor.names.get(self.ai_llm_id)
        text.append(
            f" {safe_text(cfg.name if cfg and cfg.name else self.ai_llm_id, 40)} ",
            style="bold reverse",
        )
        text.append(f" ● {label}", style="bold")
        when = updated(status.last_ok, now, is_behind(status, label)) if status.last_ok else ""
        text.append(f"  {when}  every {interval:g} s  window {WINDOWS[self.window_index][0]}")
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
        t.add_row("aiLlmId", Text(safe_text(self.ai_llm_id, 200) + "   (c copies)"))
        self.query_one("#detail-identity", Static).update(t)

    def _render_figures(self) -> None:
        series = self._series()
        latest = series.latest if series else None
        wide = self.size.width >= 110
        figures = Table(box=None, padding=(0, 1), expand=False, header_style="bold")
        figures.add_column("Counter", no_wrap=True)
        figures.add_column("Value", justify="right", no_wrap=True)
        figures.add_column("Δ since open", justify="right", no_wrap=True)
        figures.add_column("Δ last poll", justify="right", no_wrap=True)
        rates = (
            figures if wide else Table(box=None, padding=(0, 1), expand=False, header_style="bold")
        )
        if not wide:
            rates.add_column("Rate", no_wrap=True)
        for label, _ in RATE_WINDOWS:
            rates.add_column(f"/min {label}", justify="right", no_wrap=True)
        rates.add_column("/hour 1 h", justify="right", no_wrap=True)
        for i, counter in enumerate(REGISTRY):
            value = latest.values[i] if latest else None
            since = _fmt_delta(self.opened.values[i] if self.opened else None, value)
            last = _fmt_delta(self.previous.values[i] if self.previous else None, value)
            cells = []
            for _label, window in RATE_WINDOWS:
                # The 1-minute rate may use a shorter span; longer windows need most
                # of their span covered, or the figure would claim more than we saw.
                need = 0.0 if window <= 60 else window * 0.9
                r = series.rate_per_minute((i,), window, min_span=need) if series else None
                cells.append(compact(round(r)) if r is not None else "-")
            hourly = series.rate_per_minute((i,), 3600.0, min_span=3240.0) if series else None
            cells.append(compact(round(hourly * 60)) if hourly is not None else "-")
            if wide:
                figures.add_row(counter.long, exact(value), since, last, *cells)
            else:
                figures.add_row(counter.long, exact(value), since, last)
                rates.add_row(counter.long, *cells)
        content = figures if wide else Group(figures, Text(""), rates)
        self.query_one("#detail-figures", Static).update(content)

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

    def _render_charts(self) -> None:
        series = self._series()
        label, seconds = WINDOWS[self.window_index]
        samples = series.since(seconds) if series else []
        marker = self.monitor.settings.chart_marker
        xs: list[float] = []
        tin: list[float] = []
        tout: list[float] = []
        calls: list[float] = []
        # Each event counter's increases, named by its plural (legend of the chart).
        events: dict[str, tuple[list[float], list[float]]] = {
            c.words[1]: ([], []) for c in REGISTRY if c.words is not None
        }
        end = samples[-1].at if samples else self.monitor.clock()

        def per_minute(a: Sample, b: Sample, counter: str) -> float:
            # Samples come from two pollers at different cadences, so the chart
            # shows growth per minute rather than per (uneven) interval.
            d = delta(a.values[IDX[counter]], b.values[IDX[counter]])
            return float(d or 0) * 60.0 / (b.at - a.at)

        for a, b in itertools.pairwise(samples):
            x = (b.at - end) / 60.0
            xs.append(x)
            tin.append(per_minute(a, b, "totalTokensIn"))
            tout.append(per_minute(a, b, "totalTokensOut"))
            calls.append(per_minute(a, b, "totalApiCalls"))
            for i in EVENT_INDICES:
                d = delta(a.values[i], b.values[i])
                if d:
                    ex, ey = events[REGISTRY[i].words[1]]  # type: ignore[index]
                    ex.append(x)
                    ey.append(float(d))

        self._draw(
            "#chart-tokens",
            f"Tokens per minute, last {label}",
            [(xs, tin, "in"), (xs, tout, "out")] if xs else [],
            marker,
        )
        self._draw(
            "#chart-calls", f"API calls per minute, last {label}", [(xs, calls, None)], marker
        )
        self._draw(
            "#chart-events",
            f"New violations / alerts / blocks, last {label}",
            [(ex, ey, key) for key, (ex, ey) in events.items() if ex],
            marker,
            scatter=True,
            xlim=(min(xs), 0.0) if xs else None,
        )

    def _draw(
        self,
        selector: str,
        title: str,
        lines: list[tuple[list[float], list[float], str | None]],
        marker: str,
        *,
        scatter: bool = False,
        xlim: tuple[float, float] | None = None,
    ) -> None:
        """Redraw one chart with the given (x, y, label) series."""
        chart = self.query_one(selector, PlotextPlot)
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        if xlim is not None:
            plt.xlim(*xlim)
        for x, y, name in lines:
            if not x:
                continue
            draw = plt.scatter if scatter else plt.plot
            draw(x, y, marker=marker, label=name)
        plt.xlabel("minutes (0 = now)")
        chart.refresh()

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
        self._start()

    def action_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(WINDOWS)
        self.render_all()
        self.notify(f"chart window: {WINDOWS[self.window_index][0]}", timeout=2)

    def action_copy_id(self) -> None:
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
