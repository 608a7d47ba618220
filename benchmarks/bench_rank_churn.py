"""How many visible rows change place per poll under churn, calm order against exact.

The demo server's rotating traffic (100 configurations, 10 busy at a time, the busy set
moving every 2 s poll) is recorded into a History on a simulated clock, and the
overview's order by TOK/MIN is computed each poll the way the table does
(`view.order_ids`), once with the calm order (`tui/ranking.py`) and once exactly. For
each poll after the first minute it counts the first 35 positions (the rows a 120x40
terminal shows) whose configuration differs from the poll before.

    python benchmarks/bench_rank_churn.py [--polls 120] [--visible 35]
"""

from __future__ import annotations

import argparse

from perf_common import machine

from tui.demo_server import DemoServer
from tui.history import History
from tui.models import parse_stats_response
from tui.ranking import CalmOrder
from tui.view import NameOrder, order_ids


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def changes_per_poll(calm: bool, polls: int, visible: int) -> list[int]:
    clock = Clock(1000.0)
    server = DemoServer(n_configs=100, changing=10, rotate=2.0, clock=clock, epoch=1000.0)
    history, names, state = History(), NameOrder(), CalmOrder()
    before: list[str] | None = None
    out: list[int] = []
    for i in range(polls):
        clock.now = 1000.0 + 2.0 * i
        page = parse_stats_response({"success": True, "stats": server.snapshot()})
        history.record(page.stats, clock.now)
        order = order_ids(
            page.stats, {}, history, "", "rate", True, {}, names, state if calm else None, page
        )
        shown = [s.ai_llm_id for s in order[:visible]]
        if before is not None and clock.now - 1000.0 >= 60.0:
            out.append(sum(a != b for a, b in zip(before, shown, strict=True)))
        before = shown
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--polls", type=int, default=120)
    ap.add_argument("--visible", type=int, default=35)
    args = ap.parse_args(argv)
    print(f"machine: {machine()}")
    print(f"rows of the first {args.visible} that change place per 2 s poll, after a minute:")
    for label, calm in (("calm order (TOK/MIN)", True), ("exact order", False)):
        moved = changes_per_poll(calm, args.polls, args.visible)
        mean = sum(moved) / len(moved)
        still = sum(1 for m in moved if m == 0)
        print(f"  {label:<22} mean {mean:5.1f}  max {max(moved):3d}  polls with none {still}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
