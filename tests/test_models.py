"""Tests of tui.models: exact counters, per-cell problems, envelopes and name joins."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.errors import BadResponseError, UnsuccessfulError
from tui.models import (
    COUNTERS,
    MAX_DIGITS,
    CellProblem,
    LlmConfig,
    LlmStats,
    StatsPage,
    parse_counter,
    parse_llms_response,
    parse_stats_response,
)

FORTY = "1234567890123456789012345678901234567890"


def stats_obj(ai_llm_id: object = "id-1", **overrides: object) -> dict[str, object]:
    """A well-formed stats object (counter i = str(i + 1)) with some fields replaced."""
    obj: dict[str, object] = {"aiLlmId": ai_llm_id}
    obj.update({name: str(i + 1) for i, name in enumerate(COUNTERS)})
    obj.update(overrides)
    return obj


def page_of(*items: object) -> StatsPage:
    return parse_stats_response({"success": True, "stats": list(items)})


# ---------------------------------------------------------------- parse_counter


def test_forty_digit_counter_is_exact_int() -> None:
    value = parse_counter(FORTY)
    assert type(value) is int
    assert value == 1234567890123456789012345678901234567890
    assert str(value) == FORTY


def test_counter_at_digit_limit_is_accepted_and_one_more_is_invalid() -> None:
    assert parse_counter("9" * MAX_DIGITS) == int("9" * MAX_DIGITS)
    assert parse_counter("9" * (MAX_DIGITS + 1)) is CellProblem.INVALID


def test_very_long_digit_string_is_invalid_not_an_exception() -> None:
    # Far beyond Python's int-from-str digit limit (4300): must not raise ValueError.
    assert parse_counter("7" * 10_000) is CellProblem.INVALID


def test_zero_and_leading_zeros_are_plain_decimals() -> None:
    assert parse_counter("0") == 0
    assert parse_counter("00042") == 42


@pytest.mark.parametrize(
    "value",
    [
        "-5",
        "1e3",
        "0x10",
        " 7 ",
        "7\n",
        "\u0663",  # ARABIC-INDIC DIGIT THREE: str.isdigit() says yes, we say no
        "\uff17",  # FULLWIDTH DIGIT SEVEN
        "",
        "+5",
        "1_000",
        "1,000",
        "5.0",
        "NaN",
    ],
    ids=repr,
)
def test_non_decimal_strings_are_invalid(value: str) -> None:
    assert parse_counter(value) is CellProblem.INVALID


@pytest.mark.parametrize("value", [5, 5.0, True, False, 0, [], ["1"], {"v": "1"}], ids=repr)
def test_non_string_json_values_are_invalid_never_numbers(value: object) -> None:
    assert parse_counter(value) is CellProblem.INVALID


def test_null_counter_is_missing() -> None:
    assert parse_counter(None) is CellProblem.MISSING


# ---------------------------------------------------------------- per-cell problems in a page

BAD_CELLS: list[tuple[object, CellProblem]] = [
    ("-5", CellProblem.INVALID),
    ("1e3", CellProblem.INVALID),
    ("0x10", CellProblem.INVALID),
    (" 7 ", CellProblem.INVALID),
    ("\u0663", CellProblem.INVALID),
    ("", CellProblem.INVALID),
    ("+5", CellProblem.INVALID),
    ("9" * (MAX_DIGITS + 1), CellProblem.INVALID),
    (None, CellProblem.MISSING),
    (5, CellProblem.INVALID),
    (5.0, CellProblem.INVALID),
    (True, CellProblem.INVALID),
    (["1"], CellProblem.INVALID),
]


@pytest.mark.parametrize("field", [COUNTERS[0], COUNTERS[4], COUNTERS[-1]])
@pytest.mark.parametrize(("bad", "problem"), BAD_CELLS, ids=[repr(b) for b, _ in BAD_CELLS])
def test_one_bad_cell_spoils_only_that_cell(field: str, bad: object, problem: CellProblem) -> None:
    page = page_of(stats_obj("a", **{field: bad}), stats_obj("b"))
    assert [s.ai_llm_id for s in page.stats] == ["a", "b"]
    a, b = page.stats
    assert a.get(field) is None
    assert dict(a.problems) == {field: problem}
    for i, name in enumerate(COUNTERS):
        if name != field:
            assert a.get(name) == i + 1
            assert type(a.get(name)) is int
    assert b.values == tuple(range(1, 9))
    assert not b.problems
    expected_invalid = 1 if problem is CellProblem.INVALID else 0
    assert (page.invalid_cells, page.missing_cells) == (expected_invalid, 1 - expected_invalid)


def test_absent_counter_field_is_missing_not_zero() -> None:
    obj = stats_obj("a")
    del obj["totalAlerts"]
    (stats,) = page_of(obj).stats
    assert stats.get("totalAlerts") is None
    assert stats.problems == {"totalAlerts": CellProblem.MISSING}
    assert stats.missing_count == 1
    assert stats.invalid_count == 0
    assert stats.get("totalBlocks") == 8


def test_object_with_only_an_id_has_eight_missing_cells() -> None:
    (stats,) = page_of({"aiLlmId": "lonely"}).stats
    assert stats.values == (None,) * 8
    assert stats.missing_count == 8
    assert set(stats.problems) == set(COUNTERS)


def test_forty_digit_counters_survive_a_whole_page_exactly() -> None:
    (stats,) = page_of(stats_obj("big", **dict.fromkeys(COUNTERS, FORTY))).stats
    assert all(type(v) is int and str(v) == FORTY for v in stats.values)
    assert list(stats) == list(stats.values)


def test_raw_object_is_kept_verbatim() -> None:
    obj = stats_obj("a", extraField={"nested": [1, 2]})
    (stats,) = page_of(obj).stats
    assert stats.raw == obj


# ---------------------------------------------------------------- ids: skipped and duplicates


@pytest.mark.parametrize(
    "item",
    [
        stats_obj(None),
        stats_obj(42),
        stats_obj(["id"]),
        stats_obj(""),
        stats_obj("   "),
        {k: v for k, v in stats_obj().items() if k != "aiLlmId"},
        "id-2",
        42,
        None,
        ["aiLlmId", "x"],
    ],
    ids=repr,
)
def test_items_without_usable_id_are_skipped_and_counted(item: object) -> None:
    page = page_of(stats_obj("good"), item, stats_obj("good-2"))
    assert [s.ai_llm_id for s in page.stats] == ["good", "good-2"]
    assert page.skipped == 1
    assert page.duplicate_ids == ()


def test_skips_are_counted_each() -> None:
    page = page_of(None, 1, "x", {"aiLlmId": ""}, {"no": "id"}, stats_obj("ok"))
    assert page.skipped == 5
    assert len(page.stats) == 1


def test_duplicate_ids_reported_once_each_and_first_kept() -> None:
    page = page_of(
        stats_obj("a", totalApiCalls="1"),
        stats_obj("b", totalApiCalls="10"),
        stats_obj("a", totalApiCalls="2"),
        stats_obj("c"),
        stats_obj("a", totalApiCalls="3"),
        stats_obj("b", totalApiCalls="20"),
    )
    assert page.duplicate_ids == ("a", "b")
    assert [s.ai_llm_id for s in page.stats] == ["a", "b", "c"]
    by_id = page.by_id()
    assert by_id["a"].get("totalApiCalls") == 1
    assert by_id["b"].get("totalApiCalls") == 10
    assert page.skipped == 0


def test_empty_stats_list_is_an_empty_page() -> None:
    page = page_of()
    assert page.stats == ()
    assert (page.skipped, page.duplicate_ids, page.invalid_cells) == (0, (), 0)


def test_success_field_may_be_absent() -> None:
    page = parse_stats_response({"stats": [stats_obj("a")]})
    assert [s.ai_llm_id for s in page.stats] == ["a"]


# ---------------------------------------------------------------- envelope errors


@pytest.mark.parametrize("body", [None, [], [stats_obj()], "stats", 42, 4.2, True], ids=repr)
def test_body_that_is_not_an_object_is_bad_response(body: object) -> None:
    with pytest.raises(BadResponseError, match="expected a JSON object"):
        parse_stats_response(body)


def test_success_false_raises_unsuccessful_with_server_message() -> None:
    with pytest.raises(UnsuccessfulError) as info:
        parse_stats_response({"success": False, "message": "Statistics are resting"})
    assert "Statistics are resting" in str(info.value)
    assert type(info.value) is UnsuccessfulError


def test_success_false_wins_even_when_stats_are_present() -> None:
    with pytest.raises(UnsuccessfulError):
        parse_stats_response({"success": False, "stats": [stats_obj()]})


@pytest.mark.parametrize("message", [None, "", "   ", 42, {"text": "x"}], ids=repr)
def test_success_false_without_usable_message_says_no_reason(message: object) -> None:
    with pytest.raises(UnsuccessfulError, match="no reason given"):
        parse_stats_response({"success": False, "message": message})


@pytest.mark.parametrize(
    "message",
    [
        "\x1b[31mred alert\x1b[0m",
        "\x1b]52;c;aGVsbG8=\x07clipboard",
        "\x1b]0;title\x1b\\ title",
        "line one\nline two\r\x07bell",
        "\u202eevil bidi\u2066",
        "x" * 5000,
    ],
    ids=["csi", "osc52-bel", "osc-st", "newlines-bel", "bidi", "long"],
)
def test_unsuccessful_message_is_sanitised_to_one_safe_line(message: str) -> None:
    with pytest.raises(UnsuccessfulError) as info:
        parse_stats_response({"success": False, "message": message})
    text = str(info.value)
    for forbidden in ("\x1b", "\x07", "\n", "\r", "\u202e", "\u2066"):
        assert forbidden not in text
    assert "\x1b" not in info.value.message
    assert len(text) < 300
    assert "52;c" not in text  # the whole OSC sequence goes, not just its ESC


def test_unsuccessful_message_keeps_its_words_after_sanitising() -> None:
    with pytest.raises(UnsuccessfulError) as info:
        parse_stats_response({"success": False, "message": "\x1b[31mquota\x1b[0m exceeded"})
    assert "quota exceeded" in str(info.value)


@pytest.mark.parametrize("stats", [{"not": "a list"}, "[]", 3, None, True], ids=repr)
def test_stats_that_is_not_a_list_is_bad_response(stats: object) -> None:
    with pytest.raises(BadResponseError, match="not a list"):
        parse_stats_response({"success": True, "stats": stats})


def test_missing_stats_field_is_bad_response() -> None:
    with pytest.raises(BadResponseError, match="'stats'"):
        parse_stats_response({"success": True})


# ---------------------------------------------------------------- /ai/llm and joins


def test_llms_entries_without_id_are_dropped_and_key_never_kept() -> None:
    body = {
        "success": True,
        "aiLlms": [
            {
                "id": "one",
                "name": "support-bot",
                "aiType": "OPENAI",
                "workspaceId": "ws",
                "createdAt": "2025-01-01T00:00:00.000Z",
                "key": "sk-SECRET-KEY-123",
                "endpoint": "https://api.openai.com/v1",
            },
            {"name": "no-id", "key": "sk-OTHER"},
            {"id": "", "name": "empty-id"},
            {"id": 7, "name": "numeric-id"},
            "not an object",
            {"id": "two", "name": None, "aiType": 3, "key": None},
        ],
    }
    configs = parse_llms_response(body)
    assert [c.id for c in configs] == ["one", "two"]
    one, two = configs
    assert (one.name, one.ai_type, one.workspace_id) == ("support-bot", "OPENAI", "ws")
    assert one.created_at == "2025-01-01T00:00:00.000Z"
    assert (two.name, two.ai_type) == (None, None)
    field_names = {f.name for f in dataclasses.fields(LlmConfig)}
    assert "key" not in field_names
    for c in configs:
        assert not hasattr(c, "key")
        assert "sk-" not in repr(c)


def test_llms_envelope_errors() -> None:
    with pytest.raises(UnsuccessfulError, match="nope"):
        parse_llms_response({"success": False, "message": "nope"})
    with pytest.raises(BadResponseError):
        parse_llms_response({"success": True})
    with pytest.raises(BadResponseError):
        parse_llms_response({"success": True, "aiLlms": {"id": "x"}})


# ---------------------------------------------------------------- property: never a float

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
counter_values = (
    json_values
    | st.from_regex(r"\A[0-9]{1,70}\Z")
    | st.sampled_from(["-5", "1e3", "0x10", " 7 ", "\u0663", "", "+5", FORTY])
)
stats_like = st.fixed_dictionaries(
    {},
    optional={
        "aiLlmId": st.text(max_size=6) | json_values,
        **{name: counter_values for name in COUNTERS},
    },
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"stats": st.lists(stats_like | json_values, max_size=6)},
        optional={"success": json_values | st.booleans(), "message": json_values},
    ),
)


def _check_page(page: StatsPage) -> None:
    assert isinstance(page, StatsPage)
    ids = [s.ai_llm_id for s in page.stats]
    assert len(ids) == len(set(ids))
    for stats in page.stats:
        assert isinstance(stats, LlmStats)
        assert isinstance(stats.ai_llm_id, str) and stats.ai_llm_id.strip()
        assert len(stats.values) == len(COUNTERS)
        for name, value in zip(COUNTERS, stats.values, strict=True):
            assert value is None or type(value) is int
            assert (value is None) == (name in stats.problems)
            if value is not None:
                assert value >= 0


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_any_json_gives_int_or_none_cells_or_a_typed_error(body: Any) -> None:
    try:
        page = parse_stats_response(body)
    except (BadResponseError, UnsuccessfulError) as exc:
        assert "\x1b" not in str(exc)
        assert "\n" not in str(exc)
        return
    _check_page(page)


@settings(max_examples=200, deadline=None)
@given(st.lists(stats_like, max_size=8))
def test_stats_shaped_objects_always_parse_to_exact_ints(items: list[dict[str, Any]]) -> None:
    page = parse_stats_response({"success": True, "stats": items})
    _check_page(page)
    first: dict[str, dict[str, Any]] = {}
    for item in items:
        ident = item.get("aiLlmId")
        if isinstance(ident, str) and ident.strip():
            first.setdefault(ident, item)
    assert [s.ai_llm_id for s in page.stats] == list(first)
    assert page.skipped == len(items) - sum(
        1 for i in items if isinstance(i.get("aiLlmId"), str) and i["aiLlmId"].strip()
    )
    for stats in page.stats:
        item = first[stats.ai_llm_id]
        for name in COUNTERS:
            raw = item.get(name)
            if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= MAX_DIGITS:
                assert stats.get(name) == int(raw)
            else:
                assert stats.get(name) is None


def test_a_page_parsed_against_the_last_one_equals_one_parsed_alone() -> None:
    """``known``: an object equal to last poll's is last poll's configuration again;
    anything else (a changed counter, a bad value, a new, duplicated or vanished id)
    parses as it would alone."""
    import copy
    import random

    rng = random.Random(7)
    odd = ["", "-1", "1.5", None, FORTY + "1", 12, "abc"]
    ids = [f"id-{i}" for i in range(12)]
    objects = {ident: stats_obj(ident) for ident in ids}
    known: dict[str, LlmStats] = {}
    reused = parsed = 0
    for _ in range(300):
        for ident in rng.sample(ids, 4):
            name = rng.choice(COUNTERS)
            obj = objects[ident] = dict(objects[ident])
            obj[name] = rng.choice(odd) if rng.random() < 0.2 else str(rng.randrange(10**6))
        shown = rng.sample(ids, rng.randint(8, 12))
        items: list[object] = [copy.deepcopy(objects[i]) for i in shown]
        if rng.random() < 0.2:
            items.append(copy.deepcopy(objects[shown[0]]))  # a duplicate id
        if rng.random() < 0.1:
            items.append("not an object")
        before = dict(known)
        page = parse_stats_response({"success": True, "stats": items}, known=known)
        alone = parse_stats_response({"success": True, "stats": items})
        assert page == alone
        assert [(s.values, dict(s.problems)) for s in page.stats] == [
            (s.values, dict(s.problems)) for s in alone.stats
        ]
        assert known == {s.ai_llm_id: s for s in page.stats}
        for s in page.stats:
            old = before.get(s.ai_llm_id)
            if old is not None and old.raw == objects[s.ai_llm_id]:
                assert s is old
                reused += 1
            else:
                parsed += 1
    assert reused > 1000 and parsed > 500  # both paths taken
