"""The /aistats wire module: queries, exact parsing of rows, grouping and the breakdown.

Pure functions, no network: the demo's /aistats over HTTP is in test_aistats_demo.py.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from fractions import Fraction
from typing import Any

import pytest

from tui.aistats import (
    SUM_FIELDS,
    AiStatsQuery,
    AiStatsRow,
    Dimension,
    GroupKey,
    breakdown,
    group_rows,
    parse_aistats_response,
    parse_count,
    parse_timestamp,
    series_by_config,
)
from tui.errors import BadResponseError, UnsuccessfulError

T0 = 1_777_975_200  # 2026-05-05T10:00:00Z, a whole minute
FORTY = "1234567890123456789012345678901234567890"
HOSTILE = "\x1b]0;pwned\x07gpt-\x1b[31m4o\u202e[bold]x[/]"


def row(**fields: Any) -> dict[str, Any]:
    """One /aistats row as the client's AiStatsData types it, with overrides."""
    base: dict[str, Any] = {
        "timestamp": T0 * 1000,
        "repoId": "repo-1",
        "aiLlmId": "llm-a",
        "repoAiApiKeyId": "key-1",
        "tokensIn": "100",
        "tokensOut": "50",
        "llmTokensIn": "95",
        "llmTokensOut": "49",
        "activeConversations": 1,
        "apiCalls": 2,
        "policyViolations": 1,
        "numAlerts": 1,
        "numBlocks": 0,
        "numSeverityLow": 0,
        "numSeverityMedium": 1,
        "numSeverityHigh": 0,
        "latency_ms": 700,
        "llmType": "OPENAI",
        "llmModel": "gpt-4o",
        "host": "gw-1",
        "userUuid": "user-1",
        "conversationUuid": "conv-1",
    }
    base.update(fields)
    return base


def parse(*rows: object) -> Any:
    return parse_aistats_response(json.loads(json.dumps({"success": True, "data": list(rows)})))


# ---------------------------------------------------------------------------- query


def test_query_follows_the_official_client_order_iso_dates_and_comma_lists() -> None:
    q = AiStatsQuery(
        start=T0,
        end=T0 + 90.5,
        ai_llm_ids=["llm-a", "llm-b"],
        hosts=["gw-1"],
        llm_models=["gpt-4o"],
        repo_ids=["r"],
    )
    params = q.params()
    assert list(params) == ["startDate", "endDate", "repoId", "aiLlmId", "hosts", "llmModel"]
    assert params["startDate"] == "2026-05-05T10:00:00.000Z"
    assert params["endDate"] == "2026-05-05T10:01:30.500Z"
    assert params["aiLlmId"] == "llm-a,llm-b"


def test_query_never_sends_an_empty_list_or_an_empty_value() -> None:
    """An empty `aiLlmId=` could mean "the configuration whose id is empty": nothing."""
    assert AiStatsQuery().params() == {}
    assert "aiLlmId" not in AiStatsQuery(ai_llm_ids=[]).params()
    assert "aiLlmId" not in AiStatsQuery(ai_llm_ids=["", "  "]).params()
    assert AiStatsQuery(ai_llm_ids=["a", "", "a", "b"]).params() == {"aiLlmId": "a,b"}


def test_query_refuses_what_it_cannot_express() -> None:
    with pytest.raises(ValueError, match="comma"):
        AiStatsQuery(ai_llm_ids=["a,b"])
    with pytest.raises(ValueError, match="after"):
        AiStatsQuery(start=T0 + 1, end=T0)
    for bad in (float("nan"), float("inf"), -1.0, 1e12):
        with pytest.raises(ValueError, match="between"):
            AiStatsQuery(start=bad)
    with pytest.raises(ValueError, match="one string"):
        AiStatsQuery(ai_llm_ids="llm-a")


def test_a_long_id_list_is_flagged_for_local_filtering() -> None:
    ids = [f"{i:036d}" for i in range(200)]
    assert AiStatsQuery(ai_llm_ids=ids).ids_too_long()
    assert not AiStatsQuery(ai_llm_ids=ids[:10]).ids_too_long()


# ---------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("123", 123),
        (123, 123),
        (FORTY, int(FORTY)),
        (1.0e3, 1000),
        ("0", 0),
        (" 7 ", 7),
        (1.5, None),
        (-1, None),
        ("-1", None),
        ("1e3", None),
        ("١٢", None),  # Arabic-Indic digits are not ASCII digits
        (True, None),
        (None, None),
        ("", None),
        (float("inf"), None),
        ([], None),
    ],
)
def test_counts_are_exact_or_nothing(value: object, expected: int | None) -> None:
    assert parse_count(value) == expected


def test_forty_digit_tokens_stay_exact_as_strings_and_as_json_numbers() -> None:
    body = '{"success":true,"data":[%s]}'
    text = json.dumps(row(tokensIn=FORTY))
    number = text.replace(f'"{FORTY}"', FORTY)  # a bare 40-digit JSON number
    assert FORTY in number and f'"{FORTY}"' not in number
    for raw in (text, number):
        page = parse_aistats_response(json.loads(body % raw))
        assert page.rows[0].get("tokensIn") == int(FORTY)
        assert page.invalid_cells == 0


@pytest.mark.parametrize(
    "stamp", [T0, T0 * 1000, T0 * 1_000_000, str(T0 * 1000), "2026-05-05T10:00:00.000Z", T0 + 0.0]
)
def test_timestamp_unit_is_decided_by_magnitude(stamp: object) -> None:
    assert parse_timestamp(stamp) == T0


@pytest.mark.parametrize("stamp", [None, 0, -5, True, "soon", float("nan"), [T0]])
def test_unreadable_timestamps_are_none(stamp: object) -> None:
    assert parse_timestamp(stamp) is None


def test_seconds_and_milliseconds_rows_land_in_the_same_bucket() -> None:
    page = parse(row(timestamp=T0), row(timestamp=T0 * 1000, conversationUuid="c2"))
    groups = group_rows(page.rows)
    assert list(groups) == [GroupKey(T0, "llm-a")]
    assert groups[GroupKey(T0, "llm-a")].get("tokensIn") == 200


def test_missing_and_invalid_cells_are_unknown_not_zero() -> None:
    bad = row(tokensOut="12.5", apiCalls=None)
    del bad["numAlerts"]
    page = parse(bad)
    (r,) = page.rows
    assert r.get("tokensOut") is None and r.get("apiCalls") is None and r.get("numAlerts") is None
    assert r.get("tokensIn") == 100
    assert page.invalid_cells == 1 and page.missing_cells == 2
    totals = group_rows(page.rows)[GroupKey(T0, "llm-a")]
    assert totals.incomplete == {"tokensOut", "apiCalls", "numAlerts"}
    assert totals.mean_latency_ms is None  # no calls known: no latency weight


def test_unusable_items_are_skipped_and_counted() -> None:
    page = parse(
        row(aiLlmId=""),
        row(aiLlmId=None),
        row(timestamp="never"),
        "not an object",
        None,
        row(),
    )
    assert page.skipped == 5 and len(page.rows) == 1


def test_duplicates_are_dropped_only_when_their_whole_identity_repeats() -> None:
    # Same bucket, config, model and host but another conversation: a second slice.
    page = parse(row(), row(conversationUuid="conv-2"), row(), row(timestamp=T0))
    assert len(page.rows) == 2 and page.duplicates == 2
    # Without a full identity two rows may well be distinct: both kept.
    partial = row()
    del partial["userUuid"]
    page = parse(partial, partial)
    assert len(page.rows) == 2 and page.duplicates == 0


def test_hostile_model_and_host_names_are_kept_as_plain_data() -> None:
    page = parse(row(llmModel=HOSTILE, host=HOSTILE + "\n"))
    (r,) = page.rows
    assert r.model == HOSTILE and r.host == HOSTILE + "\n"
    item = breakdown(page.rows, "model").items[0]
    assert item.name == HOSTILE


def test_non_text_names_become_empty() -> None:
    (r,) = parse(row(llmModel=5, host=None, llmType=["x"])).rows
    assert (r.model, r.host, r.llm_type) == ("", "", "")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"success": False, "message": "nope \x1b[2J"}, UnsuccessfulError),
        ({"success": True}, BadResponseError),
        ({"success": True, "data": {"a": 1}}, BadResponseError),
        ([], BadResponseError),
    ],
)
def test_envelope_errors_are_typed(body: object, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        parse_aistats_response(body)
    assert "\x1b" not in str(info.value)


# ---------------------------------------------------------------------------- grouping


def random_rows(seed: int, n: int = 400) -> list[AiStatsRow]:
    rng = random.Random(seed)
    items = []
    for i in range(n):
        items.append(
            row(
                timestamp=(T0 + rng.randrange(0, 600)) * 1000,
                aiLlmId=rng.choice(["a", "b", "c"]),
                llmModel=rng.choice(["m1", "m2", ""]),
                host=rng.choice(["h1", "h2"]),
                tokensIn=str(rng.randrange(10**30)),
                tokensOut=rng.randrange(10**6),
                apiCalls=rng.randrange(0, 20),
                latency_ms=rng.choice([rng.uniform(50, 5000), None]),
                numSeverityHigh=rng.randrange(3),
                conversationUuid=f"c{i}",
            )
        )
    page = parse(*items)
    assert len(page.rows) == n
    return list(page.rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("by_model", "by_host"), [(False, False), (True, False), (True, True)])
def test_grouping_and_weighted_latency_match_a_plain_reference(
    seed: int, by_model: bool, by_host: bool
) -> None:
    rows = random_rows(seed)
    got = group_rows(rows, by_model=by_model, by_host=by_host)
    ref: dict[tuple[Any, ...], list[AiStatsRow]] = defaultdict(list)
    for r in rows:
        key = (r.at - r.at % 60, r.ai_llm_id, r.model if by_model else None)
        ref[(*key, r.host if by_host else None)].append(r)
    assert set(got) == {GroupKey(*k) for k in ref}
    for key, members in ref.items():
        totals = got[GroupKey(*key)]
        for name in SUM_FIELDS:
            assert totals.get(name) == sum(m.get(name) or 0 for m in members), name
        weighted = [(m.latency_ms, m.get("apiCalls")) for m in members if m.latency_ms is not None]
        calls = sum(c or 0 for _, c in weighted)
        if calls == 0:
            assert totals.mean_latency_ms is None
        else:
            exact = sum(Fraction(lat) * (c or 0) for lat, c in weighted) / calls
            assert totals.mean_latency_ms == pytest.approx(float(exact), rel=1e-12)
        assert totals.rows == len(members)


def test_latency_is_weighted_by_calls_not_averaged_per_row() -> None:
    page = parse(
        row(apiCalls=99, latency_ms=100),
        row(apiCalls=1, latency_ms=10_000, conversationUuid="c2"),
        row(apiCalls=0, latency_ms=60_000, conversationUuid="c3"),  # no calls: no weight
    )
    totals = group_rows(page.rows)[GroupKey(T0, "llm-a")]
    assert totals.mean_latency_ms == pytest.approx(199.0)


def test_series_by_config_is_in_time_order_per_configuration() -> None:
    page = parse(
        row(timestamp=(T0 + 120) * 1000),
        row(timestamp=T0 * 1000 + 30_000),  # inside the first minute
        row(timestamp=T0 * 1000, conversationUuid="c2", aiLlmId="llm-b"),
    )
    series = series_by_config(page.rows)
    assert [at for at, _ in series["llm-a"]] == [T0, T0 + 120]
    assert [at for at, _ in series["llm-b"]] == [T0]
    assert series["llm-a"][0][1].stats_counters()["totalTokensIn"] == 100


# ---------------------------------------------------------------------------- breakdown


def test_breakdown_by_model_sums_shares_and_severities() -> None:
    page = parse(
        row(llmModel="big", tokensIn="900", tokensOut="100", apiCalls=3, numSeverityHigh=2),
        row(llmModel="big", aiLlmId="llm-b", conversationUuid="c2", latency_ms=1300),
        row(llmModel="small", conversationUuid="c3", tokensIn="40", tokensOut="10", apiCalls=5),
    )
    result = breakdown(page.rows, Dimension.MODEL)
    assert [i.name for i in result.items] == ["big", "small"]
    big, small = result.items
    assert big.totals.get("tokensIn") == 1000 and big.totals.get("tokensOut") == 150
    assert big.totals.get("apiCalls") == 5 and big.configs == 2
    assert big.totals.get("numSeverityHigh") == 2 and big.totals.get("numSeverityMedium") == 2
    assert big.mean_latency_ms == pytest.approx((700 * 3 + 1300 * 2) / 5)
    assert big.share == Fraction(1150, 1200) and small.share == Fraction(50, 1200)
    assert sum(i.share or 0 for i in result.items) == 1
    assert sum(i.calls_share or 0 for i in result.items) == 1
    assert result.total.get("apiCalls") == 10


def test_breakdown_by_host_keeps_the_window_and_the_configurations_asked_for() -> None:
    page = parse(
        row(host="h1"),
        row(host="h2", timestamp=(T0 + 60) * 1000),
        row(host="h2", timestamp=(T0 + 120) * 1000),
        row(host="h1", aiLlmId="other", conversationUuid="c2"),
    )
    result = breakdown(page.rows, "host", since=T0 + 60, until=T0 + 60, ai_llm_ids={"llm-a"})
    assert [(i.name, i.totals.rows) for i in result.items] == [("h2", 1)]
    assert breakdown([], "host").items == ()
    assert breakdown([], "host").items == () and breakdown([], "model").total.tokens == 0
    with pytest.raises(ValueError):
        breakdown(page.rows, "region")


def test_stats_values_follow_the_counter_order_and_mark_what_is_incomplete() -> None:
    from tui.counters import COUNTERS

    page = parse(row(), row(conversationUuid="c2", tokensOut=None))
    totals = group_rows(page.rows)[GroupKey(T0, "llm-a")]
    values = dict(zip(COUNTERS, totals.stats_values(), strict=True))
    assert values["totalApiCalls"] == 4 and values["totalTokensIn"] == 200
    assert values["totalTokensOut"] is None  # one row left it out
    assert values["totalLlmTokensOut"] == 98 and values["totalBlocks"] == 0
