"""A Static whose update repaints only the cells that changed.

Textual repaints a whole `Static` on every `update()`. The status bar (two lines) and
the totals line change a few characters each poll (a time, a sum), yet every poll
rewrote all of both lines: about 200 and 600 bytes a poll to the terminal. Here an
update with the same number of lines (and no layout) marks dirty only the runs of
cells that differ from what the line showed, like the table does for its rows.

The new lines are rendered once in the widget's style: the same cells as Textual's
own rendering of a ``Text`` whose lines fit or are cut (``text-wrap: nowrap``), not
wrapped, at a fraction of its cost (a poll updates both widgets; Textual's content
pipeline took about 0.25 ms of the 0.36 ms an update cost). A plain line (printable,
its spans apart: the status bar's and the totals') is built straight into its strip
by :func:`plain_line_strip`, four times faster than Rich renders it; any other by
Rich. Textual's own visual of the text is made only if something asks for it.
Anything else (a string, a line that would wrap, text selected with the mouse, the
lines after a change of style) is rendered the stock way.
"""

from __future__ import annotations

from typing import Any, Self

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.visual import VisualType
from textual.widgets import Static

from tui.widgets._textual_compat import render_plain_lines, set_static_content
from tui.widgets.stats_table import changed_spans

_NULL = Style.null()
#: (x, y) -> the style that carries a cell's offset (for Textual's text selection).
_OFFSETS: dict[tuple[int, int], Style] = {}


def _offset_style(x: int, y: int) -> Style:
    style = _OFFSETS.get((x, y))
    if style is None:
        if len(_OFFSETS) > 4096:
            _OFFSETS.clear()
        style = _OFFSETS[x, y] = Style.from_meta({"offset": (x, y)})
    return style


def plain_line_strip(console: Console, line: Text, base: Style, y: int) -> Strip | None:
    """``line`` (line ``y`` of a widget in the style ``base``) as the strip Rich's
    rendering on ``console``, ``apply_style(base)``, ``simplify()`` and
    ``apply_offsets(0, y)`` make of it, built directly; None unless it is the simple
    case: printable, with no style of its own, its spans in order and apart (the
    status bar, the totals).

    Rich renders a line through a stack of its spans' styles, in general: about two
    thirds of what an update of the two lines cost a poll.
    """
    plain = line.plain
    if not plain or not plain.isprintable() or line.style:
        return None
    pieces: list[tuple[int, int, Style | None]] = []
    at = 0
    for start, end, span_style in line.spans:
        if start < at or end <= start:
            return None
        if start > at:
            pieces.append((at, start, None))
        if isinstance(span_style, Style):
            pieces.append((start, end, span_style))
        else:
            pieces.append((start, end, console.get_style(span_style, default=_NULL)))
        at = end
    if at < len(plain):
        pieces.append((at, len(plain), None))
    # Adjacent pieces of one style are one segment (what simplify() makes).
    merged: list[tuple[int, int, Style]] = []
    for start, end, style in pieces:
        full = base + style if style else base  # None or a null style: the base
        if merged and merged[-1][2] == full:
            merged[-1] = (merged[-1][0], end, full)
        else:
            merged.append((start, end, full))
    segments = [
        Segment(plain[start:end], full + _offset_style(start, y)) for start, end, full in merged
    ]
    return Strip(segments, len(plain) if plain.isascii() else cell_len(plain))


class LineStatic(Static):
    """A Static of one or more fixed lines of `Text`, repainted cell run by cell run."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self._hold = False
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        #: The lines last shown, as strips (None: Textual renders them; repaint
        #: everything at the next update).
        self._strips: list[Strip] | None = None
        #: Inside update(): Static's own whole-widget refresh is not wanted.
        self._hold = False

    def _render_text(self, text: Text) -> list[Strip] | None:
        """Each line of ``text`` as a strip in the widget's style, cut to its width
        as its ``text-overflow`` says, with the offsets Textual's text selection
        reads; None for a line too long that is to wrap or fold (Textual renders
        that)."""
        console = self.app.console
        width = self.size.width
        styles = self.styles
        base = self.rich_style
        strips: list[Strip] = []
        for y, line in enumerate(text.split("\n", allow_blank=True)):
            if line.cell_len > width:
                if styles.text_wrap != "nowrap" or styles.text_overflow == "fold":
                    return None
                line.truncate(
                    width, overflow="ellipsis" if styles.text_overflow == "ellipsis" else "crop"
                )
            strip = plain_line_strip(console, line, base, y)
            if strip is None:
                strip = Strip(line.render(console)).apply_style(base).simplify()
                strip = strip.apply_offsets(0, y)
            strips.append(strip)
        return strips

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        width = self.size.width
        strips = None
        if isinstance(content, Text) and not layout and self.is_mounted and width > 0:
            strips = self._render_text(content)
        if strips is None:
            self._strips = None
            super().update(content, layout=layout)
            return
        # Take the new content (what `content` answers) without the whole-widget
        # repaint Static.update asks for; then repaint only the changed runs.
        if not set_static_content(self, content):
            self._hold = True
            try:
                super().update(content, layout=False)
            finally:
                self._hold = False
        before, self._strips = self._strips, strips
        if before is None or len(before) != len(strips):
            self.refresh()
            return
        regions = [
            Region(x0, y, x1 - x0, 1)
            for y, (old, new) in enumerate(zip(before, strips, strict=True))
            for x0, x1 in changed_spans(old, new)
        ]
        if regions:
            self.refresh(*regions)

    def render_line(self, y: int) -> Strip:
        strips = self._strips
        if strips is None or y >= len(strips) or self.text_selection is not None:
            return super().render_line(y)
        return strips[y]

    def render_lines(self, crop: Region) -> list[Strip]:
        # No border, padding, tint or opacity (the status bar, the totals): its lines
        # are painted as they are, on a checked Textual (stock otherwise).
        strips = render_plain_lines(self, crop)
        return super().render_lines(crop) if strips is None else strips

    def refresh(self, *regions: Region, **options: Any) -> Self:
        if self._hold:
            return self
        return super().refresh(*regions, **options)

    def notify_style_update(self) -> None:
        # New colours (a class, the theme): Textual renders the lines (it repaints
        # the widget), and the next update repaints all of them.
        self._strips = None
        super().notify_style_update()

    def on_resize(self) -> None:
        self._strips = None  # everything moves: the next update repaints all
