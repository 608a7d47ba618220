"""The cropped partial update writes the same screen as Rich's styling, in fewer bytes.

``CroppedChopsUpdate.render_segments`` keeps track of the terminal's style and sends
only what changes (see ``tui/widgets/_textual_compat.py``). A small terminal model
(cursor moves, SGR, text) replays the stock encoding of the same cells, one
``ESC[<style>m text ESC[0m`` a segment, and the tracked one: every cell must come
out the same, and the terminal must be left in the default style.
"""

from __future__ import annotations

import random
import re

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tui.widgets import _textual_compat as compat

pytestmark = pytest.mark.skipif(not compat.compat_enabled(), reason="stock compositor")

_TOKEN = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])|\x1b\]8;[^\x1b]*\x1b\\|\n|[^\x1b\n]")
_OFF = {"22": {"1", "2"}, "23": {"3"}, "24": {"4", "21"}, "25": {"5", "6"}, "27": {"7"},
        "28": {"8"}, "29": {"9"}, "54": {"51", "52"}, "55": {"53"}}  # fmt: skip


class Terminal:
    """Cells of (character, attributes, foreground, background); no scrolling."""

    def __init__(self, width: int, height: int) -> None:
        blank = (" ", frozenset(), "", "")
        self.cells = [[blank] * width for _ in range(height)]
        self.x = self.y = 0
        self.attrs: set[str] = set()
        self.fg = self.bg = ""

    def _sgr(self, params: str) -> None:
        codes = params.split(";") if params else ["0"]
        i = 0
        while i < len(codes):
            code = codes[i] or "0"
            if code == "0":
                self.attrs, self.fg, self.bg = set(), "", ""
            elif code in ("38", "48"):
                n = 3 if codes[i + 1] == "5" else 5
                value = ";".join(codes[i + 1 : i + n])
                self.fg, self.bg = (value, self.bg) if code == "38" else (self.fg, value)
                i += n - 1
            elif code in ("39", "49"):
                self.fg, self.bg = ("", self.bg) if code == "39" else (self.fg, "")
            elif code in _OFF:
                self.attrs -= _OFF[code]
            elif (code[0] in "349" and len(code) == 2) or (code[:2] == "10" and len(code) == 3):
                is_fg = code[0] in "39"
                self.fg, self.bg = (code, self.bg) if is_fg else (self.fg, code)
            else:
                self.attrs.add(code)
            i += 1

    def feed(self, output: str) -> None:
        for match in _TOKEN.finditer(output):
            text, final = match.group(0), match.group(2)
            if final == "H":
                row, col = [*match.group(1).split(";"), "1", "1"][:2]
                self.y, self.x = int(row or 1) - 1, int(col or 1) - 1
            elif final == "G":
                self.x = int(match.group(1) or 1) - 1
            elif final == "m":
                self._sgr(match.group(1))
            elif final or text.startswith("\x1b]"):
                assert not final, f"unexpected {text!r}"
            elif text == "\n":
                self.y += 1
            elif width := cell_len(text):
                cell = (text, frozenset(self.attrs), self.fg, self.bg)
                self.cells[self.y][self.x] = cell
                if width == 2:
                    self.cells[self.y][self.x + 1] = ("", *cell[1:])
                self.x += width


def stock_render(update: compat.CroppedChopsUpdate, console: Console) -> str:
    """The same spans, cropped the same way, each strip written as Rich writes it."""
    out = []
    for y, x1, x2 in update.spans:
        for end, (x, strip) in zip(update.chop_ends[y], update.chops[y].items(), strict=False):
            if strip is None or x > x2 or end <= x1:
                continue
            start = compat._whole_cell(strip, max(x1 - x, 0), -1)
            stop = compat._whole_cell(strip, min(end, x2) - x, +1)
            out.append(f"\x1b[{y + 1};{x + start + 1}H")
            for text, style, _control in strip.crop(start, stop):
                out.append(rich_way(text, style, console))
    return "".join(out)


def rich_way(text: str, style: Style | None, console: Console) -> str:
    """A segment as ``Strip.render`` writes it, its codes worked out afresh (Rich keeps
    a style's codes on the style, whatever colour system asked for them first)."""
    if style is None:
        return text
    system = console._color_system
    assert system is not None
    ansi = Strip.render_ansi(style, system)
    output = f"\x1b[{ansi}m{text}\x1b[0m" if ansi else text
    if style._link:
        output = f"\x1b]8;id={style._link_id};{style._link}\x1b\\{output}\x1b]8;;\x1b\\"
    return output


COLOURS = [None, "red", "#112233", "color(253)", "default", "bright_blue"]
ATTRIBUTES = ("bold", "dim", "italic", "underline", "blink", "blink2", "reverse",
              "conceal", "strike", "underline2", "frame", "encircle", "overline")  # fmt: skip
TEXTS = ["abc", "▁▂▃█", "中文", "x", "  ", "héllo", "1.4k", "界a"]


def random_strip(rng: random.Random, width: int) -> Strip:
    segments, used = [], 0
    while used < width:
        text = rng.choice(TEXTS)
        if used + cell_len(text) > width:
            text = " " * (width - used)
        style = None
        if rng.random() > 0.15:
            flags = {a: rng.random() < 0.2 for a in ATTRIBUTES if rng.random() < 0.25}
            link = "https://example.com" if rng.random() < 0.03 else None
            style = Style(
                color=rng.choice(COLOURS), bgcolor=rng.choice(COLOURS), link=link, **flags
            )
        segments.append(Segment(text, style))
        used += cell_len(text)
    return Strip(segments, width)


@pytest.mark.parametrize("system", ["256", "truecolor", "standard"])
def test_tracked_styles_paint_the_same_cells_as_rich(system: str) -> None:
    rng = random.Random(7)
    console = Console(color_system=system, force_terminal=True, width=60, height=8)  # type: ignore[arg-type]
    width, height = 60, 8
    stock_bytes = tracked_bytes = 0
    for _ in range(400):
        chops, ends = [], []
        for _y in range(height):
            cuts = sorted(rng.sample(range(1, width), rng.randint(0, 3)))
            chops.append(
                {
                    x: random_strip(rng, e - x)
                    for x, e in zip([0, *cuts], [*cuts, width], strict=True)
                }
            )
            ends.append([*cuts, width])
        spans = []
        for y in sorted(rng.sample(range(height), rng.randint(1, height))):
            x1 = rng.randint(0, width - 1)
            spans.append((y, x1, rng.randint(x1 + 1, width)))
        update = compat.CroppedChopsUpdate(chops, spans, ends)
        stock, tracked = stock_render(update, console), update.render_segments(console)
        expected, got = Terminal(width, height), Terminal(width, height)
        expected.feed(stock)
        got.feed(tracked)
        assert got.cells == expected.cells
        assert (got.attrs, got.fg, got.bg) == (set(), "", ""), "left in the default style"
        stock_bytes += len(stock.encode())
        tracked_bytes += len(tracked.encode())
    assert tracked_bytes < stock_bytes
