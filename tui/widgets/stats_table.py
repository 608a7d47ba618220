"""The overview table: one row per configuration, updated cell by cell.

Only cells whose text or style changed are sent to the DataTable, and rows are
re-laid only when the order or the set of rows changed, so an idle monitor does
not redraw.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from tui.fmt import compact, rate, safe_text, sparkline
from tui.view import COUNTER_COLUMNS, EVENT_COLUMNS, Column, RowView, columns_for_width
from tui.widgets.theme_colors import Palette

NAME_MIN, NAME_MAX = 10, 40
#: Cells with padding 1 on each side.
PAD = 2


class StatsTable(DataTable[Text]):
    """DataTable specialised for RowView rows keyed by aiLlmId."""

    BINDINGS = [Binding("enter", "select_cursor", "Open", id="open-detail")]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.columns_shown: tuple[Column, ...] = ()
        self._order: list[str] = []
        self._cells: dict[tuple[str, str], Text] = {}
        self.palette: Palette | None = None

    # ------------------------------------------------------------------ layout

    def layout_for(self, width: int) -> bool:
        """Choose columns for ``width``; True when they changed (table was cleared)."""
        cols = columns_for_width(width)
        fixed = sum(c.width + PAD for c in cols if c.key != "name")
        name_w = max(NAME_MIN, min(NAME_MAX, width - fixed - PAD - 1))
        sized = tuple(
            Column(c.key, c.label, name_w, c.min_screen, c.numeric) if c.key == "name" else c
            for c in cols
        )
        if sized == self.columns_shown:
            return False
        self.columns_shown = sized
        self.clear(columns=True)
        self._order = []
        self._cells = {}
        for c in sized:
            label = Text(c.label, justify="right" if c.numeric else "left")
            self.add_column(label, width=c.width, key=c.key)
        return True

    # ------------------------------------------------------------------ cells

    def render_cell(self, row: RowView, col: Column, marked: bool) -> Text:
        p = self.palette
        style: Style | str = ""
        if col.key == "name":
            return Text(safe_text(row.name, col.width), no_wrap=True, overflow="ellipsis")
        if col.key == "provider":
            return Text(safe_text(row.provider or "-", col.width), no_wrap=True)
        if col.key == "rate":
            return Text(rate(row.rate, ""), justify="right")
        if col.key == "trend":
            return Text(sparkline(row.trend, col.width), style=p.accent if p else "")
        value = row.value(col.key)
        text = compact(value) if value is not None else "?"
        if value is None and row.problem(col.key) == "missing":
            text = "-"
        if p is not None:
            if col.key in row.hot:
                style = p.error if col.key == "blocks" else p.warning
            elif marked:
                style = p.changed
            elif value is None:
                style = p.muted
        return Text(text, style=style, justify="right")

    def show(
        self,
        rows: Sequence[RowView],
        marked: dict[str, frozenset[str]],
    ) -> None:
        """Make the table show ``rows`` in this order; ``marked``: id -> changed column keys."""
        order = [r.id for r in rows]
        cursor_id = self.current_id()
        if order != self._order:
            self.clear(columns=False)
            self._cells = {}
            for r in rows:
                cells = [
                    self.render_cell(r, c, c.key in marked.get(r.id, ()))
                    for c in self.columns_shown
                ]
                for c, t in zip(self.columns_shown, cells, strict=True):
                    self._cells[(r.id, c.key)] = t
                self.add_row(*cells, key=r.id)
            self._order = order
            if cursor_id in order:
                self.move_cursor(row=order.index(cursor_id), animate=False)
            return
        for r in rows:
            for c in self.columns_shown:
                text = self.render_cell(r, c, c.key in marked.get(r.id, ()))
                old = self._cells.get((r.id, c.key))
                if old is None or old.plain != text.plain or old.style != text.style:
                    self._cells[(r.id, c.key)] = text
                    self.update_cell(r.id, c.key, text)

    def current_id(self) -> str | None:
        if not self._order or self.row_count == 0:
            return None
        row = min(max(self.cursor_row, 0), len(self._order) - 1)
        return self._order[row]

    def select_id(self, ai_llm_id: str) -> None:
        if ai_llm_id in self._order:
            self.move_cursor(row=self._order.index(ai_llm_id), animate=False)

    @property
    def order(self) -> list[str]:
        return list(self._order)


__all__ = ["COUNTER_COLUMNS", "EVENT_COLUMNS", "StatsTable"]
