"""The overview table: a virtual list that renders only the rows on screen.

The screen hands over the display order (ids) and a function that builds a
:class:`~tui.view.RowView` for an id; rows are built only when they are visible.
After each poll only the visible lines whose content changed are refreshed, and
of those only the runs of cells that differ from what is on screen, so a monitor
with 10,000 configurations costs what the visible ones cost, and an idle one
writes (almost) nothing to the terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from rich.cells import cell_len
from rich.control import strip_control_codes
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.view import ROLES, Column, RowView, columns_for_width
from tui.widgets._textual_compat import ScrollbarSkipMixin, render_plain_lines
from tui.widgets.theme_colors import Palette

NAME_MIN, NAME_MAX = 10, 40
#: One space of padding each side of every cell.
PAD = 2
#: Changed runs of a line this close together are repainted as one.
SPAN_GAP = 8

RowSource = Callable[[str], RowView]


@dataclass(slots=True)
class _Built:
    """How one line was built (:meth:`StatsTable._line_segments`), so that the next
    version of it can start from the cells at its start that did not change."""

    row: RowView
    marked: frozenset[str]
    style: Style
    columns: tuple[Column, ...]
    palette: Palette | None
    #: The line's segments (before padding to the widget's width).
    segments: list[Segment]
    #: At the start of each column, and at the end: (segments so far, the run being
    #: joined, its length then, its style). A run's list is never changed afterwards.
    starts: list[tuple[int, list[str], int, Style]]


class StatsTable(ScrollbarSkipMixin, ScrollView, can_focus=True):
    """Rows of configurations under a header line, with a row cursor.

    :class:`ScrollbarSkipMixin` skips scrollbar repaints when nothing moved, on the
    Textual versions its private override was checked with (stock behaviour otherwise).
    """

    COMPONENT_CLASSES = {
        "stats-table--header",
        "stats-table--cursor",
        "stats-table--cursor-blurred",
    }
    DEFAULT_CSS = """
    StatsTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
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
        Binding(
            "enter", "select", "Open", id="open-detail", tooltip="open the selected configuration"
        ),
        Binding(
            "up,k", "cursor_up", "Up", id="cursor-up", show=False, tooltip="move the selection up"
        ),
        Binding(
            "down,j",
            "cursor_down",
            "Down",
            id="cursor-down",
            show=False,
            tooltip="move the selection down",
        ),
        Binding("pageup", "page_up", "Page up", id="page-up", show=False, tooltip="move up a page"),
        Binding(
            "pagedown",
            "page_down",
            "Page down",
            id="page-down",
            show=False,
            tooltip="move down a page",
        ),
        Binding(
            "home", "first", "First", id="cursor-first", show=False, tooltip="to the first row"
        ),
        Binding("end", "last", "Last", id="cursor-last", show=False, tooltip="to the last row"),
    ]

    class RowSelected(Message):
        """The user pressed enter (or clicked) on a row."""

        def __init__(self, ai_llm_id: str) -> None:
            super().__init__()
            self.ai_llm_id = ai_llm_id

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.columns_shown: tuple[Column, ...] = ()
        #: Show the cost columns (the profile prices its configurations).
        self.show_cost = False
        self.palette: Palette | None = None
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._row_of: RowSource | None = None
        self._marked: dict[str, frozenset[str]] = {}
        self._cursor = 0
        #: id -> (what the line showed, its strip) for the visible lines.
        self._lines: dict[str, tuple[object, Strip]] = {}
        #: id -> how its line was last built (the next build starts from it).
        self._built: dict[str, _Built] = {}
        #: Screen line (0 = header) -> the strip last drawn or asked to be drawn there.
        self._painted: dict[int, Strip] = {}
        #: Line style -> role -> the role's style on it, for :attr:`_styled_palette`.
        self._styled: dict[Style, dict[str, Style]] = {}
        self._styled_palette: Palette | None = None
        #: Lines refreshed since the counter was last reset (for tests and benchmarks).
        self.line_refreshes = 0
        #: Regions (runs of changed cells) those refreshes asked Textual to repaint.
        self.region_refreshes = 0

    # ------------------------------------------------------------------ layout

    def layout_for(self, width: int) -> bool:
        """Choose columns for ``width``; True when they changed."""
        cols = columns_for_width(width, self.show_cost)
        fixed = sum(c.width + PAD for c in cols if c.key != "name")
        name_w = max(NAME_MIN, min(NAME_MAX, width - fixed - PAD - 1))
        sized = tuple(c.sized(name_w) if c.key == "name" else c for c in cols)
        if sized == self.columns_shown:
            return False
        self.columns_shown = sized
        self._repaint_all()
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
        self,
        order: Sequence[str],
        row_of: RowSource,
        marked: dict[str, frozenset[str]],
        *,
        follow: bool = True,
    ) -> None:
        """Display ``order`` (ids); build rows with ``row_of`` as they become visible.

        ``follow``: the cursor stays on its configuration wherever the new order puts
        it, and the view scrolls after it. Otherwise (a poll re-ranked the rows and
        the user pressed nothing) the view stays where it is, as in top and htop: the
        cursor stays on its configuration while that is still on screen, else on its
        screen row.
        """
        same_order = list(order) == self._order
        if same_order and row_of is self._row_of and marked == self._marked:
            return  # nothing new: not even a comparison of lines
        cursor_id = self.current_id()
        self._row_of = row_of
        self._marked = marked
        if not same_order:
            self._order = list(order)
            self._index = {ident: i for i, ident in enumerate(self._order)}
            self.virtual_size = Size(self.size.width, len(self._order) + 1)
        new = self._index.get(cursor_id) if cursor_id is not None else None
        if new is not None and (follow or self._on_screen(new)):
            self._cursor = new
        self._cursor = min(self._cursor, max(len(self._order) - 1, 0))
        self._scroll_cursor_into_view()
        self._refresh_changed_lines()

    def _on_screen(self, index: int) -> bool:
        top = self.scroll_offset.y
        return top <= index < top + max(self.size.height - 1, 1)

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
        """One cell as the column renders it, styled from the theme by its role."""
        cell = col.render(row, col.width, marked)
        p = self.palette
        style = p.for_role(cell.role) if p is not None else ""
        if cell.right:
            return Text(cell.text, style=style, justify="right")
        return Text(cell.text, style=style, no_wrap=True, overflow="ellipsis")

    def _line_segments(
        self, row: RowView, marked: frozenset[str], style: Style, prev: _Built | None = None
    ) -> _Built:
        """The segments of one row in the line's ``style``: each cell between two
        spaces, cut or padded to its column, in its role's style on top of the line's.

        Built directly for the common cell that fits (a poll redraws every changed
        row), through Rich ``Text`` for the rest (a long or wide name), and merged as
        they go: one segment a run of one style (what ``Strip.simplify`` would make),
        so the line is ready without restyling and merging it afterwards. A cell in
        the line's own style joins the run as one string, padding and all.

        ``prev``: how this line was built last time. The columns at its start whose
        cells read the same (:attr:`Column.reads`, the mark) are taken from it as they
        were, and only the rest built: under churn a row's rate and sparkline, at its
        end, change every poll, and its name and counters seldom.
        """
        columns = self.columns_shown
        segments: list[Segment] = []
        run: list[str] = []
        run_style = style
        first = self._reusable(prev, row, marked, style)
        starts: list[tuple[int, list[str], int, Style]] = []
        if prev is not None and first:
            n_seg, run_list, n_run, run_style = prev.starts[first]
            segments = prev.segments[:n_seg]
            run = run_list[:n_run]
            starts = prev.starts[:first]
        styled = self._role_styles(style)

        def switch(text_style: Style) -> None:
            """Close the run of the current style and start one of ``text_style``."""
            nonlocal run, run_style
            if run:
                segments.append(Segment("".join(run), run_style))
            run, run_style = [], text_style

        for col in columns[first:]:
            starts.append((len(segments), run, len(run), run_style))
            is_marked = col.key in marked
            cell = col.render(row, col.width, is_marked)
            text, width = cell.text, col.width
            if not text.isprintable():
                text = strip_control_codes(text)  # as rich.Text would
            if cell.right:
                text = text.rstrip()
            used = len(text) if text.isascii() else cell_len(text)
            if used > width or "\n" in text:
                one = Text(" ", no_wrap=True, overflow="crop")
                one.append_text(self._fit(self.render_cell(row, col, is_marked), width))
                one.append(" ")
                for seg in one.render(self.app.console):
                    if seg.text:
                        seg_style = style + seg.style
                        if seg_style is not run_style and seg_style != run_style:
                            switch(seg_style)
                        run.append(seg.text)
                continue
            pad = " " * (width - used)
            if run_style is not style and run_style != style:
                switch(style)
            text_style = styled.get(cell.role, style)
            if not text or text_style is style or text_style == style:
                run.append(f" {pad}{text} " if cell.right else f" {text}{pad} ")
                continue
            run.append(f" {pad}" if cell.right else " ")
            switch(text_style)
            run.append(text)
            switch(style)
            run.append(" " if cell.right else f"{pad} ")
        starts.append((len(segments), run, len(run), run_style))
        if run:
            segments.append(Segment("".join(run), run_style))
        return _Built(row, marked, style, columns, self.palette, segments, starts)

    def _reusable(
        self, prev: _Built | None, row: RowView, marked: frozenset[str], style: Style
    ) -> int:
        """How many columns at the start of the line ``prev`` built are drawn the same
        for ``row`` (0: build it all)."""
        columns = self.columns_shown
        if (
            prev is None
            or prev.columns is not columns
            or prev.palette is not self.palette
            or (prev.style is not style and prev.style != style)
        ):
            return 0
        old, old_marked = prev.row, prev.marked
        same: dict[tuple[str, ...], bool] = {}
        first = 0
        for col in columns:
            reads = col.reads
            if not reads or (col.key in marked) != (col.key in old_marked):
                break
            equal = same.get(reads)
            if equal is None:
                equal = same[reads] = all(getattr(row, f) == getattr(old, f) for f in reads)
            if not equal:
                break
            first += 1
        return first

    def _role_styles(self, style: Style) -> dict[str, Style]:
        """Each cell role's style on top of the line style ``style`` (the palette's
        roles; remembered per line style until the palette changes)."""
        palette = self.palette
        if palette is not self._styled_palette or len(self._styled) > 64:
            self._styled_palette = palette
            self._styled.clear()
        styled = self._styled.get(style)
        if styled is None:
            styled = {}
            if palette is not None:
                for role in ROLES:
                    extra = palette.for_role(role)
                    if isinstance(extra, Style):
                        styled[role] = style + extra
            self._styled[style] = styled
        return styled

    def _line_strip(
        self,
        row: RowView,
        marked: frozenset[str],
        style: Style,
        width: int,
        prev: _Built | None = None,
    ) -> Strip:
        """One row as a strip ``width`` cells wide, in the line's ``style`` (``prev``:
        see :meth:`_line_segments`)."""
        return self._built_strip(self._line_segments(row, marked, style, prev), width)

    @staticmethod
    def _built_strip(built: _Built, width: int) -> Strip:
        """The strip ``width`` cells wide of a built line (its segments left as they
        are: the next build of the line starts from them)."""
        segments, style = built.segments, built.style
        length = sum(len(t) if t.isascii() else cell_len(t) for t, _, _ in segments)
        if length >= width:
            return Strip(segments, length).adjust_cell_length(width, style).simplify()
        pad = " " * (width - length)
        if segments and segments[-1].style == style:
            line = [*segments[:-1], Segment(segments[-1].text + pad, style)]
        else:
            line = [*segments, Segment(pad, style)]
        return Strip(line, width)

    @staticmethod
    def _fit(cell: Text, width: int) -> Text:
        """A cell cut or padded to its column's width (ellipsis; right cells right)."""
        cell.truncate(width, overflow="ellipsis", pad=True)
        if cell.justify == "right":
            cell.rstrip()
            cell.pad_left(width - cell.cell_len)
        return cell

    def _header_text(self) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        for col in self.columns_shown:
            label = col.title[: col.width]
            line.append(" ")
            line.append(label.rjust(col.width) if col.numeric else label.ljust(col.width))
            line.append(" ")
        return line

    # ------------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            style = self.rich_style + self.get_component_rich_style("stats-table--header")
            return self._strip(self._header_text(), style, width)
        index = self.scroll_offset.y + y - 1
        if index >= len(self._order) or self._row_of is None:
            strip = Strip.blank(width, self.rich_style)
        else:
            # What the last refresh asked to paint there (every refresh sets each
            # visible line; a scroll, a resize or a repaint of all forgets them): a
            # poll's frame paints the lines it changed without looking them up again.
            painted = self._painted.get(y)
            if painted is not None and painted.cell_length == width:
                return painted
            # The widget's style (a walk up the DOM) only for a line not built yet.
            strip = self._line_for(self._order[index], index, width, None)[1]
        self._painted[y] = strip
        return strip

    def render_lines(self, crop: Region) -> list[Strip]:
        # The table has no border, padding, tint or opacity: its lines are painted as
        # they are, where the installed Textual was checked for that (stock otherwise).
        strips = render_plain_lines(self, crop)
        return super().render_lines(crop) if strips is None else strips

    def _line_for(
        self, ident: str, index: int, width: int, base: Style | None, focused: bool | None = None
    ) -> tuple[object, Strip]:
        """The line of ``ident`` at ``index``, from the cache when it shows the same;
        ``base``: the widget's style (None: looked up when the line must be built)."""
        row = self._row(ident)
        marked = self._marked.get(ident, frozenset())
        is_cursor = index == self._cursor
        if focused is None:
            focused = self.has_focus
        key = (row, marked, is_cursor, focused, width, self.columns_shown)
        cached = self._lines.get(ident)
        if cached is not None and cached[0] == key:
            return cached
        style = self.rich_style if base is None else base
        if is_cursor:
            component = "stats-table--cursor" if focused else "stats-table--cursor-blurred"
            style = style + self.get_component_rich_style(component)
        built = self._line_segments(row, marked, style, self._built.get(ident))
        self._built[ident] = built
        entry = (key, self._built_strip(built, width))
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

    def _refresh_changed_lines(self, focused: bool | None = None) -> None:
        """Repaint only what differs from the screen: changed runs of visible lines
        (``focused``: the table has the focus; None: as ``has_focus`` says)."""
        if self._row_of is None:
            return
        width = self.size.width
        top = self.scroll_offset.y
        if focused is None:
            focused = self.has_focus
        base = self.rich_style
        keep: dict[str, tuple[object, Strip]] = {}
        regions: list[Region] = []
        cuts = self._column_starts()
        # The lines are as wide as the widget, but its last columns lie under the
        # vertical scrollbar: a change there is not seen, and a region reaching it
        # would have the compositor render the whole scrollbar again.
        seen = width - self.scrollbar_size_vertical
        for index in self._visible_range():
            ident = self._order[index]
            entry = self._line_for(ident, index, width, base, focused)
            keep[ident] = entry
            y = index - top + 1
            strip = entry[1]
            before = self._painted.get(y)
            if before is strip:
                continue
            self._painted[y] = strip
            spans = changed_spans(before, strip, cuts) if before is not None else [(0, width)]
            shown = [Region(x0, y, min(x1, seen) - x0, 1) for x0, x1 in spans if x0 < seen]
            if shown:
                self.line_refreshes += 1
                regions += shown
        self._lines = keep
        if len(self._built) > len(keep):
            self._built = {ident: b for ident, b in self._built.items() if ident in keep}
        if regions:
            # One call for all of them: each call also clears the widget's caches.
            self.region_refreshes += len(regions)
            self.refresh(*regions)

    def _column_starts(self) -> list[int]:
        """The screen column where each cell after the first starts."""
        starts, x = [], 0
        for col in self.columns_shown[:-1]:
            x += col.width + PAD
            starts.append(x)
        return starts

    def _repaint_all(self) -> None:
        """Forget what is on screen and repaint the whole table."""
        self._lines.clear()
        self._painted.clear()
        self.refresh()

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
            self._repaint_all()
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
        self._painted.clear()

    def on_focus(self) -> None:
        # Before Widget._on_focus: ``has_focus`` still says False here.
        self._refresh_changed_lines(focused=True)

    def on_blur(self) -> None:
        self._refresh_changed_lines(focused=False)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._order) + 1)
        self._lines.clear()
        self._painted.clear()


def _cells(strip: Strip) -> list[tuple[str, Style | None]]:
    """One (character, style) per screen cell; a wide character's second cell is ""."""
    cells: list[tuple[str, Style | None]] = []
    for text, style, control in strip:
        if control:
            continue
        if text.isascii():
            cells.extend([(ch, style) for ch in text])
            continue
        for ch in text:
            width = cell_len(ch)
            if width == 0 and cells:
                prev, prev_style = cells[-1]
                cells[-1] = (prev + ch, prev_style)
                continue
            cells.append((ch, style))
            if width == 2:
                cells.append(("", style))
    return cells


def _runs(strip: Strip) -> list[tuple[int, str, Style | None]] | None:
    """(end, text, style) of each segment, when every character is one cell wide
    (ASCII, or box and block characters such as sparklines); else None."""
    runs: list[tuple[int, str, Style | None]] = []
    x = 0
    for text, style, control in strip:
        if control:
            continue
        if not text.isascii() and not _all_one_cell(text):
            return None
        x += len(text)
        runs.append((x, text, style))
    return runs


def _one_cell(ch: str) -> bool:
    return cell_len(ch) == 1


#: Non-ASCII segment texts -> whether every character is one cell wide (sparklines
#: repeat: each is checked once, not character by character on every poll).
_ONE_CELL_TEXTS: dict[str, bool] = {}


def _all_one_cell(text: str) -> bool:
    known = _ONE_CELL_TEXTS.get(text)
    if known is None:
        if len(_ONE_CELL_TEXTS) > 4096:
            _ONE_CELL_TEXTS.clear()
        known = _ONE_CELL_TEXTS[text] = all(map(_one_cell, text))
    return known


def changed_spans(before: Strip, after: Strip, cuts: Sequence[int] = ()) -> list[tuple[int, int]]:
    """Runs ``[x0, x1)`` of cells that differ between two strips of one screen line.

    ``cuts``: ascending columns where the line's cells start (the table's columns):
    a long stretch of one style is compared cell by cell in C, and character by
    character only within the cells that differ. The answer is the same without.
    """
    if before.cell_length != after.cell_length:
        return [(0, max(before.cell_length, after.cell_length))]
    if before == after:
        return []
    old, new = _runs(before), _runs(after)
    if old is None or new is None:
        return _changed_cells(before, after)
    # Walk both lines a stretch of one style in each at a time: a stretch whose
    # styles differ changed whole; one whose text is equal did not change (both
    # compared in C); only the rest is compared cell by cell.
    found: list[tuple[int, int]] = []
    i = j = x = 0
    while i < len(old) and j < len(new):
        a_end, a_text, a_style = old[i]
        b_end, b_text, b_style = new[j]
        end = min(a_end, b_end)
        if a_style is not b_style and a_style != b_style:
            found.append((x, end))
        else:
            a = a_text[x - a_end + len(a_text) : end - a_end + len(a_text)]
            b = b_text[x - b_end + len(b_text) : end - b_end + len(b_text)]
            if a != b:
                # Cell by cell where the cuts say (C compares), each differing piece
                # character by character.
                pieces = [x, *(c for c in cuts if x < c < end), end]
                for p0, p1 in pairwise(pieces):
                    pa, pb = a[p0 - x : p1 - x], b[p0 - x : p1 - x]
                    if pa != pb:
                        _diff_runs(pa, pb, p0, p1, found)
        x = end
        i += a_end == end
        j += b_end == end
    return _bridged(found)


def _bridged(found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ascending runs with the short gaps between them bridged: a span costs a cursor
    move and maybe a style (~30 bytes)."""
    spans: list[tuple[int, int]] = []
    for x0, x1 in found:
        if spans and x0 - spans[-1][1] <= SPAN_GAP:
            x0 = spans.pop()[0]
        spans.append((x0, x1))
    return spans


def _diff_runs(
    a: Sequence[object], b: Sequence[object], x: int, end: int, found: list[tuple[int, int]]
) -> None:
    """Append to ``found`` the runs of differing items (characters, cells) of ``a`` and
    ``b`` (of one length), which start at column ``x`` and end at ``end``."""
    start = -1
    for k, (p, q) in enumerate(zip(a, b, strict=True)):
        if p != q:
            if start < 0:
                start = k
        elif start >= 0:
            found.append((x + start, x + k))
            start = -1
    if start >= 0:
        found.append((x + start, end))


def _changed_cells(before: Strip, after: Strip) -> list[tuple[int, int]]:
    """:func:`changed_spans` cell by cell, for lines with wide or zero-width characters."""
    old, new = _cells(before), _cells(after)
    if len(old) != len(new):
        return [(0, after.cell_length)]
    found: list[tuple[int, int]] = []
    _diff_runs(old, new, 0, len(new), found)
    spans = _bridged(found)

    # A wide character (old or new) must be repainted whole: widen runs that cut one.
    def cut(x: int) -> bool:
        return 0 < x < len(new) and (new[x][0] == "" or old[x][0] == "")

    return [(x0 - cut(x0), x1 + cut(x1)) for x0, x1 in spans]
