"""Every per-counter table is derived from the one registry (tui/counters.py)."""

from __future__ import annotations

from tui import history, models, view
from tui.counters import COUNTERS, EVENT_INDICES, IDX, REGISTRY
from tui.models import CellProblem
from tui.view import COLUMN_BY_KEY, SORT_KEYS, RowView


def test_the_registry_is_well_formed() -> None:
    assert len({c.api for c in REGISTRY}) == len(REGISTRY)
    assert len({c.key for c in REGISTRY}) == len(REGISTRY)
    assert all(c.api.startswith("total") and c.title and c.long for c in REGISTRY)
    events = tuple(REGISTRY[i].api for i in EVENT_INDICES)
    assert events == ("totalPolicyViolations", "totalAlerts", "totalBlocks")


def test_wire_and_history_take_the_counters_from_the_registry() -> None:
    assert models.COUNTERS == COUNTERS == tuple(c.api for c in REGISTRY)
    assert {c.api: c.label for c in REGISTRY} == models.COUNTER_LABELS
    # One packed record holds every counter.
    assert history._RECORD.size == 16 + 8 * len(REGISTRY)


def test_every_counter_has_a_sortable_column_with_its_title() -> None:
    for c in REGISTRY:
        col = COLUMN_BY_KEY[c.key]
        assert (col.title, col.width, col.min_screen) == (c.title, c.width, c.min_screen)
        assert col.sort is not None and col.key in SORT_KEYS
    assert SORT_KEYS[0] == view.DEFAULT_SORT
    assert len(SORT_KEYS) == len(set(SORT_KEYS))


def row(values: tuple[int | None, ...], hot: frozenset[str] = frozenset()) -> RowView:
    problems = {COUNTERS[i]: CellProblem.MISSING for i, v in enumerate(values) if v is None}
    return RowView("a", "a", "", values, problems, None, (), hot)


def test_a_counter_column_renders_its_own_cells() -> None:
    viol = COLUMN_BY_KEY["viol"]
    blocks = COLUMN_BY_KEY["blocks"]
    values = tuple(1234 * (i + 1) for i in range(len(COUNTERS)))
    plain = row(values)
    assert viol.render(plain, viol.width, False).text == "7.4k"  # 6 x 1234
    assert viol.render(plain, viol.width, True).role == "changed"
    hot = row(values, frozenset({"viol", "blocks"}))
    assert viol.render(hot, viol.width, True).role == "warning"  # an event wins over a mark
    assert blocks.render(hot, blocks.width, False).role == "error"  # blocks are severe
    missing = row(tuple(None if i == IDX["totalAlerts"] else 1 for i in range(len(COUNTERS))))
    cell = COLUMN_BY_KEY["alerts"].render(missing, 4, False)
    assert (cell.text, cell.role, cell.right) == ("-", "muted", True)
