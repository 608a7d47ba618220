"""The `?` help screen: every key, in one place, generated from the screens' BINDINGS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.ranking import CONFIRM_POLLS, TOLERANCE
from tui.screens.keys import BindingGroup, help_rows


class HelpScreen(ModalScreen[None]):
    """Lists every key binding of the monitor and the drill-down."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", show=True),
    ]

    def __init__(
        self, groups: Sequence[BindingGroup], keymap: Mapping[str, str] | None = None
    ) -> None:
        """``groups``: (title, bindings) in the order shown; ``keymap``: the app's keymap
        (binding id -> keys), so remapped bindings show their new keys."""
        super().__init__()
        self.groups = list(groups)
        self.keymap = dict(keymap or {})

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
        table.add_column(style="bold")
        table.add_column(no_wrap=True)
        table.add_column()
        last = ""
        for group, key, what in help_rows(self.groups, self.keymap):
            table.add_row(group if group != last else "", key, what)
            last = group
        with VerticalScroll(id="help-box"):
            yield Static(Text("flashtop keys", style="bold"), id="help-title")
            yield Static(table, id="help-keys")
            yield Static(
                "Numbers in the table are compact (45.7k); the detail screen shows exact values. "
                "Bold underlined numbers changed in the last poll. "
                "? marks a value the server sent that is not a decimal integer; - an absent one. "
                f"Sorted by TOK/MIN, rates within {TOLERANCE:.0%} of each other keep their "
                f"order and a row moves only once its rate differed for {CONFIRM_POLLS} polls "
                "in a row; counter columns sort exactly. When rows re-rank the view stays "
                "where it is; F follows the selected configuration instead. "
                "$/H and $ TODAY price LLM tokens at the models' base rates (n/a: no model "
                "in the profile; ~: counted since the history starts, after midnight). "
                "The built-in rules fire once when violations, alerts or blocks go up "
                "and resolve after a quiet minute; a poll's alerts are one toast.",
                id="help-notes",
            )

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
