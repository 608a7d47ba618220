"""Every use of private Textual API in flashtop, switched on only where it was checked.

Two optimisations reach into Textual's internals:

* :class:`CroppingCompositor` subclasses ``textual._compositor`` so that a partial
  update writes only the changed cells of a line, not the line up to them;
* :class:`ScrollbarSkipMixin` overrides ``ScrollView._size_updated`` so that a layout
  of the screen in which the table did not move does not repaint its scrollbars.

Both are used only when :func:`compat_enabled`: the installed Textual is within
:data:`CHECKED_TEXTUAL` and its private modules import. On any other version the
stock compositor and the stock ``_size_updated`` are used; the app is slower to
draw, not broken. To support a new Textual, re-read ``textual/_compositor.py``
(``ChopsUpdate.render_segments``, ``Compositor.render_partial_update``) and
``ScrollView._size_updated``, then widen the range deliberately.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console
from rich.control import Control
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen

#: Textual versions these overrides were checked against: ``[low, high)``.
CHECKED_TEXTUAL: tuple[tuple[int, int, int], tuple[int, int, int]] = ((8, 2, 0), (8, 3, 0))

try:
    from textual._compositor import ChopsUpdate, Compositor

    # The methods overridden below must exist, or the subclasses would be dead code.
    _PRIVATE_OK = hasattr(Compositor, "render_partial_update") and hasattr(
        ChopsUpdate, "render_segments"
    )
except (ImportError, AttributeError):  # pragma: no cover - only on an unchecked Textual
    _PRIVATE_OK = False


def textual_version() -> tuple[int, int, int] | None:
    """The installed Textual as (major, minor, micro); None when unknown."""
    try:
        text = importlib.metadata.version("textual")
    except importlib.metadata.PackageNotFoundError:
        return None
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        return None
    major, minor, micro = match.groups()
    return int(major), int(minor), int(micro or 0)


def version_checked(version: tuple[int, int, int] | None) -> bool:
    """True when ``version`` is within :data:`CHECKED_TEXTUAL`."""
    low, high = CHECKED_TEXTUAL
    return version is not None and low <= version < high


@functools.cache
def compat_enabled() -> bool:
    """True only on a checked Textual whose private API imported (decided once)."""
    return _PRIVATE_OK and version_checked(textual_version())


def install_cropping_compositor(screen: Screen[Any]) -> bool:
    """Give ``screen`` a :class:`CroppingCompositor` when enabled; True if it did."""
    if not compat_enabled():
        return False
    screen._compositor = CroppingCompositor()
    return True


class ScrollbarSkipMixin(ScrollView):
    """A ScrollView that skips ``_size_updated`` when nothing moved (when enabled).

    Textual hands a ScrollView its viewport as ``virtual_size``, which never equals
    the widget's own, so every layout of the screen (a status bar update, say) would
    repaint both scrollbars.
    """

    #: (size, container size, virtual size) when the scrollbars were last updated.
    _sized: tuple[Size, Size, Size] | None = None

    def _size_updated(self, *args: Any, **kwargs: Any) -> bool:
        if compat_enabled() and self._nothing_moved(*args, **kwargs):
            return False
        return super()._size_updated(*args, **kwargs)

    def _nothing_moved(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        sized = (size, container_size, self.virtual_size)
        if sized == self._sized:
            return True
        self._sized = sized
        return False


if _PRIVATE_OK:

    class CroppingCompositor(Compositor):
        """Textual's compositor, but a partial update writes only the cells it must.

        Textual 8 writes each dirty span from the start of the widget's piece of the
        line ("TODO: crop to x extents" in ``ChopsUpdate``), so repainting three
        changed cells of a table line rewrites the line up to the last of them, once
        per cell. The screen that shows the table uses this compositor instead.
        """

        def render_partial_update(self) -> ChopsUpdate | None:
            update = super().render_partial_update()
            if update is None:
                return None
            return CroppedChopsUpdate(update.chops, update.spans, update.chop_ends)

    class CroppedChopsUpdate(ChopsUpdate):
        """A partial update whose spans are cropped to their own columns."""

        def render_segments(self, console: Console) -> str:
            out: list[str] = []
            append = out.append
            move_to = Control.move_to
            last_y = self.spans[-1][0]
            for y, x1, x2 in self.spans:
                chops = zip(self.chop_ends[y], self.chops[y].items(), strict=False)
                for end, (x, strip) in chops:
                    if strip is None or x > x2 or end <= x1:
                        continue
                    start = _whole_cell(strip, max(x1 - x, 0), -1)
                    stop = _whole_cell(strip, min(end, x2) - x, +1)
                    if start > 0 or stop < strip.cell_length:
                        strip = strip.crop(start, stop)
                    append(move_to(x + start, y).segment.text)
                    append(strip.render(console))
                if y != last_y:
                    append("\n")
            return "".join(out)


def _whole_cell(strip: Strip, at: int, step: int) -> int:
    """``at``, moved by ``step`` if it falls inside a double-width character."""
    if at <= 0 or at >= strip.cell_length:
        return at
    pos = 0
    for text, _style, _control in strip:
        width = cell_len(text)
        if pos + width <= at:
            pos += width
            continue
        if text.isascii():
            return at
        for ch in text:
            w = cell_len(ch)
            if pos + w > at:
                return at if pos == at else (pos if step < 0 else pos + w)
            pos += w
        return at
    return at


def write_to_terminal(app: App[Any], text: str) -> bool:
    """Write escape sequences straight to the app's terminal (a desktop notification's
    OSC 777 / OSC 9), as Textual's own ``copy_to_clipboard`` does for OSC 52; False
    when there is no terminal (headless tests)."""
    driver = getattr(app, "_driver", None)
    if driver is None:
        return False
    driver.write(text)
    return True
