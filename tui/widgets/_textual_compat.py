"""Every use of private Textual API in flashtop, switched on only where it was checked.

Six optimisations reach into Textual's internals:

* :class:`CroppingCompositor` subclasses ``textual._compositor`` so that a partial
  update writes only the changed cells of a line, not the line up to them, and
  renders only the widgets of which some piece is painted;
* :class:`ScrollbarSkipMixin` overrides ``ScrollView._size_updated`` so that a layout
  of the screen in which the table did not move does not repaint its scrollbars.

A third, :func:`render_plain_lines`, paints a widget with no border, padding,
outline, hatch, tint or opacity (the table) from its own lines, through Textual's line
cache and line filters but without ``StylesCache.render_line``'s general case (and
without copying a line the truecolor filter would not change).

A fourth, :func:`input_wait`, reads when the input parser's half-read escape sequence
is due, so that the terminal's input thread (``tui.terminal``) can sleep until then
instead of waking ten times a second as Textual's does.

A fifth, :func:`paint_now`, paints a screen's dirty widgets from its idle handler
(what ``Screen._on_timer_update`` does when the update timer fires), so that the
overview paints a poll in the wake-up that brought it. A sixth,
:func:`set_static_content`, gives a ``Static`` new content without converting it
until it is asked for (the status bar and totals paint their own lines).

All are used only when :func:`compat_enabled`: the installed Textual is within
:data:`CHECKED_TEXTUAL` and its private modules import. On any other version the
stock compositor and the stock ``_size_updated`` are used, and the input thread looks
at its parser every 0.1 s as Textual's does; the app is slower to draw and wakes more
often, not broken. To support a new Textual, re-read ``textual/_compositor.py``
(``ChopsUpdate.render_segments``, ``Compositor.render_partial_update``,
``_render_chops`` and ``_get_renders``) and
``ScrollView._size_updated``, ``StylesCache`` (for ``render_plain_lines``),
``Screen._on_idle`` and ``_on_timer_update`` (for ``paint_now``), ``Static``'s
private ``__content``/``__visual`` (for ``set_static_content``), and
``textual/_parser.py`` (``Parser._timeout_time``, ``tick``) and ``LinuxDriver``'s
``exit_event``/``disable_input``, then widen the range deliberately.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, cast

from rich.cells import cell_len
from rich.color import ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import ANSIToTruecolor, LineFilter
from textual.geometry import Region, Size, Spacing
from textual.scroll_view import ScrollView
from textual.strip import Strip

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen
    from textual.visual import VisualType
    from textual.widget import Widget
    from textual.widgets import Static

_NO_SPACING = Spacing(0, 0, 0, 0)

#: Textual versions these overrides were checked against: ``[low, high)``.
CHECKED_TEXTUAL: tuple[tuple[int, int, int], tuple[int, int, int]] = ((8, 2, 0), (8, 3, 0))

try:
    from textual._compositor import ChopsUpdate, Compositor
    from textual._time import get_time

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


#: Textual's own input thread looks at its parser this often (``select(0.1)``).
STOCK_INPUT_WAIT = 0.1
#: The longest the input thread sleeps with no key and no half-read escape sequence.
#: Quitting wakes it at once (``tui.terminal``), so this is only a safety net for a
#: wake-up that never came: quit would then take up to this long.
IDLE_INPUT_WAIT = 3.0
_UNKNOWN = object()


def input_wait(parser: object) -> float:
    """Seconds the terminal's input thread may wait for a key before it must call
    ``parser.tick()`` (an ``XTermParser``): until the half-read escape sequence in it
    is due to be given up on (a lone ESC is the escape key once Textual's ``ESCDELAY``
    has passed), at most :data:`IDLE_INPUT_WAIT`; Textual's own 0.1 s when not enabled.
    """
    if not compat_enabled():
        return STOCK_INPUT_WAIT
    due = getattr(parser, "_timeout_time", _UNKNOWN)
    if due is None:
        return IDLE_INPUT_WAIT
    if not isinstance(due, float | int):  # pragma: no cover - a parser not checked
        return STOCK_INPUT_WAIT
    return min(max(0.0, due - get_time()), IDLE_INPUT_WAIT)


def install_cropping_compositor(screen: Screen[Any]) -> bool:
    """Give ``screen`` a :class:`CroppingCompositor` when enabled; True if it did."""
    if not compat_enabled():
        return False
    screen._compositor = CroppingCompositor()
    return True


def paint_now(screen: Screen[Any]) -> bool:
    """Paint ``screen``'s dirty widgets now, as its update timer would a frame later;
    True if it did. Nothing is done (False: Textual's timer paints, as usual) when not
    enabled, when the screen is not the one shown or the app holds updates back, when
    nothing is dirty, or when a layout, scroll or recompose is pending.

    A poll's changes reach the screen's idle handler in the wake-up that brought the
    response; Textual's timer would paint them 16-25 ms later, in a wake-up of the
    process of its own (about 0.15 ms of CPU on a VM, whatever it then does).
    """
    if not compat_enabled():
        return False
    if screen.app._batch_count or not screen.is_current:
        return False
    if screen._layout_required or screen._scroll_required or screen._recompose_required:
        return False
    if not (screen._repaint_required or screen._dirty_widgets):
        return False
    screen._on_timer_update()  # paints; pauses the timer; schedules call_after_refresh
    return True


def set_static_content(static: Static, content: VisualType) -> bool:
    """What ``Static.update(content)`` does but for the refresh, and with the content
    turned into a visual only once something asks for it (``Static.visual``); True if
    done (False: not enabled, the caller updates the stock way).

    A :class:`~tui.widgets.line_static.LineStatic` paints its own lines: Textual's
    conversion of its text to ``Content`` at every update is read only when the stock
    way paints it (text selected with the mouse, a line that wraps).
    """
    if not compat_enabled() or "_Static__visual" not in vars(static):
        return False
    vars(static)["_Static__content"] = content
    vars(static)["_Static__visual"] = None
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

        #: Screen line -> the column spans ``[x1, x2)`` the partial update being
        #: rendered paints on it (None outside :meth:`render_partial_update`).
        _line_spans: dict[int, list[tuple[int, int]]] | None = None

        def render_partial_update(self) -> ChopsUpdate | None:
            """``Compositor.render_partial_update``, telling :meth:`_render_chops` the
            columns each line paints, and cropping the update to them."""
            update_regions = self._dirty_regions.copy()
            self._dirty_regions.clear()
            if not update_regions:
                return None
            crop = Region.from_union(update_regions).intersection(self.size.region)
            spans = list(self._regions_to_spans(update_regions))
            line_spans: dict[int, list[tuple[int, int]]] = {}
            for y, x1, x2 in spans:
                line_spans.setdefault(y, []).append((x1, x2))
            chops = self.render_chops_painting(crop, line_spans)
            chop_ends = [cut_set[1:] for cut_set in self.cuts]
            return CroppedChopsUpdate(chops, spans, chop_ends)

        def render_chops_painting(
            self, crop: Region, line_spans: dict[int, list[tuple[int, int]]]
        ) -> Sequence[Mapping[int, Strip]]:
            """:meth:`_render_chops` for a partial update that paints ``line_spans``
            (screen line -> its column spans ``[x1, x2)``)."""
            self._line_spans = line_spans
            try:
                return self._render_chops(crop, line_spans.__contains__)
            finally:
                self._line_spans = None

        def _render_chops(
            self, crop: Region, is_rendered_line: Callable[[int], bool]
        ) -> Sequence[Mapping[int, Strip]]:
            """``Compositor._render_chops``, without rendering a widget none of whose
            pieces would be painted: one with no line to paint, or one hidden on
            every such line by the widgets in front of it (the screen behind the
            table and its scrollbar, the footer when only the table changed).

            Textual renders every widget that touches the update's outline, front to
            back, and cuts each of its lines to be painted into pieces, of which a
            piece no widget in front has claimed is kept. Here a widget is rendered
            only if one of those pieces is still unclaimed; the pieces kept are the
            same. In a partial update (:attr:`_line_spans` known) only a piece that
            overlaps a span the update paints counts: the table's scrollbar is not
            rendered for a change of a table line that does not reach it. (A piece
            painted nowhere may then be kept from a widget behind; it is never
            written.)
            """
            cuts = self.cuts
            chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
            overlaps = crop.overlaps
            line_spans = self._line_spans
            for widget, (region, clip) in self.visible_widgets.items():
                if not overlaps(clip):
                    continue
                render_region = region.intersection(clip)
                first_cut, last_cut = render_region.column_span
                rows: list[tuple[int, list[int]]] = []
                wanted = False
                for y in render_region.line_range:
                    if not is_rendered_line(y):
                        continue
                    line_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                    rows.append((y, line_cuts))
                    if not wanted:
                        chops_line = chops[y]
                        if line_spans is None:
                            wanted = any(chops_line.get(cut) is None for cut in line_cuts[:-1])
                        else:
                            wanted = _unclaimed_painted(chops_line, line_cuts, line_spans[y])
                if not wanted:
                    continue
                if clip.contains_region(region):
                    strips = widget.render_lines(Region(0, 0, region.width, region.height))
                else:  # (a region with no width or height has no piece wanted)
                    x, y0, width, height = render_region
                    strips = widget.render_lines(Region(x - region.x, y0 - region.y, width, height))
                top, render_x = render_region.y, render_region.x
                for y, line_cuts in rows:
                    chops_line = chops[y]
                    strip = strips[y - top]
                    if line_spans is not None and not _unclaimed_painted(
                        chops_line, line_cuts[1:], line_spans[y]
                    ):
                        # No piece but the first is painted: the whole line stands for
                        # it, uncut (a partial update writes a piece only up to its
                        # chop's end; the table's line, with the scrollbar's cell at
                        # its end, is not copied to drop that cell).
                        first = line_cuts[0]
                        if chops_line.get(first) is None:
                            chops_line[first] = strip
                        continue
                    pieces = strip.divide([cut - render_x for cut in line_cuts[1:]])
                    for cut, piece in zip(line_cuts, pieces, strict=False):
                        if chops_line.get(cut) is None:
                            chops_line[cut] = piece
            return cast("Sequence[Mapping[int, Strip]]", chops)

    def _unclaimed_painted(
        chops_line: Mapping[int, Strip | None],
        line_cuts: Sequence[int],
        spans: Sequence[tuple[int, int]],
    ) -> bool:
        """Whether a piece between two of ``line_cuts`` is not claimed yet in
        ``chops_line`` and overlaps one of ``spans`` (the columns a partial update
        paints on the line)."""
        return any(
            chops_line.get(cut) is None and any(x1 < end and cut < x2 for x1, x2 in spans)
            for cut, end in pairwise(line_cuts)
        )

    class CroppedChopsUpdate(ChopsUpdate):
        """A partial update whose spans are cropped to their own columns, and written
        with as few escape codes as the terminal needs.

        Rich writes every styled segment as ``ESC[<whole style>m text ESC[0m``: under
        churn six bytes in ten written were colour codes, mostly the table's one base
        style sent again for every changed cell. Here the terminal's style is tracked
        through the update: a segment in the style already set costs its text only,
        and a change of style sends only what differs (``ESC[22;24m`` to unmark a cell,
        say), or a reset and the new style where that is shorter. A move within the
        line just written is a column move (``ESC[<x>G``), and the line feeds Textual
        writes between lines (each followed by an absolute move anyway) are left out.
        The update ends in the default style, as Rich's own output does.
        """

        def render_segments(self, console: Console) -> str:
            color_system = console._color_system or ColorSystem.TRUECOLOR
            out: list[str] = []
            append = out.append
            state: _Sgr = _NO_STYLE
            sgr_of = _sgr_cache(color_system)
            row = -1  # the row the cursor is on, when it is known
            row_end = -1  # the column the last write on that row ended at
            for y, x1, x2 in self.spans:
                ends = self.chop_ends[y]
                width = ends[-1] if ends else 0
                chops = zip(ends, self.chops[y].items(), strict=False)
                for end, (x, strip) in chops:
                    if strip is None or x > x2 or end <= x1:
                        continue
                    start = _whole_cell(strip, max(x1 - x, 0), -1)
                    stop = _whole_cell(strip, min(end, x2) - x, +1)
                    if stop <= start:
                        continue
                    column = x + start
                    if row == y and 0 <= row_end < width:
                        append(f"\x1b[{column + 1}G")
                    else:
                        append(f"\x1b[{y + 1};{column + 1}H")
                    row, row_end = y, x + stop
                    pos = 0
                    for text, style, control in strip:
                        if control:
                            append(text)
                            continue
                        size = len(text) if text.isascii() else cell_len(text)
                        seg_end = pos + size
                        if seg_end <= start:
                            pos = seg_end
                            continue
                        if pos >= stop:
                            break
                        if pos < start or seg_end > stop:
                            text = _cut(text, start - pos, min(stop, seg_end) - pos)
                        pos = seg_end
                        if not text:
                            continue
                        if style is None:
                            new = _NO_STYLE
                        else:
                            known = sgr_of.get(style)
                            if known is None:
                                known = sgr_of[style] = _sgr_state(style, color_system)
                            new = known
                            if style._link:
                                # Links as Rich writes them: from and back to no style.
                                if state != _NO_STYLE:
                                    append("\x1b[0m")
                                    state = _NO_STYLE
                                if new != _NO_STYLE:
                                    text = f"{_transition(_NO_STYLE, new)}{text}\x1b[0m"
                                append(f"\x1b]8;id={style._link_id};{style._link}\x1b\\")
                                append(f"{text}\x1b]8;;\x1b\\")
                                continue
                        if new != state:
                            append(_transition(state, new))
                            state = new
                        append(text)
            if state != _NO_STYLE:
                append("\x1b[0m")
            return "".join(out)


#: A terminal style as SGR parts: (attribute bits as Rich numbers them, foreground
#: codes, background codes); "" is the terminal's default colour.
_Sgr = tuple[int, str, str]
_NO_STYLE: _Sgr = (0, "", "")
#: Rich's attribute bits, in order: the code that sets each and the one that clears
#: it (some clear two: 22 bold and dim, 24 both underlines, 25 both blinks, 54 frame
#: and encircle).
_SET = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "21", "51", "52", "53")
_CLEAR = ("22", "22", "23", "24", "25", "25", "27", "28", "29", "24", "54", "54", "55")
_CACHES: dict[Any, dict[Style, _Sgr]] = {}


def _sgr_cache(color_system: ColorSystem) -> dict[Style, _Sgr]:
    cache = _CACHES.get(color_system)
    if cache is None or len(cache) > 4096:
        cache = _CACHES[color_system] = {}
    return cache


def _sgr_state(style: Style, color_system: ColorSystem) -> _Sgr:
    color, bgcolor = style._color, style._bgcolor
    fg = ";".join(color.downgrade(color_system).get_ansi_codes()) if color else ""
    bg = ";".join(bgcolor.downgrade(color_system).get_ansi_codes(False)) if bgcolor else ""
    return (style._attributes & style._set_attributes, fg, bg)


def _codes(bits: int) -> list[str]:
    return [_SET[i] for i in range(bits.bit_length()) if bits >> i & 1]


@functools.lru_cache(maxsize=1024)
def _transition(old: _Sgr, new: _Sgr) -> str:
    """The shortest SGR sequence that takes the terminal from style ``old`` to ``new``."""
    bits, fg, bg = new
    whole = _codes(bits) + [c for c in (fg, bg) if c]
    if new == _NO_STYLE:
        return "\x1b[0m"
    if old == _NO_STYLE:
        return f"\x1b[{';'.join(whole)}m"
    reset = f"\x1b[0;{';'.join(whole)}m"
    old_bits, old_fg, old_bg = old
    cleared = old_bits & ~bits
    parts: list[str] = []
    lost = 0  # attributes switched off by a shared clearing code, still wanted
    for i in range(cleared.bit_length()):
        if cleared >> i & 1 and _CLEAR[i] not in parts:
            parts.append(_CLEAR[i])
            lost |= sum(1 << j for j, c in enumerate(_CLEAR) if c == _CLEAR[i])
    parts += _codes((bits & ~old_bits) | (bits & lost))
    if fg != old_fg:
        parts.append(fg or "39")
    if bg != old_bg:
        parts.append(bg or "49")
    diff = f"\x1b[{';'.join(parts)}m"
    return diff if len(diff) <= len(reset) else reset


def _cut(text: str, start: int, stop: int) -> str:
    """Cells ``[start, stop)`` of one segment's text (the ends fall between cells)."""
    if text.isascii():
        return text[max(start, 0) : stop]
    segment = Segment(text)
    if start > 0:
        segment = segment.split_cells(start)[1]
        stop -= start
    return segment.split_cells(stop)[0].text


def _whole_cell(strip: Strip, at: int, step: int) -> int:
    """``at``, moved by ``step`` if it falls inside a double-width character."""
    if at <= 0 or at >= strip.cell_length:
        return at
    pos = 0
    for text, _style, _control in strip:
        width = len(text) if text.isascii() else cell_len(text)
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


#: (ANSIToTruecolor filter, background) -> style -> whether the filter leaves it as
#: it is (a colour of the theme: every style of flashtop's lines, on most terminals).
_KEPT: dict[tuple[object, object], dict[Style, bool]] = {}


def _filtered(strip: Strip, line_filter: LineFilter, background: Color) -> Strip:
    """``strip.apply_filter(line_filter, background)``, but ``strip`` itself when the
    filter is Textual's ``ANSIToTruecolor`` and changes none of its styles (it copies
    every segment of every new line otherwise: a poll's changed lines, each poll)."""
    if type(line_filter) is not ANSIToTruecolor:
        return strip.apply_filter(line_filter, background)
    kept = _KEPT.get((line_filter, background))
    if kept is None:
        if len(_KEPT) > 16:
            _KEPT.clear()
        kept = _KEPT[line_filter, background] = {}
    for _text, style, _control in strip:
        if style is None:
            continue
        same = kept.get(style)
        if same is None:
            if len(kept) > 1024:
                kept.clear()
            changed = line_filter.truecolor_style(style, background.rich_color)
            same = kept[style] = changed == style
        if not same:
            return strip.apply_filter(line_filter, background)
    return strip


def render_plain_lines(widget: Widget, crop: Region) -> list[Strip] | None:
    """``Widget.render_lines(crop)`` for a widget whose styles add nothing around or
    over its content lines: what ``StylesCache.render_widget`` makes of them, without
    its general case; None when not enabled or the widget's styles need that case
    (render the stock way).

    Textual's own line cache is kept and used as ``StylesCache.render`` does (a line is
    rendered again only when dirty or not yet rendered; a ``refresh()`` clears it), and
    its line filters are applied as it applies them. What ``StylesCache.render_line``
    does for such a widget is to extend or cut each content line to the widget's
    width in the background's style and copy it into a new strip: here the line is
    kept as it is when it has the width already.
    """
    if not compat_enabled() or widget.BLANK:
        return None
    styles = widget.styles
    if (
        widget._border_title is not None
        or widget._border_subtitle is not None
        or styles.padding != _NO_SPACING
        or any(edge for edge, _color in styles.border)
        or any(edge for edge, _color in styles.outline)
        or styles.has_rule("hatch")
        or styles.tint.a
        or styles.text_opacity != 1.0
        or widget.opacity != 1.0
    ):
        return None
    size = widget.region.size
    if widget.content_region.size != size:
        return None
    if widget.auto_links and widget.hover_style._link_id:
        return None  # links to restyle under the mouse: the stock way
    cache = widget._styles_cache
    width, height = size
    if width != cache._width:
        cache.clear()
        cache._width = width
    base_background, background = widget.background_colors
    inner = cache.get_inner_outer(base_background, background)[0].rich_style
    filters = widget.get_line_filters()
    lines, dirty = cache._cache, cache._dirty_lines
    render_line = widget.render_line
    strips: list[Strip] = []
    for y in crop.line_range:
        strip = None if y in dirty else lines.get(y)
        if strip is None:
            if y < height:
                strip = render_line(y).adjust_cell_length(width, inner)
            else:
                strip = Strip.blank(width, inner)
            lines[y] = strip
        for line_filter in filters:
            strip = _filtered(strip, line_filter, background)
        strips.append(strip)
    dirty.difference_update(crop.line_range)
    if crop.column_span != (0, width):
        x1, x2 = crop.column_span
        strips = [strip.crop(x1, x2) for strip in strips]
    return strips


def write_to_terminal(app: App[Any], text: str) -> bool:
    """Write escape sequences straight to the app's terminal (a desktop notification's
    OSC 777 / OSC 9), as Textual's own ``copy_to_clipboard`` does for OSC 52; False
    when there is no terminal (headless tests)."""
    driver = getattr(app, "_driver", None)
    if driver is None:
        return False
    driver.write(text)
    return True
