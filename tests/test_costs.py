"""The totals' cost sums kept up to date poll by poll equal sums worked out afresh."""

from __future__ import annotations

import random
from decimal import Decimal

from tui.costs import Costs
from tui.counters import COUNTERS
from tui.history import Changes, History
from tui.ledger import Ledger
from tui.models import LlmConfig, LlmStats
from tui.pricing import LLM_IN, LLM_OUT, build_pricebook

T0 = 1_800_000_000.0


def test_sums_refreshed_for_what_moved_equal_sums_worked_out_afresh() -> None:
    rng = random.Random(7)
    n = 60
    names = {
        f"id-{i}": LlmConfig(f"id-{i}", f"cfg-{i}" if i % 7 else f"free-{i}") for i in range(n)
    }
    book = build_pricebook({"cfg-*": "gpt-4o"}, {}, None)  # free-* unpriced
    history, ledger = History(), Ledger()
    kept = Costs(book, lambda: history, lambda: names, ledger)
    totals = [[0, 0] for _ in range(n)]
    for k in range(80):
        at = T0 + 5 * k
        stats = []
        for i in range(n):
            # Bursts: a configuration is busy for a while, then quiet for minutes.
            if (k // 10 + i) % 4 == 0:
                totals[i][0] += rng.randint(0, 5000)
                totals[i][1] += rng.randint(0, 9000)
            v: list[int | None] = [0] * len(COUNTERS)
            v[LLM_IN], v[LLM_OUT] = totals[i]
            stats.append(LlmStats(f"id-{i}", tuple(v)))
        changes = history.record(stats, at, Changes())
        for s in stats:
            ledger.record(s.ai_llm_id, at, s.values)
        ids = [s.ai_llm_id for s in stats]
        kept.refresh(ids, changes.changed, at)
        fresh = Costs(book, lambda: history, lambda: names, ledger)
        assert kept.sums(ids, at) == fresh.sums(ids, at), k
        some = ids[::3]  # a filter: part of the rows
        assert kept.sums(some, at) == fresh.sums(some, at), k
    rate, today, partial, _approx = kept.sums(ids, at)
    assert partial  # the free-* ones
    assert today > 0 and rate >= Decimal(0)
