"""The `?` help screen: every key, in one place."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str, str], ...] = (
    ("Monitor", "q", "quit"),
    ("Monitor", "enter", "open the selected configuration"),
    ("Monitor", "escape", "clear the filter / go back"),
    ("Monitor", "r", "poll now (also while paused)"),
    ("Monitor", "p", "pause / resume polling"),
    ("Monitor", "/", "filter by name, id or provider"),
    ("Monitor", "s", "sort by the next column"),
    ("Monitor", "S", "reverse the sort direction"),
    ("Monitor", "+ / -", "poll more / less often (1 s to 1 h)"),
    ("Monitor", "l", "log in again (when login is needed)"),
    ("Monitor", "up / down, j / k", "move the selection"),
    ("Monitor", "pgup / pgdn, home / end", "move by page / to the ends"),
    ("Monitor", "?", "this help"),
    ("Monitor", "ctrl+p", "command palette (every action by name)"),
    ("Detail", "up / down, j / k", "previous / next configuration"),
    ("Detail", "w", "chart window: 5 min, 1 h, 24 h, all"),
    ("Detail", "c", "copy the aiLlmId to the clipboard (OSC 52)"),
    ("Detail", "escape", "back to the table"),
)


class HelpScreen(ModalScreen[None]):
    """Lists every key binding of the monitor and the drill-down."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", show=True),
    ]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
        table.add_column(style="bold")
        table.add_column(no_wrap=True)
        table.add_column()
        last = ""
        for group, key, what in KEYS:
            table.add_row(group if group != last else "", key, what)
            last = group
        with VerticalScroll(id="help-box"):
            yield Static(Text("flashtop keys", style="bold"), id="help-title")
            yield Static(table, id="help-keys")
            yield Static(
                "Numbers in the table are compact (45.7k); the detail screen shows exact values. "
                "Bold underlined numbers changed in the last poll. "
                "? marks a value the server sent that is not a decimal integer; - an absent one.",
                id="help-notes",
            )

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
