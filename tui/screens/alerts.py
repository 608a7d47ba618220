"""The alerts screen (`a`): what fires and is pending now, then the recent log.

`enter` opens the configuration's drill-down, `m` mutes the rule for an hour (again:
unmutes). Server text (configuration names) goes in as `Text`, never markup.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui.fmt import safe_text
from tui.monitor import Monitor
from tui.notify import format_value
from tui.rules import ActiveAlert, Event

#: How long `m` mutes a rule.
MUTE_SECONDS = 3600.0
#: Log lines shown (newest first), and active alerts at most (the rest are counted
#: in the title: thousands of rows would cost the screen a second to rebuild).
LOG_LINES = 200
ACTIVE_ROWS = 500
_STATE_STYLE = {
    "firing": "bold red",
    "pending": "yellow",
    "resolved": "green",
    "repeat": "red",
    "muted": "dim",
}


def _clock(at: float, now: float) -> str:
    local = time.localtime(at)
    same_day = time.localtime(now)[:3] == local[:3]
    return time.strftime("%H:%M:%S" if same_day else "%b %d %H:%M", local)


class AlertsScreen(Screen[None]):
    """Active alerts first, then the log; refreshed every second from the monitor."""

    BINDINGS = [
        Binding("escape,a", "back", "Back", id="alerts-back", tooltip="back to the table"),
        Binding(
            "enter",
            "open",
            "Open",
            id="alerts-open",
            tooltip="open the selected alert's configuration",
        ),
        Binding("m", "mute", "Mute 1 h", id="alerts-mute", tooltip="mute / unmute the rule"),
    ]

    def __init__(self, monitor: Monitor) -> None:
        super().__init__()
        self.monitor = monitor
        #: Row key -> (aiLlmId or "", rule name), for enter and m.
        self._rows: dict[str, tuple[str, str]] = {}
        self._shown: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="alerts-title")
        yield DataTable(id="alerts-table", cursor_type="row", zebra_stripes=False)
        yield Static("", id="alerts-delivery")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("WHEN", "STATE", "RULE", "CONFIGURATION", "VALUE", "ABOVE")
        table.focus()
        self.render_alerts()

    def tick(self) -> None:
        if self.is_mounted:
            self.render_alerts()

    def render_alerts(self) -> None:
        monitor = self.monitor
        now = monitor.clock()
        active = monitor.rules.active()
        log = list(monitor.alert_log)[-LOG_LINES:][::-1]
        key = (tuple(active), len(monitor.alert_log), log[0] if log else None)
        if key == self._shown:
            return
        self._shown = key
        firing = sum(1 for a in active if a.state == "firing")
        title = Text(" Alerts ", style="bold reverse")
        title.append(f"  {firing} firing, {len(active) - firing} pending")
        if len(active) > ACTIVE_ROWS:
            title.append(f" (the first {ACTIVE_ROWS} shown)")
        muted = [r.name for r in monitor.rules.rules if monitor.rules.is_muted(r.name, now)]
        if muted:
            title.append(f"  muted: {safe_text(', '.join(muted), 60)}")
        self.query_one("#alerts-title", Static).update(title)

        table = self.query_one(DataTable)
        # The cursor stays on its alert (not its row number) when rows come and go.
        chosen = self._selected_key()
        cursor = table.cursor_row
        table.clear()
        self._rows = {}
        for alert in active[:ACTIVE_ROWS]:
            self._add_active(table, f"a:{alert.rule.name}:{alert.entity}", alert, now)
        for event in log:
            row_key = f"e:{event.at!r}:{event.rule}:{event.entity}:{event.state}"
            if row_key not in self._rows:
                self._add_event(table, row_key, event, now)
        if table.row_count:
            if chosen is not None and chosen in self._rows:
                table.move_cursor(row=table.get_row_index(chosen))
            else:
                table.move_cursor(row=min(cursor, table.row_count - 1))
        self._render_delivery()

    def _add_active(
        self, table: DataTable[Text | str], key: str, a: ActiveAlert, now: float
    ) -> None:
        state = f"{a.state} (muted)" if a.muted else a.state
        since = a.firing_since if a.firing_since is not None else a.since
        table.add_row(
            Text(f"since {_clock(since, now)}"),
            Text(state, style=_STATE_STYLE["muted" if a.muted else a.state]),
            Text(safe_text(a.rule.name, 30)),
            Text(safe_text(a.entity_name, 40)),
            Text(format_value(a.rule.metric, a.value)),
            Text(format_value(a.rule.metric, a.threshold)),
            key=key,
        )
        self._rows[key] = (a.entity, a.rule.name)

    def _add_event(self, table: DataTable[Text | str], key: str, e: Event, now: float) -> None:
        state = f"{e.state} (muted)" if e.muted else e.state
        table.add_row(
            Text(_clock(e.at, now), style="dim"),
            Text(state, style=_STATE_STYLE.get(e.state, "")),
            Text(safe_text(e.rule, 30)),
            Text(safe_text(e.entity_name, 40)),
            Text(format_value(e.metric, e.value)),
            Text(format_value(e.metric, e.threshold)),
            key=key,
        )
        self._rows[key] = (e.entity, e.rule)

    def _render_delivery(self) -> None:
        notifier = self.monitor.notifier
        lines = Text()
        for target in notifier.status():
            lines.append(
                f" {target.url}: {target.delivered} delivered, {target.pending} pending"
                + (f", {target.failures} failed" if target.failures else "")
                + (f" ({safe_text(target.last_error, 60)})" if target.last_error else "")
                + "\n"
            )
        if not lines.plain:
            lines.append(" No notification URLs in this profile's rules.", style="dim")
        self.query_one("#alerts-delivery", Static).update(lines)

    def _selected_key(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value)

    def _selected(self) -> tuple[str, str] | None:
        key = self._selected_key()
        return None if key is None else self._rows.get(key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row (the table takes the key before the screen's binding)."""
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        chosen = self._selected()
        if chosen is None:
            return
        ident = chosen[0]
        if ident and self.monitor.history.get(ident) is not None:
            from tui.screens.detail import DetailScreen

            self.app.push_screen(DetailScreen(self.monitor, ident))
        else:
            self.notify("no configuration to open for this alert", timeout=2)

    def action_mute(self) -> None:
        chosen = self._selected()
        if chosen is None:
            return
        rule = chosen[1]
        rules = self.monitor.rules
        now = self.monitor.clock()
        if rules.is_muted(rule, now):
            rules.unmute(rule)
            self.notify(f"rule '{safe_text(rule, 30)}' unmuted", timeout=2, markup=False)
        else:
            rules.mute(rule, now + MUTE_SECONDS)
            self.notify(f"rule '{safe_text(rule, 30)}' muted for an hour", timeout=2, markup=False)
        self._shown = None
        self.render_alerts()

    def action_back(self) -> None:
        self.app.pop_screen()
