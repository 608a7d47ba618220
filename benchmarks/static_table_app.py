"""Comparison apps for the idle benchmark: a bare Textual DataTable of 100 rows.

Without options it only shows a static table (the floor of what any Textual app
costs while nothing happens). With ``--update SECONDS`` it is the "plain DataTable"
of the issue: every SECONDS, 10 rows x 10 cells change through ``update_cell``.

    python benchmarks/static_table_app.py [--update 2]
"""

from __future__ import annotations

import argparse
import random
import sys

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

COLUMNS = ("NAME", "PROVIDER", "CALLS", "TOK IN", "TOK OUT", "LLM IN", "LLM OUT", "VIOL")
COLUMNS += ("ALRT", "BLK", "TOK/MIN", "TOK/H")  # ten numeric columns
ROWS = 100


class TableApp(App[None]):
    """A header, one DataTable, a footer."""

    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, update: float | None) -> None:
        super().__init__()
        self.update_every = update
        self.rng = random.Random(7)
        self.values = [[self.rng.randrange(10**3, 10**7) for _ in COLUMNS[2:]] for _ in range(ROWS)]

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        keys = table.add_columns(*COLUMNS)
        self.col_keys = keys[2:]
        for i, vals in enumerate(self.values):
            table.add_row(f"llm-{i + 1:05d}", "OPENAI", *map(str, vals), key=str(i))
        if self.update_every:
            self.set_interval(self.update_every, self.change)

    def change(self) -> None:
        table = self.query_one(DataTable)
        for row in self.rng.sample(range(ROWS), 10):
            for c, key in enumerate(self.col_keys):
                self.values[row][c] += self.rng.randrange(1, 5000)
                table.update_cell(str(row), key, str(self.values[row][c]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update", type=float, default=None, help="change 10 rows x 10 cells")
    args = ap.parse_args(argv)
    TableApp(args.update).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
