"""Functional guards for the overview's performance work (issue 8); no timing asserts.

The table is a virtual list: it builds only the visible rows and asks Textual to
repaint only the runs of cells that changed. These tests pin what that buys,
in counts rather than milliseconds: 10,000 configurations keep the cursor and the
sort across polls, a poll that changes nothing visible repaints nothing, and a
poll repaints at most the visible lines (never the scrollbars).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from ui_helpers import FakeClock, Harness, advance, poll, wait_for

from tui.app import FlashtopApp
from tui.demo_server import DemoServer
from tui.monitor import POLL_PART
from tui.settings import Settings
from tui.tokens import AuthSession, TokenSet
from tui.view import COUNTER_COLUMNS, EVENT_COLUMNS
from tui.widgets.stats_table import StatsTable, _cells, changed_spans

BIG = 10_000


@asynccontextmanager
async def big_app(
    n: int, changing: int, size: tuple[int, int] = (120, 40)
) -> AsyncIterator[Harness]:
    """The app against a demo server with ``n`` configurations, ``changing`` of them
    with traffic; both on one fake clock, so data moves only when a test says so."""
    clock = FakeClock()
    server = DemoServer(clock=clock, n_configs=n, changing=changing).start()
    access, refresh = server.issue_tokens()
    session = AuthSession(
        TokenSet(access, refresh, obtained_at=clock.now), source="test", clock=clock
    )
    settings = Settings(profile="test", base_url=server.base_url, interval=3600.0)
    app = FlashtopApp(settings, session, clock=clock, mark_changes=False)
    app.monitor.poller.min_gap = 0.0  # polls on demand (see ui_helpers)
    h = Harness(app=app, server=server, clock=clock)
    try:
        async with app.run_test(size=size) as pilot:
            h.pilot = pilot
            await wait_for(
                pilot,
                lambda: len(app.overview.table.order) == n and bool(app.monitor.names),
                timeout=60,
                message=f"{n} rows with names",
            )
            yield h
    finally:
        server.stop()


def visible_rows(table: StatsTable) -> int:
    return table.size.height - 1  # the first line is the header


def count_refreshes(*widgets: Widget) -> list[int]:
    """Count the calls to ``refresh`` of ``widgets`` from now on (any region, or all)."""
    counter = [0]
    for widget in widgets:
        original = widget.refresh

        def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            counter[0] += 1
            return _original(*args, **kwargs)

        widget.refresh = counted  # type: ignore[method-assign]
    return counter


def count_scrollbar_refreshes(table: StatsTable) -> list[int]:
    return count_refreshes(table.vertical_scrollbar, table.horizontal_scrollbar)


async def test_10000_rows_keep_cursor_and_sort_across_polls() -> None:
    async with big_app(BIG, changing=BIG // 10) as h:
        assert h.pilot is not None
        screen, table = h.app.overview, h.app.overview.table
        while screen.sort_key != "calls":
            screen.action_sort_next()
        assert screen.sort_desc
        await advance(h, 2)
        # A row far down whose configuration has traffic: its place moves with the poll.
        active = {ident for ident, cols in screen.marks.items() if cols} or set(table.order)
        target = next(i for i in table.order[100:] if i in active)
        table.select_id(target)
        await h.pilot.press("down", "up")
        assert table.current_id() == target
        for _ in range(3):
            await advance(h, 2)
            calls = COUNTER_COLUMNS["calls"]
            by_id = {s.ai_llm_id: s for s in screen.page.stats} if screen.page else {}
            shown = [by_id[i].values[calls] for i in table.order]
            known = [v for v in shown if v is not None]
            assert known == sorted(known, reverse=True), "still sorted by calls, descending"
            assert len(table.order) == BIG
            assert screen.sort_key == "calls" and screen.sort_desc
            assert table.current_id() == target, "the cursor follows its configuration"
            assert table.cursor_row == table.order.index(target)


async def test_a_poll_that_changes_nothing_repaints_nothing_at_10000() -> None:
    async with big_app(BIG, changing=BIG // 10) as h:
        table = h.app.overview.table
        await poll(h)  # settle: focus and layout after the first rows arrived
        bars = count_scrollbar_refreshes(table)
        repaints = count_refreshes(table)
        lines, regions = table.line_refreshes, table.region_refreshes
        await poll(h)  # same fake time: the server answers exactly what it answered before
        await poll(h)
        assert h.app.monitor.poller.status.polls >= 3
        assert (table.line_refreshes, table.region_refreshes) == (lines, regions)
        assert repaints[0] == 0, "no refresh of the table at all"
        assert bars[0] == 0


async def test_idle_configurations_repaint_nothing_as_time_passes() -> None:
    async with big_app(100, changing=0) as h:
        table = h.app.overview.table
        # Until twelve intervals are held, each poll adds a point to every sparkline.
        for _ in range(14):
            await advance(h, 2)
        bars = count_scrollbar_refreshes(table)
        repaints = count_refreshes(table)
        lines = table.line_refreshes
        for _ in range(3):
            await advance(h, 2)
        assert table.line_refreshes == lines
        assert repaints[0] == 0
        assert bars[0] == 0


async def test_refreshes_per_poll_are_bounded_by_the_visible_rows() -> None:
    async with big_app(BIG, changing=BIG // 10) as h:
        table = h.app.overview.table
        height = visible_rows(table)
        assert height > 0
        await advance(h, 2)  # settle: focus and layout after the first rows arrived
        bars = count_scrollbar_refreshes(table)
        repaints = count_refreshes(table)
        for _ in range(3):
            lines, regions = table.line_refreshes, table.region_refreshes
            before = repaints[0]
            await advance(h, 2)
            assert 0 < table.line_refreshes - lines <= height
            # One refresh call for the poll's changed lines (with their runs), none for
            # the whole table.
            assert repaints[0] - before == 1
            # Runs of changed cells: at most about one per column of a refreshed line.
            changed_lines = table.line_refreshes - lines
            assert table.region_refreshes - regions <= changed_lines * len(table.columns_shown)
        assert bars[0] == 0, "a poll does not repaint the scrollbars"


async def test_a_poll_repaints_nothing_under_the_scrollbar() -> None:
    """The table's lines are as wide as the widget, the scrollbar's column included: a
    change there is not seen, and a region reaching it had the compositor render the
    whole scrollbar again (on every poll that changed a line to its end)."""
    async with big_app(100, changing=30) as h:
        table = h.app.overview.table
        await advance(h, 2)  # settle: focus and layout after the first rows arrived
        assert table.scrollbar_size_vertical == 1
        seen = table.size.width - table.scrollbar_size_vertical
        asked: list[Region] = []
        original = table.refresh

        def spy(*regions: Region, **kwargs: Any) -> Any:
            asked.extend(regions)
            return original(*regions, **kwargs)

        table.refresh = spy  # type: ignore[method-assign]
        scrollbar = table.vertical_scrollbar
        rendered = [0]
        render_lines = scrollbar.render_lines

        def counted(crop: Region) -> Any:
            rendered[0] += 1
            return render_lines(crop)

        scrollbar.render_lines = counted  # type: ignore[method-assign]
        for _ in range(3):
            await advance(h, 2)
            await h.pilot.press("down")  # the cursor's line changes across its width
            await h.pilot.pause()
        assert asked, "the polls changed lines"
        assert max(r.right for r in asked) == seen, "changes up to the last seen column"
        assert rendered[0] == 0, "no poll or cursor move renders the scrollbar"


async def test_a_poll_of_10000_is_recorded_in_parts_with_the_event_loop_running_between() -> None:
    """A key pressed during a big poll does not wait for all of it: the poll is
    recorded in parts, and other tasks (key handling, frames) run between them."""
    async with big_app(BIG, changing=BIG // 10) as h:
        app = h.app
        turns = [0]

        async def other_work() -> None:
            while True:
                turns[0] += 1
                await asyncio.sleep(0)

        seen: list[int] = []
        record = app.monitor.history.record

        def counted(*args: Any, **kwargs: Any) -> Any:
            seen.append(turns[0])
            return record(*args, **kwargs)

        app.monitor.history.record = counted  # type: ignore[method-assign]
        held = {ident: len(s) for ident, s in app.monitor.history.series.items()}
        task = asyncio.create_task(other_work())
        try:
            await advance(h, 2)
        finally:
            task.cancel()
        assert len(seen) == BIG // POLL_PART
        assert all(b > a for a, b in itertools.pairwise(seen)), "other tasks ran between parts"
        # Recorded in parts, the poll is still whole: every configuration has its sample.
        assert len(held) == BIG
        assert all(len(app.monitor.history.series[i]) == n + 1 for i, n in held.items())


def strip(*parts: tuple[str, str]) -> Strip:
    return Strip([Segment(text, Style.parse(style) if style else None) for text, style in parts])


def test_changed_spans_cover_exactly_the_cells_that_differ() -> None:
    same = strip(("abc ", ""), ("12", "bold"))
    assert changed_spans(same, strip(("abc ", ""), ("12", "bold"))) == []
    assert changed_spans(same, strip(("abd ", ""), ("12", "bold"))) == [(2, 3)]
    assert changed_spans(same, strip(("abc ", ""), ("12", "italic"))) == [(4, 6)]
    # Runs close together are repainted as one (a run costs a cursor move and a style).
    assert changed_spans(strip(("a" * 20, "")), strip(("b" + "a" * 3 + "b" + "a" * 15, ""))) == [
        (0, 5)
    ]
    assert changed_spans(strip(("a" * 20, "")), strip(("b" + "a" * 10 + "b" + "a" * 8, ""))) == [
        (0, 1),
        (11, 12),
    ]


def test_changed_spans_never_cut_a_wide_character() -> None:
    before = strip(("ab", ""), ("名前", ""), ("cd", ""))  # 名 and 前 take two cells each
    after = strip(("ab", ""), ("名x ", ""), ("cd", ""))
    spans = changed_spans(before, after)
    assert spans == [(4, 6)]
    before = strip(("ab", ""), ("xy", ""), ("cd", ""))
    after = strip(("ab", ""), ("名", ""), ("cd", ""))
    assert changed_spans(before, after) == [(2, 4)]
    # A change in the second half of a wide character repaints all of it.
    before = strip(("a", ""), ("名", ""), ("b", ""))
    after = strip(("a", ""), ("名", "bold"), ("b", ""))
    assert changed_spans(before, after) == [(1, 3)]


def text_path_strip(table: StatsTable, row: Any, marked: frozenset[str], style: Style) -> Strip:
    """A row as Rich ``Text`` renders it, each cell's style on its text only (not on
    the padding: a marked number is underlined, not the spaces before it). This is
    the definition the direct segments must match."""
    line = Text(no_wrap=True, overflow="crop")
    for col in table.columns_shown:
        cell = table.render_cell(row, col, col.key in marked)
        text = Text(no_wrap=True, overflow=cell.overflow, justify=cell.justify)
        text.append(cell.plain, style=cell.style or None)
        line.append(" ")
        line.append_text(table._fit(text, col.width))
        line.append(" ")
    strip = Strip(list(line.render(table.app.console))).apply_style(style)
    return strip.adjust_cell_length(table.size.width, style).simplify()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_rows_built_from_segments_equal_rows_rendered_through_rich_text(
    size: tuple[int, int],
) -> None:
    """The table draws changed rows from segments directly; it must draw exactly what
    Rich ``Text`` would, for long, wide and hostile names, unknown values, marks,
    event colours and the cursor's style."""
    async with big_app(100, changing=10, size=size) as h:
        table = h.app.overview.table
        await advance(h, 2)
        rows = [table._row(ident) for ident in table.order[:20]]
        keys = [c.key for c in table.columns_shown]
        odd_values = tuple(None if i % 3 == 0 else 10**i for i in range(len(rows[0].values)))
        variants = [
            *rows,
            replace(rows[0], name="名前" * 30, provider="プロバイダ" * 5),
            replace(rows[1], name="x" * 200, provider=""),
            replace(rows[2], name="[bold]x[/] \x1b[31mred", values=odd_values, rate=None),
            replace(rows[3], hot=frozenset({"viol", "alrt", "blk"}), trend=(None, 5, 0, 10**20)),
            replace(rows[4], rate=123456789.0, trend=()),
        ]
        styles = [table.rich_style, table.rich_style + Style(bold=True, bgcolor="blue")]
        checked = 0
        for k, row in enumerate(variants):
            for marked in (frozenset(), frozenset(keys[k % len(keys) :]), frozenset(keys)):
                for style in styles:
                    direct = table._line_strip(row, marked, style, table.size.width)
                    # Cell by cell (segments may be cut at other places, drawn the same).
                    assert _cells(direct) == _cells(text_path_strip(table, row, marked, style))
                    checked += 1
        assert checked == len(variants) * 6


def _alternatives() -> dict[str, object]:
    """Another value for every RowView field (one that shows, where it can)."""
    from decimal import Decimal

    from tui.counters import COUNTERS
    from tui.models import CellProblem
    from tui.pricing import PeriodCost

    n = len(COUNTERS)
    return {
        "id": "another-id",
        "name": "another name",
        "provider": "zzz",
        "values": tuple(7 * 10**i for i in range(n)),
        "problems": {COUNTERS[0]: CellProblem.MISSING},
        "rate": 98765.0,
        "trend": (1, None, 50, 3),
        "hot": frozenset(EVENT_COLUMNS),
        "priced": True,
        "cost_rate": Decimal("1.25"),
        "cost_today": PeriodCost(Decimal("3.5"), 0.0, False),
        "group": 4,
        "folded": True,
    }


def test_each_column_declares_every_row_field_its_cell_reads() -> None:
    """The table reuses the cells at a line's start whose ``Column.reads`` fields
    are unchanged: a field a column reads but does not declare would leave a stale
    cell on screen. Changing any undeclared field must not change the cell."""
    from tui.counters import COUNTERS
    from tui.view import COLUMNS, RowView

    n = len(COUNTERS)
    plain = RowView(
        id="cfg-1",
        name="support-bot",
        provider="openai",
        values=(None, *range(1, n)),
        problems={},
        rate=12.0,
        trend=(3, 4, 5),
    )
    bases = [plain, replace(plain, priced=True, group=2, values=(5,) * n, rate=None)]
    alternatives = _alternatives()
    assert set(alternatives) == set(RowView.__dataclass_fields__)
    checked = 0
    for col in COLUMNS:
        assert col.reads, f"{col.key} declares no fields (its cells would never be reused)"
        assert set(col.reads) <= set(alternatives)
        for base in bases:
            for field, other in alternatives.items():
                changed = replace(base, **{field: other})
                for marked in (False, True):
                    same = col.render(base, col.width or 20, marked)
                    if field in col.reads:
                        continue
                    assert col.render(changed, col.width or 20, marked) == same, (col.key, field)
                    checked += 1
    assert checked > 100


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_a_line_built_from_its_last_build_equals_one_built_afresh(
    size: tuple[int, int],
) -> None:
    """A changed row's line starts from its last build (the unchanged cells at its
    start): for every pair of rows, marks and line styles it must equal the line
    built from nothing."""
    async with big_app(100, changing=10, size=size) as h:
        table = h.app.overview.table
        await advance(h, 2)
        keys = [c.key for c in table.columns_shown]
        row = table._row(table.order[0])
        alternatives = _alternatives()
        rows = [
            row,
            *(replace(row, **{f: v}) for f, v in alternatives.items() if f != "id"),
            replace(row, name="名前" * 30, hot=frozenset({"viol"}), rate=None),
            replace(row, name="[bold]x[/] \x1b[31mred", trend=()),
        ]
        marks = [frozenset(), frozenset(keys[2:5]), frozenset(keys)]
        styles = [table.rich_style, table.rich_style + Style(bold=True, bgcolor="blue")]
        width = table.size.width
        reused = 0
        for style in styles:
            for old, new in itertools.product(rows, repeat=2):
                for old_marked, new_marked in itertools.product(marks, repeat=2):
                    prev = table._line_segments(old, old_marked, style)
                    afresh = table._line_strip(new, new_marked, style, width)
                    again = table._line_strip(new, new_marked, style, width, prev)
                    assert list(again) == list(afresh), (old, new, old_marked, new_marked)
                    reused += table._reusable(prev, new, new_marked, style) > 0
        assert reused > 100  # the reuse was exercised, not only full builds


async def test_the_table_paints_its_lines_as_textual_would() -> None:
    """The table, the status bar and the totals paint their lines themselves
    (``render_plain_lines``, through Textual's line cache): after every poll, whole
    and cropped, what they paint must equal
    what Textual's ``StylesCache`` makes of the same lines; with a border (or
    padding) it must leave the painting to Textual."""
    from textual._styles_cache import StylesCache
    from textual.filter import Monochrome
    from textual.geometry import Region

    from tui.widgets._textual_compat import compat_enabled, render_plain_lines

    async with big_app(100, changing=10) as h:
        table = h.app.overview.table
        for step in range(4):
            await advance(h, 2)
            await h.pilot.pause()
            if step == 2:
                await h.pilot.press("down", "down")
            if step == 3:  # a line filter that changes every line: applied the same
                h.app._filters.append(Monochrome())
            for widget in (table, h.app.overview.status_bar, h.app.overview.query_one("#totals")):
                width, height = widget.size
                for crop in (widget.size.region, Region(3, 0, width - 10, max(height - 1, 1))):
                    stock = StylesCache().render_widget(widget, crop)
                    painted = widget.render_lines(crop)
                    assert [list(s) for s in painted] == [list(s) for s in stock]
                    assert [s.cell_length for s in painted] == [s.cell_length for s in stock]
        if compat_enabled():
            assert render_plain_lines(table, table.size.region) is not None
            assert render_plain_lines(h.app.overview.status_bar, table.size.region) is not None
        table.styles.padding = (0, 1)
        assert render_plain_lines(table, table.size.region) is None
        table.styles.padding = 0
        table.styles.border = ("solid", "red")
        assert render_plain_lines(table, table.size.region) is None


async def test_the_lines_a_frame_paints_are_those_of_the_rows_now() -> None:
    """A frame paints a line the last refresh set (not looked up again): after polls
    that re-rank, cursor moves, a scroll, a sort and a filter that shortens the list,
    every line must be what building it afresh gives."""

    def lines(table: StatsTable) -> list[list[Segment]]:
        return [list(table.render_line(y)) for y in range(1, table.size.height)]

    def afresh(table: StatsTable) -> list[list[Segment]]:
        table._painted.clear()
        table._lines.clear()
        table._built.clear()
        return lines(table)

    async with big_app(100, changing=30, size=(100, 20)) as h:
        table = h.app.overview.table
        steps: list[tuple[str, ...]] = [(), ("down",), ("pagedown",), ("down", "down"), ("s",)]
        steps += [("slash", *"llm-0002", "enter"), ("up",), ("escape",)]
        for keys in steps:
            await advance(h, 2)
            await h.pilot.press(*keys)
            await h.pilot.pause()
            shown = lines(table)
            assert shown == afresh(table), keys
            if keys[-1:] == ("enter",):
                assert len(table.order) == 10  # llm-00020 to llm-00029


def test_changed_spans_with_cell_cuts_equal_those_without() -> None:
    """The table hands ``changed_spans`` its column starts to compare cell by cell:
    the runs found must be the same as without them, for any cuts."""
    import random

    rng = random.Random(13)
    base, other = Style(), Style(bold=True)
    for _ in range(2000):
        width = rng.randint(1, 60)
        old = [rng.choice("ab▁▂ ") for _ in range(width)]
        new = [ch if rng.random() < 0.8 else rng.choice("abc▃ ") for ch in old]

        def strip_of(chars: list[str], cut_at: int) -> Strip:
            styles = [base if i < cut_at else other for i in range(len(chars))]
            segs = [Segment(ch, st) for ch, st in zip(chars, styles, strict=True)]
            return Strip(segs, len(chars)).simplify()

        before = strip_of(old, rng.randint(0, width))
        after = strip_of(new, rng.randint(0, width))
        cuts = sorted(rng.sample(range(1, width + 1), rng.randint(0, width)))
        assert changed_spans(before, after, cuts) == changed_spans(before, after)
