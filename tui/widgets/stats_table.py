"""The overview table: a virtual list that renders only the rows on screen.

The screen hands over the display order (ids) and a function that builds a
:class:`~tui.view.RowView` for an id; rows are built only when they are visible.
After each poll only the visible lines whose content changed are refreshed, so
a monitor with 10,000 configurations costs what the 35 visible ones cost, and an
idle one writes (almost) nothing to the terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.fmt import compact, rate, safe_text, sparkline
from tui.view import Column, RowView, columns_for_width
from tui.widgets.theme_colors import Palette

NAME_MIN, NAME_MAX = 10, 40
#: One space of padding each side of every cell.
PAD = 2

RowSource = Callable[[str], RowView]


class StatsTable(ScrollView, can_focus=True):
    """Rows of configurations under a header line, with a row cursor."""

    COMPONENT_CLASSES = {
        "stats-table--header",
        "stats-table--cursor",
        "stats-table--cursor-blurred",
    }
    DEFAULT_CSS = """
    StatsTable {
        background: $surface;
        color: $foreground;
        & > .stats-table--header { text-style: bold; background: $panel; }
        & > .stats-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .stats-table--cursor-blurred {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
    }
    """
    BINDINGS = [
        Binding("enter", "select", "Open", id="open-detail"),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]

    class RowSelected(Message):
        """The user pressed enter (or clicked) on a row."""

        def __init__(self, ai_llm_id: str) -> None:
            super().__init__()
            self.ai_llm_id = ai_llm_id

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.columns_shown: tuple[Column, ...] = ()
        self.palette: Palette | None = None
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._row_of: RowSource | None = None
        self._marked: dict[str, frozenset[str]] = {}
        self._cursor = 0
        #: id -> (what the line showed, its strip) for the visible lines.
        self._lines: dict[str, tuple[object, Strip]] = {}
        #: id -> the row index it was drawn at, for the visible lines.
        self._shown_index: dict[str, int] = {}
        #: Lines refreshed since the counter was last reset (for tests and benchmarks).
        self.line_refreshes = 0

    # ------------------------------------------------------------------ layout

    def layout_for(self, width: int) -> bool:
        """Choose columns for ``width``; True when they changed."""
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
        self._lines.clear()
        self.refresh()
        return True

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def order(self) -> list[str]:
        return list(self._order)

    # ------------------------------------------------------------------ data

    def show(
        self, order: Sequence[str], row_of: RowSource, marked: dict[str, frozenset[str]]
    ) -> None:
        """Display ``order`` (ids); build rows with ``row_of`` as they become visible."""
        cursor_id = self.current_id()
        self._row_of = row_of
        self._marked = marked
        if list(order) != self._order:
            self._order = list(order)
            self._index = {ident: i for i, ident in enumerate(self._order)}
            self.virtual_size = Size(self.size.width, len(self._order) + 1)
        if cursor_id is not None and cursor_id in self._index:
            self._cursor = self._index[cursor_id]
        self._cursor = min(self._cursor, max(len(self._order) - 1, 0))
        self._scroll_cursor_into_view()
        self._refresh_changed_lines()

    def current_id(self) -> str | None:
        if not self._order:
            return None
        return self._order[min(self._cursor, len(self._order) - 1)]

    def select_id(self, ai_llm_id: str) -> None:
        if ai_llm_id in self._index:
            self._move_to(self._index[ai_llm_id])

    def get_row_at(self, index: int) -> list[Text]:
        """The cells of one row as rendered (for tests and copy)."""
        row = self._row(self._order[index])
        return [self.render_cell(row, c, False) for c in self.columns_shown]

    def get_cell(self, ai_llm_id: str, column_key: str) -> Text:
        row = self._row(ai_llm_id)
        col = next(c for c in self.columns_shown if c.key == column_key)
        return self.render_cell(row, col, False)

    def _row(self, ident: str) -> RowView:
        assert self._row_of is not None
        return self._row_of(ident)

    # ------------------------------------------------------------------ cells

    def render_cell(self, row: RowView, col: Column, marked: bool) -> Text:
        p = self.palette
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
        style: Style | str = ""
        if p is not None:
            if col.key in row.hot:
                style = p.error if col.key == "blocks" else p.warning
            elif marked:
                style = p.changed
            elif value is None:
                style = p.muted
        return Text(text, style=style, justify="right")

    def _line_text(self, row: RowView, marked: frozenset[str]) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        for col in self.columns_shown:
            cell = self.render_cell(row, col, col.key in marked)
            cell.truncate(col.width, overflow="ellipsis", pad=True)
            if cell.justify == "right":
                cell.rstrip()
                cell.pad_left(col.width - cell.cell_len)
            line.append(" ")
            line.append_text(cell)
            line.append(" ")
        return line

    def _header_text(self) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        for col in self.columns_shown:
            label = col.label[: col.width]
            line.append(" ")
            line.append(label.rjust(col.width) if col.numeric else label.ljust(col.width))
            line.append(" ")
        return line

    # ------------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("stats-table--header")
            return self._strip(self._header_text(), style, width)
        index = self.scroll_offset.y + y - 1
        if index >= len(self._order) or self._row_of is None:
            return Strip.blank(width, base)
        ident = self._order[index]
        return self._line_for(ident, index, width)[1]

    def _line_for(self, ident: str, index: int, width: int) -> tuple[object, Strip]:
        row = self._row(ident)
        marked = self._marked.get(ident, frozenset())
        is_cursor = index == self._cursor
        key = (row, marked, is_cursor, self.has_focus, width, self.columns_shown)
        cached = self._lines.get(ident)
        if cached is not None and cached[0] == key:
            return cached
        style = self.rich_style
        if is_cursor:
            component = "stats-table--cursor" if self.has_focus else "stats-table--cursor-blurred"
            style = style + self.get_component_rich_style(component)
        entry = (key, self._strip(self._line_text(row, marked), style, width))
        self._lines[ident] = entry
        return entry

    def _strip(self, text: Text, style: Style, width: int) -> Strip:
        segments = list(text.render(self.app.console))
        strip = Strip(segments).apply_style(style)
        return strip.adjust_cell_length(width, style).simplify()

    def _visible_range(self) -> range:
        top = self.scroll_offset.y
        rows = max(self.size.height - 1, 0)
        return range(top, min(top + rows, len(self._order)))

    def _refresh_changed_lines(self) -> None:
        """Refresh only the visible lines whose content differs from what is shown."""
        if self._row_of is None:
            return
        width = self.size.width
        visible = self._visible_range()
        keep: dict[str, tuple[object, Strip]] = {}
        for index in visible:
            ident = self._order[index]
            before = self._lines.get(ident)
            shown_at = before is not None and self._shown_index.get(ident) == index
            entry = self._line_for(ident, index, width)
            keep[ident] = entry
            if not shown_at or before is None or before[0] != entry[0]:
                self.line_refreshes += 1
                self.refresh(Region(0, index - self.scroll_offset.y + 1, width, 1))
        self._lines = keep
        self._shown_index = {self._order[i]: i for i in visible}

    # ------------------------------------------------------------------ cursor

    def _scroll_cursor_into_view(self) -> None:
        rows = max(self.size.height - 1, 1)
        top = self.scroll_offset.y
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + rows:
            self.scroll_to(y=self._cursor - rows + 1, animate=False, immediate=True)

    def _move_to(self, index: int) -> None:
        if not self._order:
            return
        index = max(0, min(index, len(self._order) - 1))
        if index == self._cursor:
            return
        self._cursor = index
        top_before = self.scroll_offset.y
        self._scroll_cursor_into_view()
        if self.scroll_offset.y != top_before:
            self._lines.clear()
            self.refresh()
        else:
            self._refresh_changed_lines()

    def action_cursor_up(self) -> None:
        self._move_to(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._move_to(self._cursor + 1)

    def action_page_up(self) -> None:
        self._move_to(self._cursor - max(self.size.height - 2, 1))

    def action_page_down(self) -> None:
        self._move_to(self._cursor + max(self.size.height - 2, 1))

    def action_first(self) -> None:
        self._move_to(0)

    def action_last(self) -> None:
        self._move_to(len(self._order) - 1)

    def action_select(self) -> None:
        ident = self.current_id()
        if ident is not None:
            self.post_message(self.RowSelected(ident))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self._move_to(self.scroll_offset.y + event.y - 1)
            if event.chain >= 2:
                self.action_select()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._lines.clear()

    def on_focus(self) -> None:
        self._refresh_changed_lines()

    def on_blur(self) -> None:
        self._refresh_changed_lines()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._order) + 1)
        self._lines.clear()
