"""A LineStatic repaints only the runs of cells that changed (status bar, totals)."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console
from rich.style import Style
from rich.text import Span, Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import Static

from tui.widgets.line_static import LineStatic, plain_line_strip
from tui.widgets.stats_table import _cells


class Two(App[None]):
    def compose(self) -> ComposeResult:
        yield LineStatic(Text("first line\nsecond 12:00:01 line"), id="w")


def screen_text(app: App[Any], y: int, width: int = 30) -> str:
    strip = app.screen.get_widget_at(0, y)[0].render_line(y)  # type: ignore[attr-defined]
    return "".join(seg.text for seg in strip)[:width].rstrip()


async def test_an_update_repaints_only_the_changed_cells_and_shows_them() -> None:
    app = Two()
    async with app.run_test(size=(40, 4)) as pilot:
        w = app.query_one(LineStatic)
        w.update(Text("first line\nsecond 12:00:01 line"), layout=False)
        await pilot.pause()
        asked: list[tuple[Region, ...]] = []
        refresh = w.refresh

        def spy(*regions: Region, **options: Any) -> Any:
            if not w._hold:  # what reaches Textual (not Static.update's own call)
                asked.append(regions)
            return refresh(*regions, **options)

        w.refresh = spy  # type: ignore[method-assign]
        w.update(Text("first line\nsecond 12:00:02 line"), layout=False)
        assert asked == [(Region(14, 1, 1, 1),)]  # one cell of the second line
        await pilot.pause()
        assert str(w.content) == "first line\nsecond 12:00:02 line"
        # Textual's visual of the new text (made only when asked: text selection).
        assert str(w.visual) == "first line\nsecond 12:00:02 line"
        assert screen_text(app, 1) == "second 12:00:02 line"
        assert screen_text(app, 0) == "first line"
        asked.clear()
        w.update(Text("first line\nsecond 12:00:02 line"), layout=False)
        assert asked == []  # nothing changed: nothing to repaint
        w.update(Text("one line only"), layout=False)  # another shape: all of it
        await pilot.pause()
        assert screen_text(app, 0) == "one line only"


class Styled(App[None]):
    """The status bar's look: a background, a colour by state class, cut lines."""

    CSS = """
    Static {
        height: 2;
        background: $panel;
        color: $foreground;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        &.-stale { color: $warning; }
    }
    """

    def compose(self) -> ComposeResult:
        yield LineStatic(id="mine")
        yield Static(id="stock")


def status_text(stamp: str, width: int = 0) -> Text:
    first = Text()
    first.append(" flashtop ", style="bold reverse")
    first.append(" default ", style="bold")
    first.append("http://127.0.0.1:8080  every 2 s" + " tail" * width)
    second = Text()
    second.append(" ● live", style="bold")
    second.append(f"  updated {stamp}  100 configs  漢字")
    text = Text("\n").join([first, second])
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def totals_text() -> Text:
    text = Text()
    text.append(" TOTAL ", style="bold reverse")
    text.append(" 100 shown ")
    text.append(" tok/min ", style=Style.parse("#808080"))
    text.append("612k", style="bold")
    text.append(" in ", style="")  # a span of no style: one run with its neighbours
    text.append("1.4G", style="bold")
    text.append("+", style="bold")  # two spans of one style: one segment
    return text


@pytest.mark.parametrize(
    "line",
    [
        *status_text("12:00:01").split("\n"),
        totals_text(),
        Text("no spans at all"),
        Text("wide 漢字 and ● marks", spans=[Span(5, 7, "bold")]),
    ],
    ids=["status 1", "status 2", "totals", "plain", "wide"],
)
def test_a_plain_line_is_the_strip_rich_and_textual_would_make(line: Text) -> None:
    """Built directly, a line's strip is Rich's rendering in the widget's style,
    simplified, with Textual's selection offsets: segment for segment, meta included."""
    console = Console(color_system="truecolor", width=200)
    base = Style.parse("#e0e0e0 on #202020")
    for y in (0, 1):
        want = Strip(line.render(console)).apply_style(base).simplify().apply_offsets(0, y)
        got = plain_line_strip(console, line, base, y)
        assert got is not None
        assert list(got) == list(want)
        assert [s.style.meta if s.style else None for s in got] == [
            s.style.meta if s.style else None for s in want
        ]
        assert got.cell_length == want.cell_length


def test_a_line_not_plain_is_left_to_rich() -> None:
    console = Console(color_system="truecolor")
    base = Style.parse("white")
    assert plain_line_strip(console, Text("a\tb"), base, 0) is None  # a control character
    assert plain_line_strip(console, Text("styled", style="bold"), base, 0) is None
    assert plain_line_strip(console, Text(""), base, 0) is None  # Rich makes one empty segment
    overlapping = Text("overlap", spans=[Span(0, 4, "bold"), Span(2, 6, "italic")])
    assert plain_line_strip(console, overlapping, base, 0) is None


def cells(strip: Strip) -> list[tuple[str, Style | None]]:
    """(character, style) per cell, without Textual's selection offsets."""
    return [(ch, s.clear_meta_and_links() if s else s) for ch, s in _cells(strip)]


async def test_its_lines_are_the_cells_textual_would_paint_in_every_state() -> None:
    """Rendered by Rich, not Textual's content pipeline: the same cells, the
    widget's colours (a class changing them included) and an ellipsis when cut."""
    app = Styled()
    async with app.run_test(size=(60, 4)) as pilot:
        mine, stock = app.query_one("#mine", LineStatic), app.query_one("#stock", Static)
        mine.update(status_text("12:00:00"), layout=False)
        await pilot.pause()
        for stale in (False, True, False):
            for stamp, tail in (("12:00:01", 0), ("12:00:02", 12)):
                mine.set_class(stale, "-stale")
                stock.set_class(stale, "-stale")
                mine.update(status_text(stamp, tail), layout=False)
                stock.update(status_text(stamp, tail))
                await pilot.pause()
                assert mine._strips is not None  # drawn by the fast path
                for y in (0, 1):
                    want = cells(stock.render_line(y))
                    assert cells(mine.render_line(y)) == want, (stale, stamp, tail, y)
                assert painted(mine) == painted(stock)
        # A change of colours alone (no new text) is painted too.
        mine.set_class(True, "-stale")
        stock.set_class(True, "-stale")
        await pilot.pause()
        assert painted(mine) == painted(stock)
        mine.update(status_text("12:00:03"), layout=False)
        stock.update(status_text("12:00:03"))
        await pilot.pause()
        assert mine._strips is not None
        assert painted(mine) == painted(stock)


def painted(widget: Static) -> list[list[tuple[str, Style | None]]]:
    """The widget's lines as the compositor takes them (padded to its width)."""
    return [cells(strip) for strip in widget.render_lines(Region(0, 0, *widget.size))]


class Wrapping(App[None]):
    CSS = "Static { height: 2; background: $panel; }"

    def compose(self) -> ComposeResult:
        yield LineStatic(id="mine")
        yield Static(id="stock")


async def test_a_line_that_would_wrap_is_left_to_textual() -> None:
    app = Wrapping()
    async with app.run_test(size=(30, 4)) as pilot:
        mine, stock = app.query_one("#mine", LineStatic), app.query_one("#stock", Static)
        mine.update(Text("short"), layout=False)
        await pilot.pause()
        assert mine._strips is not None
        long = Text("a line of words much longer than thirty cells")
        mine.update(long, layout=False)
        stock.update(long)
        await pilot.pause()
        assert mine._strips is None
        assert painted(mine) == painted(stock)
        assert "".join(ch for ch, _ in painted(mine)[1]).strip() == "than thirty cells"
