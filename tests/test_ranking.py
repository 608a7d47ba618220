"""The calm order of rate columns: near-ties keep their order, a move needs two polls."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tui.ranking import CONFIRM_POLLS, TOLERANCE, CalmOrder, calm_order, changed

SORT = ("rate", True, "")


class Table:
    """Polls a calm order the way the overview does: one call per poll."""

    def __init__(self) -> None:
        self.state = CalmOrder()
        self.polls = 0

    def poll(self, rates: dict[str, float], sort: tuple[str, bool, str] = SORT) -> list[str]:
        self.polls += 1
        return self.render(rates, sort)

    def render(self, rates: dict[str, float], sort: tuple[str, bool, str] = SORT) -> list[str]:
        ids = list(rates)
        order = calm_order(ids, [rates[i] for i in ids], sort[1], self.state, sort, self.polls)
        return [ids[i] for i in order]


def test_the_first_order_is_exactly_the_rate_order() -> None:
    t = Table()
    assert t.poll({"a": 10.0, "b": 300.0, "c": 0.0, "d": 299.0}) == ["b", "d", "a", "c"]
    t2 = Table()
    ascending = calm_order(["a", "b", "c"], [3.0, 1.0, 2.0], False, t2.state, ("r", False, ""), 1)
    assert ascending == [1, 2, 0]


def test_near_ties_keep_their_order_when_their_rates_swap() -> None:
    t = Table()
    assert t.poll({"a": 1000.0, "b": 990.0, "c": 500.0}) == ["a", "b", "c"]
    # b overtakes a by 2 %: a near-tie, nothing moves, however long it lasts.
    for _ in range(5):
        assert t.poll({"a": 990.0, "b": 1010.0, "c": 500.0}) == ["a", "b", "c"]


def test_a_row_whose_rate_clearly_changed_moves_on_its_second_poll() -> None:
    t = Table()
    assert t.poll({"a": 1000.0, "b": 500.0}) == ["a", "b"]
    assert t.poll({"a": 1000.0, "b": 2000.0}) == ["a", "b"]  # first poll: not yet
    assert t.poll({"a": 1000.0, "b": 2000.0}) == ["b", "a"]  # second in a row: moves
    assert CONFIRM_POLLS == 2


def test_a_one_poll_blip_moves_nothing() -> None:
    t = Table()
    t.poll({"a": 1000.0, "b": 500.0})
    assert t.poll({"a": 1000.0, "b": 5000.0}) == ["a", "b"]
    assert t.poll({"a": 1000.0, "b": 500.0}) == ["a", "b"]
    assert t.poll({"a": 1000.0, "b": 5000.0}) == ["a", "b"]  # the count started again


def test_rendering_one_poll_again_is_not_a_second_poll() -> None:
    t = Table()
    t.poll({"a": 1000.0, "b": 500.0})
    rates = {"a": 1000.0, "b": 2000.0}
    assert t.poll(rates) == ["a", "b"]
    for _ in range(3):  # a filter typed, a resize: the same poll shown again
        assert t.render(rates) == ["a", "b"]
    assert t.poll(rates) == ["b", "a"]


def test_going_quiet_or_waking_up_moves_on_the_second_poll() -> None:
    t = Table()
    t.poll({"a": 1000.0, "b": 500.0, "c": 0.0})
    assert t.poll({"a": 0.0, "b": 500.0, "c": 700.0}) == ["a", "b", "c"]
    assert t.poll({"a": 0.0, "b": 500.0, "c": 700.0}) == ["c", "b", "a"]


def test_another_sort_or_filter_starts_from_the_exact_order() -> None:
    t = Table()
    t.poll({"a": 1000.0, "b": 990.0})
    assert t.poll({"a": 990.0, "b": 1010.0}) == ["a", "b"]
    assert t.poll({"a": 990.0, "b": 1010.0}, ("rate", True, "x")) == ["b", "a"]


def test_new_rows_come_in_by_rate_and_after_the_rows_of_an_equal_rate() -> None:
    t = Table()
    t.poll({"a": 1000.0, "b": 10.0})
    order = t.poll({"a": 1000.0, "b": 10.0, "n": 5000.0, "m": 1000.0, "k": 10.5})
    assert order == ["n", "a", "m", "k", "b"]


def test_a_change_is_more_than_five_per_cent_of_the_reference() -> None:
    assert TOLERANCE == 0.05
    assert not changed(1049.0, 1000.0) and not changed(951.0, 1000.0)
    assert changed(1051.0, 1000.0) and changed(949.0, 1000.0)
    assert changed(0.0, 1000.0) and changed(0.001, 0.0) and not changed(0.0, 0.0)


rates_strategy = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3),
    st.one_of(st.just(0.0), st.floats(0.001, 1e12)),
    min_size=1,
    max_size=30,
)


@given(st.lists(rates_strategy, min_size=1, max_size=6))
def test_every_order_is_a_permutation_and_clear_differences_are_in_order(
    polls: list[dict[str, float]],
) -> None:
    t = Table()
    last: dict[str, float] = {}
    for rates in polls:
        # Each rate held for two polls: then every row has settled on its level.
        t.poll(rates)
        order = t.poll(rates)
        assert sorted(order) == sorted(rates)
        last = rates
    pos = {ident: i for i, ident in enumerate(order)}
    settled = (1 + TOLERANCE) / (1 - TOLERANCE)  # about 10.5 %
    for a in last:
        for b in last:
            if last[a] > last[b] * settled * 1.000001 or (last[a] > 0 and last[b] == 0):
                assert pos[a] < pos[b], (a, b, last[a], last[b], order)


def test_back_on_the_rate_sort_after_another_column_the_order_starts_afresh() -> None:
    from tui.history import History
    from tui.models import LlmStats
    from tui.view import order_ids

    state = CalmOrder()
    history = History()

    def page(tokens: dict[str, int], at: float) -> list[LlmStats]:
        stats = [LlmStats(i, (0, v, 0, 0, 0, 0, 0, 0)) for i, v in tokens.items()]
        history.record(stats, at)
        return stats

    page(dict.fromkeys("abc", 0), 0.0)
    first = page({"a": 300, "b": 200, "c": 100}, 60.0)
    ids = [
        s.ai_llm_id for s in order_ids(first, {}, history, "", "rate", True, None, None, state, 1)
    ]
    assert ids == ["a", "b", "c"]
    order_ids(first, {}, history, "", "calls", True, None, None, state, 1)  # sorted by calls
    later = page({"a": 300, "b": 205, "c": 2000}, 120.0)
    ids = [
        s.ai_llm_id for s in order_ids(later, {}, history, "", "rate", True, None, None, state, 2)
    ]
    assert ids == ["c", "b", "a"]  # the current rates, not the order left behind
