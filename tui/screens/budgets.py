"""The budgets screen (`b`): every budget of the profile, how much is used, and when it runs out."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.budgets import BudgetStatus
from tui.budgets import percent_text as percent
from tui.fmt import safe_text
from tui.monitor import Monitor
from tui.pricing import format_usd

#: Width of the used-so-far bar, in cells.
BAR = 20
#: Screen widths: from WIDE the whole table; below NARROW two lines per budget.
WIDE = 110
NARROW = 70
_STATE_STYLE = {"over": "bold red", "runs out": "bold yellow", "ok": ""}


def bar(percent: float, width: int = BAR) -> str:
    """``███████░░░░░░`` filled to ``percent`` (capped at full)."""
    filled = max(0, min(width, round(width * percent / 100)))
    return "█" * filled + "░" * (width - filled)


def worst(statuses: Sequence[BudgetStatus]) -> BudgetStatus | None:
    """The budget most in trouble: over, then running out soonest, then fullest."""

    def rank(s: BudgetStatus) -> tuple[int, float, float]:
        state = s.state()
        if state == "over":
            return (0, -s.percent, 0.0)
        if state == "runs out" and s.runs_out_at is not None:
            return (1, s.runs_out_at, 0.0)
        return (2, -s.percent, 0.0)

    return min(statuses, key=rank) if statuses else None


def outlook(status: BudgetStatus) -> Text:
    state = status.state()
    if state == "over":
        words = "over budget"
    elif state == "runs out":
        words = status.describe().split(" · ")[1]  # "runs out at 15:40"
    else:
        words = "within budget"
    return Text(words, style=_STATE_STYLE[state])


def burn(status: BudgetStatus) -> str:
    value = status.burn_per_hour
    if value is None:
        return "-"
    if status.is_usd:
        return f"{format_usd(value)}/h"  # type: ignore[arg-type]
    return f"{status.amount(round(value))}/h"


class BudgetsScreen(Screen[None]):
    """A table of the profile's budgets, refreshed every second from the monitor."""

    BINDINGS = [
        Binding("escape,b", "back", "Back", id="budgets-back", tooltip="back to the table"),
    ]

    def __init__(self, monitor: Monitor) -> None:
        super().__init__()
        self.monitor = monitor
        self._shown: Table | Text | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(" Budgets ", style="bold reverse"), id="budgets-title")
        with VerticalScroll(id="budgets-body"):
            yield Static("", id="budgets-table")
            yield Static("", id="budgets-notes")
        yield Footer()

    def on_mount(self) -> None:
        self.render_budgets()

    def tick(self) -> None:
        if self.is_mounted:
            self.render_budgets()

    def render_budgets(self) -> None:
        monitor = self.monitor
        statuses = monitor.budgets
        notes = self.query_one("#budgets-notes", Static)
        if not monitor.settings.budgets:
            where = monitor.settings.config_path or "the config file"
            self.query_one("#budgets-table", Static).update(
                Text(
                    f"No budgets. Add one to {where}:\n\n"
                    f"[[profiles.{monitor.settings.profile}.budgets]]\n"
                    'match = "*"          # glob on name, id or provider\n'
                    'period = "day"       # or "month" (local time)\n'
                    "usd = 100            # or: tokens = 50_000_000"
                )
            )
            notes.update("")
            return
        if not statuses:
            self.query_one("#budgets-table", Static).update(Text("waiting for the first poll…"))
            return
        width = self.size.width or self.app.size.width
        table: Table | Text
        if width < NARROW:
            table = self._lines(statuses)
        else:
            table = self._table(statuses, wide=width >= WIDE)
        self.query_one("#budgets-table", Static).update(table)
        lines = []
        for s in statuses:
            extra = []
            if s.unpriced:
                extra.append(f"{s.unpriced} configuration(s) without a price, counted as $0")
            if not s.exact:
                extra.append(s.describe().rsplit(" · ", 1)[-1] + ": the history starts later")
            if extra:
                lines.append(f"{safe_text(s.spec.label, 40)}: {'; '.join(extra)}")
        lines.append(
            "Burn is the last hour's rate (or since the period began, if shorter); a budget "
            "runs out when that rate would pass its limit before the period ends. "
            "Alerts at 50, 80 and 100 %, once per period. USD budgets price LLM tokens "
            "at the models' base rates; token budgets count LLM tokens in + out."
        )
        notes.update(Text("\n".join(lines)))

    def on_resize(self) -> None:
        self.render_budgets()

    @staticmethod
    def _table(statuses: Sequence[BudgetStatus], *, wide: bool) -> Table:
        """One row per budget; below :data:`WIDE` columns without the bar and counts."""
        table = Table(box=None, padding=(0, 1), header_style="bold", expand=False)
        columns = [("BUDGET", "left"), ("USED", "right"), ("LIMIT", "right")]
        if wide:
            columns.insert(1, ("PERIOD", "left"))
            columns.append(("", "left"))
        columns += [("%", "right"), ("BURN", "right"), ("OUTLOOK", "left")]
        if wide:
            columns.append(("CONFIGS", "right"))
        for title, justify in columns:
            table.add_column(title, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for s in statuses:
            state = s.state()
            cells: list[str | Text] = [
                Text(safe_text(s.spec.label, 40 if wide else 24)),
                ("" if s.exact else "~") + s.amount(s.used),
                s.amount(s.limit, whole=True),
            ]
            if wide:
                cells.insert(1, s.spec.period)
                cells.append(Text(bar(s.percent), style=_STATE_STYLE[state] or "green"))
            cells += [percent(s.percent), burn(s), outlook(s)]
            if wide:
                cells.append(str(s.members))
            table.add_row(*cells)
        return table

    @staticmethod
    def _lines(statuses: Sequence[BudgetStatus]) -> Text:
        """A narrow pane: each budget on two lines, nothing cut."""
        text = Text()
        for s in statuses:
            text.append(safe_text(s.spec.label, 40), style="bold")
            text.append(f"  {percent(s.percent)} %  ")
            text.append_text(outlook(s))
            text.append(
                f"\n  {'' if s.exact else '~'}{s.amount(s.used)} of "
                f"{s.amount(s.limit, whole=True)}, burn {burn(s)}\n"
            )
        return text

    def action_back(self) -> None:
        self.app.pop_screen()
