"""A LineStatic repaints only the runs of cells that changed (status bar, totals)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region

from tui.widgets.line_static import LineStatic


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
        assert screen_text(app, 1) == "second 12:00:02 line"
        assert screen_text(app, 0) == "first line"
        asked.clear()
        w.update(Text("first line\nsecond 12:00:02 line"), layout=False)
        assert asked == []  # nothing changed: nothing to repaint
        w.update(Text("one line only"), layout=False)  # another shape: all of it
        await pilot.pause()
        assert screen_text(app, 0) == "one line only"
