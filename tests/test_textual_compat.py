"""The private-Textual overrides are fenced to the Textual versions they were checked with.

``tui/widgets/_textual_compat.py`` holds every use of private Textual API. These tests
fail loudly when Textual moves past the checked range, prove that an unchecked version
gets the stock behaviour, and that the app still works that way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from textual.screen import Screen
from ui_helpers import running

from tui.widgets import _textual_compat as compat

#: The real (cached) decision, even while a test has monkeypatched it away.
_ENABLED = compat.compat_enabled


@pytest.fixture(autouse=True)
def _fresh_decision() -> Iterator[None]:
    """compat_enabled() decides once per process: forget that around each test."""
    _ENABLED.cache_clear()
    yield
    _ENABLED.cache_clear()


def test_installed_textual_is_within_the_checked_range() -> None:
    version = compat.textual_version()
    low, high = compat.CHECKED_TEXTUAL
    shown = ".".join(map(str, version)) if version else "unknown"
    assert compat.version_checked(version), (
        f"Textual {shown} is outside CHECKED_TEXTUAL [{low}, {high}) in "
        "tui/widgets/_textual_compat.py. Re-check CroppingCompositor / CroppedChopsUpdate "
        "against textual/_compositor.py (Compositor.render_partial_update, "
        "ChopsUpdate.render_segments) and ScrollbarSkipMixin against "
        "ScrollView._size_updated, then widen the range deliberately. Until then the "
        "stock compositor is used and partial repaints are not cropped."
    )
    assert compat.compat_enabled(), "checked version, but the private imports failed"


def test_an_unchecked_version_disables_compat_and_keeps_the_stock_compositor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    high = compat.CHECKED_TEXTUAL[1]
    monkeypatch.setattr(compat, "textual_version", lambda: high)
    assert not compat.compat_enabled()
    screen: Screen[None] = Screen()
    stock = screen._compositor
    assert not compat.install_cropping_compositor(screen)
    assert screen._compositor is stock
    assert not isinstance(screen._compositor, compat.CroppingCompositor)

    # Unknown and older versions are unchecked too; a checked one installs it.
    for version in (None, (8, 1, 9)):
        _ENABLED.cache_clear()
        monkeypatch.setattr(compat, "textual_version", lambda v=version: v)
        assert not compat.compat_enabled()
    _ENABLED.cache_clear()
    monkeypatch.setattr(compat, "textual_version", lambda: compat.CHECKED_TEXTUAL[0])
    assert compat.install_cropping_compositor(screen)
    assert isinstance(screen._compositor, compat.CroppingCompositor)


async def test_the_app_shows_rows_with_compat_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "compat_enabled", lambda: False)
    async with running(size=(100, 12)) as h:  # fewer lines than rows: it must scroll
        assert h.pilot is not None
        table = h.app.overview.table
        assert len(table.order) >= 12
        assert table.get_row_at(0), "the first row renders"
        assert table._sized is None, "the scrollbar skip stayed off: stock _size_updated"
        assert table.show_vertical_scrollbar, "the stock _size_updated sized the scrollbar"
        await h.pilot.press("end")
        await h.pilot.pause()
        assert table.cursor_row == len(table.order) - 1
        assert table.scroll_offset.y == table.max_scroll_y > 0, "scrolled to the last row"


async def test_the_overview_keeps_the_stock_compositor_with_compat_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compat, "compat_enabled", lambda: False)
    async with running() as h:
        assert h.app.overview.table.order
        assert not isinstance(h.app.overview._compositor, compat.CroppingCompositor)


def test_input_wait_is_long_when_idle_and_ends_when_a_lone_escape_is_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual import constants
    from textual._xterm_parser import XTermParser
    from textual.events import Key

    parser = XTermParser()
    assert compat.input_wait(parser) == compat.IDLE_INPUT_WAIT, "idle: sleep long"
    assert compat.IDLE_INPUT_WAIT <= 5.0, "a finite safety net, a few seconds at most"
    assert not list(parser.feed("\x1b")), "a lone ESC waits to see if a sequence follows"
    wait = compat.input_wait(parser)
    assert 0.0 < wait <= constants.ESCAPE_DELAY, f"woke {wait:.3f} s after a half-read ESC"
    time.sleep(constants.ESCAPE_DELAY + 0.01)
    assert compat.input_wait(parser) == 0.0, "an overdue escape: look at once"
    keys = [m.key for m in parser.tick() if isinstance(m, Key)]
    assert keys == ["escape"]
    assert compat.input_wait(parser) == compat.IDLE_INPUT_WAIT, "nothing half-read any more"
    assert [m.key for m in parser.feed("a") if isinstance(m, Key)] == ["a"]
    assert compat.input_wait(parser) == compat.IDLE_INPUT_WAIT, "a whole key leaves nothing due"
    list(parser.feed("\x1b"))
    monkeypatch.setattr(compat, "compat_enabled", lambda: False)
    assert compat.input_wait(parser) == compat.STOCK_INPUT_WAIT == 0.1, "compat off, half-read"
    time.sleep(constants.ESCAPE_DELAY + 0.01)
    list(parser.tick())
    assert compat.input_wait(parser) == compat.STOCK_INPUT_WAIT, "compat off, idle: Textual's"


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_compositor_keeps_the_same_pieces_without_rendering_hidden_widgets(
    monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    """CroppingCompositor._render_chops leaves out widgets none of whose pieces would
    be painted; what it keeps is what Textual's own keeps, for any lines asked."""
    from textual._compositor import Compositor
    from textual.geometry import Region

    from tui.widgets.stats_table import _cells

    def cells(chops: object) -> list[dict[int, object]]:
        return [
            {x: None if strip is None else _cells(strip) for x, strip in line.items()}
            for line in chops  # type: ignore[attr-defined]
        ]

    width, height = size
    async with running(size=size) as h:
        assert h.pilot is not None
        h.app.notify("a toast over the table", timeout=30)  # a layer in front
        await h.pilot.pause()
        screen = h.app.overview
        comp = screen._compositor
        assert isinstance(comp, compat.CroppingCompositor)
        everything = Region(0, 0, width, height)

        def table_lines(y: int) -> bool:
            return 3 <= y < height - 3

        asked = {
            "all lines": lambda y: True,
            "the status bar": lambda y: y < 2,
            "table lines": table_lines,
            "every third line": lambda y: y % 3 == 0,
            "the last line": lambda y: y == height - 1,
        }
        for name, wanted in asked.items():
            stock = Compositor._render_chops(comp, everything, wanted)
            ours = comp._render_chops(everything, wanted)
            assert cells(ours) == cells(stock), name

        rendered: list[str] = []
        render_lines = type(screen).render_lines

        def spy(self: object, crop: Region) -> object:
            rendered.append(type(self).__name__)
            return render_lines(self, crop)  # type: ignore[arg-type]

        monkeypatch.setattr(type(screen), "render_lines", spy)
        comp._render_chops(everything, table_lines)
        assert rendered == [], "the screen behind the table was rendered"
        Compositor._render_chops(comp, everything, table_lines)
        assert rendered == [type(screen).__name__], "stock renders it (the spy works)"


@pytest.mark.parametrize("size", [(120, 14), (80, 12)])  # fewer lines than rows: a scrollbar
async def test_a_partial_update_keeps_the_pieces_it_paints_and_renders_no_more(
    monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    """With the spans a partial update paints known, every piece that overlaps one
    starts with what Textual's own ``_render_chops`` keeps there, and a widget with no
    such piece unclaimed (the table's scrollbar, for a change left of it) is not
    rendered."""
    from textual._compositor import Compositor
    from textual.geometry import Region
    from textual.scrollbar import ScrollBar

    from tui.widgets.stats_table import _cells

    width, height = size
    async with running(size=size) as h:
        assert h.pilot is not None
        h.app.notify("a toast over the table", timeout=30)  # a layer in front
        await h.pilot.pause()
        comp = h.app.overview._compositor
        assert isinstance(comp, compat.CroppingCompositor)
        assert h.app.overview.table.scrollbar_size_vertical == 1
        everything = Region(0, 0, width, height)
        rendered: list[str] = []
        render_lines = ScrollBar.render_lines

        def spy(self: ScrollBar, crop: Region) -> object:
            rendered.append(type(self).__name__)
            return render_lines(self, crop)

        monkeypatch.setattr(ScrollBar, "render_lines", spy)
        table = range(3, height - 2)
        cases = {
            "left of the scrollbar": {y: [(0, 10), (30, width - 1)] for y in table},
            "up to the last column": {y: [(width - 5, width)] for y in table},
            "every line, in parts": {y: [(y % 7, y % 7 + 3), (50, 60)] for y in range(height)},
        }
        for name, line_spans in cases.items():
            stock = Compositor._render_chops(comp, everything, line_spans.__contains__)
            rendered.clear()
            ours = comp.render_chops_painting(everything, line_spans)
            for y, spans in line_spans.items():
                ends = comp.cuts[y][1:]
                for end, (x, piece) in zip(ends, ours[y].items(), strict=True):
                    if any(x1 < end and x < x2 for x1, x2 in spans):
                        assert piece is not None, (name, y, x)
                        # (A line's first piece may be the whole line: only the piece's
                        # own cells are written.)
                        assert _cells(piece)[: end - x] == _cells(stock[y][x]), (name, y, x)
            reaches = name == "up to the last column"
            assert bool(rendered) is reaches, name
            # What the terminal is sent is what Textual's own pieces give.
            spans = [(y, x1, x2) for y, line in sorted(line_spans.items()) for x1, x2 in line]
            ends = [cut_set[1:] for cut_set in comp.cuts]
            console = h.app.console
            sent = compat.CroppedChopsUpdate(ours, spans, ends).render_segments(console)
            want = compat.CroppedChopsUpdate(stock, spans, ends).render_segments(console)
            assert sent == want, name


@pytest.mark.parametrize("enabled", [True, False])
async def test_a_poll_is_painted_without_waiting_for_the_update_timer(
    monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    """A poll's changes are painted from the screen's idle handler, in the wake-up that
    brought them: Textual's update timer (a wake-up of its own a frame later) is not
    started for them. A key press still goes through the timer; with compat off,
    everything does."""
    from ui_helpers import advance

    if not enabled:
        monkeypatch.setattr(compat, "compat_enabled", lambda: False)
    async with running() as h:
        assert h.pilot is not None
        screen = h.app.overview
        await advance(h, 5)
        await h.pilot.pause()
        timer = screen._update_timer
        events: list[str] = []
        resume, refresh = timer.resume, screen._compositor_refresh

        def resumed() -> None:
            events.append("timer")
            resume()

        def painted() -> None:
            events.append("paint")
            refresh()

        monkeypatch.setattr(timer, "resume", resumed)
        monkeypatch.setattr(screen, "_compositor_refresh", painted)
        for _ in range(3):
            await advance(h, 5)  # the demo's traffic moves: rows change
            await h.pilot.pause()
        assert "paint" in events
        assert ("timer" not in events) is enabled, events
        events.clear()
        await h.pilot.press("down")
        await h.pilot.pause()
        assert events[:1] == ["timer"], "a key's repaint is left to Textual's timer"


async def test_a_widget_partly_covered_in_front_is_still_rendered() -> None:
    """A piece of a widget behind that nothing covers is kept, even when the widget in
    front covers its first piece (a layer over the left of a line)."""
    from textual.app import App, ComposeResult
    from textual.geometry import Region
    from textual.widgets import Static

    from tui.widgets.stats_table import _cells

    class Layered(App[None]):
        CSS = """
        Screen { layers: below above; }
        #back { layer: below; width: 40; height: 3; background: red; }
        #front { layer: above; width: 10; height: 2; background: blue; }
        """

        def compose(self) -> ComposeResult:
            yield Static("b" * 40 + "\n" + "b" * 40, id="back")
            yield Static("front", id="front")

        def on_mount(self) -> None:
            assert compat.install_cropping_compositor(self.screen)
            self.screen.refresh(layout=True)

    from textual._compositor import Compositor

    app = Layered()
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()
        comp = app.screen._compositor
        assert isinstance(comp, compat.CroppingCompositor)
        everything = Region(0, 0, 60, 5)
        for wanted in (lambda y: y == 0, lambda y: True):
            stock = Compositor._render_chops(comp, everything, wanted)
            ours = comp._render_chops(everything, wanted)
            assert [{x: s and _cells(s) for x, s in line.items()} for line in ours] == [
                {x: s and _cells(s) for x, s in line.items()} for line in stock
            ]
            assert any("b" in ch for ch, _ in _cells(ours[0][10])), "the back's piece is kept"
        # A partial update over both: the back's second piece is cut out, not its line
        # written from the start.
        spans = [(0, 0, 40), (1, 5, 30)]
        line_spans = {0: [(0, 40)], 1: [(5, 30)]}
        stock = Compositor._render_chops(comp, everything, line_spans.__contains__)
        ours = comp.render_chops_painting(everything, line_spans)
        ends = [cut_set[1:] for cut_set in comp.cuts]
        sent = compat.CroppedChopsUpdate(ours, spans, ends).render_segments(app.console)
        want = compat.CroppedChopsUpdate(stock, spans, ends).render_segments(app.console)
        assert sent == want
        assert "front" in sent and "b" * 30 in sent


def test_the_truecolor_filter_is_skipped_only_for_lines_it_would_not_change() -> None:
    """A line whose colours are all truecolor (the theme's) is its own filtered line,
    not a copy; a line with a terminal colour or dim text is filtered as Textual does."""
    from rich.segment import Segment
    from rich.style import Style
    from textual._ansi_theme import DEFAULT_TERMINAL_THEME
    from textual.color import Color
    from textual.filter import ANSIToTruecolor
    from textual.strip import Strip

    line_filter = ANSIToTruecolor(DEFAULT_TERMINAL_THEME)
    background = Color(16, 16, 16)
    themed = Strip([Segment("ab", Style.parse("#e0e0e0 on #202020")), Segment("c", None)])
    assert compat._filtered(themed, line_filter, background) is themed
    for odd in (Style.parse("red on #202020"), Style.parse("dim #ffffff")):
        line = Strip([Segment("ab", Style.parse("bold #e0e0e0")), Segment("c", odd)])
        got = compat._filtered(line, line_filter, background)
        assert got is not line
        assert list(got) == list(line.apply_filter(line_filter, background))
