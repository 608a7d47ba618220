"""A Static whose update repaints only the cells that changed.

Textual repaints a whole `Static` on every `update()`. The status bar (two lines) and
the totals line change a few characters each poll (a time, a sum), yet every poll
rewrote all of both lines: about 200 and 600 bytes a poll to the terminal. Here an
update with the same number of lines (and no layout) marks dirty only the runs of
cells that differ from what the line showed, like the table does for its rows.
"""

from __future__ import annotations

from typing import Any, Self

from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.visual import VisualType
from textual.widgets import Static

from tui.widgets._textual_compat import (
    keep_rendered_lines,
    render_lines_now,
    render_plain_lines,
)
from tui.widgets.stats_table import changed_spans


class LineStatic(Static):
    """A Static of one or more fixed lines of `Text`, repainted cell run by cell run."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self._hold = False
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        #: The lines last shown, as strips (None: repaint everything next time).
        self._strips: list[Strip] | None = None
        #: Inside update(): Static's own whole-widget refresh is not wanted.
        self._hold = False

    def _as_strips(self, text: Text) -> list[Strip]:
        console = self.app.console
        return [Strip(line.render(console)) for line in text.split("\n", allow_blank=True)]

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        width = self.size.width
        if not isinstance(content, Text) or layout or not self.is_mounted or width <= 0:
            self._strips = None
            super().update(content, layout=layout)
            return
        # Take the new content without the whole-widget repaint Static.update asks
        # for; then repaint only the changed runs.
        self._hold = True
        try:
            super().update(content, layout=False)
        finally:
            self._hold = False
        # Rendered once, as Textual paints them, where it can be (else as Rich
        # renders the text, and Textual renders it again to paint it).
        rendered = render_lines_now(self)
        strips = self._as_strips(content) if rendered is None else rendered
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
            keep_rendered_lines(self)

    def render_lines(self, crop: Region) -> list[Strip]:
        # No border, padding, tint or opacity (the status bar, the totals): its lines
        # are painted as they are, on a checked Textual (stock otherwise).
        strips = render_plain_lines(self, crop)
        return super().render_lines(crop) if strips is None else strips

    def refresh(self, *regions: Region, **options: Any) -> Self:
        if self._hold:
            return self
        return super().refresh(*regions, **options)

    def on_resize(self) -> None:
        self._strips = None  # everything moves: the next update repaints all
