"""/aistats/minute and /daily end to end: FlashbackClient over real HTTP to the demo.

The demo's rows come from the same simulation as its /ai/llm/stats totals, so the rows
of a span add up exactly to the growth of the totals over that span: that is what
makes the demo a fair stand-in for checking a breakdown or a backfill.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tui.aistats import SUM_FIELDS, AiStatsQuery, breakdown, group_rows
from tui.client import FlashbackClient
from tui.demo_server import HISTORY, MAX_AISTATS_CELLS, DemoServer
from tui.errors import ApiError, NotFoundError, ServerError, UnsuccessfulError
from tui.models import COUNTERS
from tui.tokens import AuthSession, TokenSet

START = 1_750_000_020.0  # the demo starts here (a whole minute)
MINUTE = "/aistats/minute"


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def server(clock: FakeClock) -> Iterator[DemoServer]:
    with DemoServer(clock=clock, token_lifetime=10**9) as srv:
        yield srv


@pytest.fixture
async def client(server: DemoServer) -> AsyncIterator[FlashbackClient]:
    access, refresh = server.issue_tokens()
    session = AuthSession(TokenSet(access, refresh), source="test")
    async with FlashbackClient(server.base_url, session) as c:
        yield c


def name_of(server: DemoServer, name: str) -> str:
    return next(llm["id"] for llm in server.llms if llm["name"] == name)


async def totals(client: FlashbackClient) -> dict[str, dict[str, int]]:
    page = await client.get_stats()
    return {s.ai_llm_id: dict(zip(COUNTERS, s.values, strict=True)) for s in page.stats}  # type: ignore[misc]


async def test_minute_rows_sum_to_the_growth_of_the_polled_totals(
    server: DemoServer, client: FlashbackClient, clock: FakeClock
) -> None:
    """Poll /ai/llm/stats at A and B, read /aistats/minute for [A, B): per
    configuration every counter's growth equals the sum of its rows, exactly."""
    a, b = START + 600, START + 600 + 47 * 60
    clock.now = a
    before = await totals(client)
    clock.now = b
    after = await totals(client)
    page = await client.get_aistats_minute(AiStatsQuery(start=a, end=b - 1))
    assert page.skipped == page.duplicates == page.invalid_cells == page.missing_cells == 0
    sums = {k.ai_llm_id: t for k, t in group_rows(page.rows, bucket=10**12).items()}
    grown = 0
    for llm_id, end in after.items():
        growth = {c: end[c] - before[llm_id][c] for c in COUNTERS}
        got = sums[llm_id].stats_counters() if llm_id in sums else dict.fromkeys(COUNTERS, 0)
        assert got == growth, llm_id
        grown += any(growth.values())
    assert grown >= 6  # most configurations had traffic


async def test_every_configuration_has_two_or_three_models_and_hosts_and_sane_rows(
    server: DemoServer, client: FlashbackClient, clock: FakeClock
) -> None:
    clock.now = START + 3600
    page = await client.get_aistats_minute(AiStatsQuery(start=START, end=clock.now))
    models: dict[str, set[str]] = {}
    hosts: dict[str, set[str]] = {}
    types = {llm["id"]: llm["aiType"] for llm in server.llms}
    for r in page.rows:
        models.setdefault(r.ai_llm_id, set()).add(r.model)
        hosts.setdefault(r.ai_llm_id, set()).add(r.host)
        assert r.at % 60 == 0 and START <= r.at <= clock.now
        assert r.llm_type == types[r.ai_llm_id]
        assert r.latency_ms is not None and 150 <= r.latency_ms <= 12_000
        severities = sum(r.get(f) or 0 for f in SUM_FIELDS if f.startswith("numSeverity"))
        assert severities == r.get("policyViolations")
        assert r.repo_id and r.repo_ai_api_key_id and r.user_uuid and r.conversation_uuid
    busy = [i for i in models if len(page.rows) and i in hosts]
    assert len(busy) >= 6
    for llm_id in busy:
        assert 2 <= len(models[llm_id]) <= 3, models[llm_id]
        assert 2 <= len(hosts[llm_id]) <= 3, hosts[llm_id]
    support = breakdown(page.rows, "model", ai_llm_ids={name_of(server, "support-bot")})
    assert len(support.items) >= 2 and support.total.mean_latency_ms is not None
    assert 200 < support.total.mean_latency_ms < 5000


async def test_history_reaches_back_hours_before_the_demo_started(
    server: DemoServer, client: FlashbackClient, clock: FakeClock
) -> None:
    clock.now = START + 30
    start = START - HISTORY - 3600
    page = await client.get_aistats_minute(AiStatsQuery(start=start, end=clock.now))
    stamps = sorted({r.at for r in page.rows})
    assert stamps[0] >= START - HISTORY - 60  # nothing before the simulation began
    assert stamps[0] <= START - HISTORY + 300  # ... but hours of it since
    assert len(stamps) >= HISTORY // 60
    # The earlier past sums to the growth of the server's totals too.
    a, b = START - 4 * 3600, START - 3600
    rows = [r for r in page.rows if a <= r.at < b]
    sums = {k.ai_llm_id: t for k, t in group_rows(rows, bucket=10**12).items()}
    ta, tb = server.totals_at(a), server.totals_at(b)
    for llm_id, t in sums.items():
        assert t.stats_counters() == {c: tb[llm_id][c] - ta[llm_id][c] for c in COUNTERS}


async def test_daily_rows_sum_to_the_days_growth(
    server: DemoServer, client: FlashbackClient, clock: FakeClock
) -> None:
    clock.now = START + 2 * 86400 + 3600
    day = (START + 86400) // 86400 * 86400  # a whole day inside the run
    page = await client.get_aistats_daily(AiStatsQuery(start=day, end=day + 1))
    assert {r.at for r in page.rows} == {day}
    sums = {k.ai_llm_id: t for k, t in group_rows(page.rows, bucket=86400).items()}
    ta, tb = server.totals_at(day), server.totals_at(day + 86400)
    assert sums
    for llm_id, t in sums.items():
        assert t.stats_counters() == {c: tb[llm_id][c] - ta[llm_id][c] for c in COUNTERS}


@pytest.mark.parametrize(("stamps", "tokens"), [("s", "number"), ("ms", "number"), ("s", "string")])
async def test_seconds_and_numeric_tokens_parse_to_the_same_rows(
    clock: FakeClock, stamps: str, tokens: str
) -> None:
    clock.now = START + 1800
    pages = []
    for options in ({}, {"aistats_timestamps": stamps, "aistats_tokens": tokens}):
        with DemoServer(clock=clock, **options) as srv:  # type: ignore[arg-type]
            access, _ = srv.issue_tokens()
            async with FlashbackClient(
                srv.base_url, AuthSession(TokenSet(access), source="t")
            ) as c:
                pages.append(await c.get_aistats_minute(AiStatsQuery(start=START, end=clock.now)))
    assert pages[0].rows and pages[0].rows == pages[1].rows


async def test_filters_go_out_as_comma_lists_and_are_honoured(
    server: DemoServer, client: FlashbackClient, clock: FakeClock
) -> None:
    clock.now = START + 900
    ids = [name_of(server, "support-bot"), name_of(server, "code-review")]
    page = await client.get_aistats_minute(AiStatsQuery(start=START, end=clock.now, ai_llm_ids=ids))
    assert {r.ai_llm_id for r in page.rows} == set(ids)
    assert server.requests[-1].query["aiLlmId"] == ",".join(ids)
    model = page.rows[0].model
    host = next(r.host for r in page.rows if r.model == model)
    query = AiStatsQuery(start=START, end=clock.now, llm_models=[model], hosts=[host])
    rows = (await client.get_aistats_minute(query)).rows
    assert rows and {(r.model, r.host) for r in rows} == {(model, host)}


async def test_an_empty_id_is_never_sent(
    server: DemoServer, client: FlashbackClient, clock: FakeClock
) -> None:
    """The demo, like a literal server, reads `aiLlmId=` as "the empty id": no rows."""
    clock.now = START + 600
    page = await client.get_aistats_minute(
        AiStatsQuery(start=START, end=clock.now, ai_llm_ids=[""])
    )
    assert page.rows  # every configuration, not none
    assert "aiLlmId" not in server.requests[-1].query
    raw = await client.request("GET", "aistats/minute", params={"aiLlmId": ""})
    assert isinstance(raw, dict) and raw["data"] == []


async def test_too_many_ids_for_a_url_are_filtered_here(
    server: DemoServer, client: FlashbackClient, clock: FakeClock
) -> None:
    clock.now = START + 300
    ids = [name_of(server, "support-bot"), *(f"{i:036d}" for i in range(300))]
    page = await client.get_aistats_minute(AiStatsQuery(start=START, end=clock.now, ai_llm_ids=ids))
    assert "aiLlmId" not in server.requests[-1].query
    assert page.rows and {r.ai_llm_id for r in page.rows} == {ids[0]}


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("server_error", ServerError),
        ("not_found", NotFoundError),
        ("unsuccessful", UnsuccessfulError),
        ("wrong_shape", ApiError),
        ("malformed", ApiError),
    ],
)
async def test_fault_switches_apply_to_aistats(
    server: DemoServer, client: FlashbackClient, fault: str, error: type[Exception]
) -> None:
    server.set_fault(fault, count=1, paths=(MINUTE, "/aistats/daily"))
    with pytest.raises(error):
        await client.get_aistats_minute(AiStatsQuery(start=START - 600, end=START))
    page = await client.get_aistats_minute(AiStatsQuery(start=START - 600, end=START))
    assert page.rows


async def test_an_expired_token_is_refreshed_like_for_stats(
    server: DemoServer, client: FlashbackClient
) -> None:
    server.expire_all_access_tokens()
    page = await client.get_aistats_minute(AiStatsQuery(start=START - 600, end=START))
    assert page.rows and client.session.refresh_count == 1
    statuses = [(r.path, r.status) for r in server.requests]
    assert statuses == [(MINUTE, 401), ("/user/refresh", 200), (MINUTE, 200)]
    assert server.requests[
        1
    ].bearer  # the stale access token went along, as the official client does


async def test_a_range_too_large_is_refused_with_the_servers_message(
    server: DemoServer, client: FlashbackClient
) -> None:
    span = MAX_AISTATS_CELLS // 12 * 60 + 3600
    with pytest.raises(ApiError, match="too large"):
        await client.get_aistats_minute(AiStatsQuery(start=START - span, end=START))


async def test_hostile_rows_come_back_as_plain_data(clock: FakeClock) -> None:
    evil = "\x1b]52;c;aGk=\x07gpt\x1b[2J"
    extra: list[Any] = [
        {"timestamp": int(START * 1000), "aiLlmId": "x", "llmModel": evil, "host": evil,
         "tokensIn": "1", "tokensOut": "2", "apiCalls": 1, "latency_ms": 5},
        "junk",
    ]  # fmt: skip
    with DemoServer(clock=clock, extra_aistats=extra) as srv:
        access, _ = srv.issue_tokens()
        async with FlashbackClient(srv.base_url, AuthSession(TokenSet(access), source="t")) as c:
            page = await c.get_aistats_minute(AiStatsQuery(start=START, end=START))
    assert page.skipped == 1
    (r,) = [r for r in page.rows if r.ai_llm_id == "x"]
    assert r.model == evil and r.host == evil and r.get("tokensOut") == 2


async def test_repository_filter_uses_the_repos_listed_by_ai_llm(
    server: DemoServer, client: FlashbackClient, clock: FakeClock
) -> None:
    """repoId is OR-ed with aiLlmId; the repo ids are the ones /ai/llm lists."""
    clock.now = START + 600
    llms = {c.id: c for c in await client.get_llms()}
    support = name_of(server, "support-bot")
    (repo,) = next(llm["repos"] for llm in server.llms if llm["id"] == support)
    other = name_of(server, "code-review")
    query = AiStatsQuery(start=START, end=clock.now, repo_ids=[repo["id"]], ai_llm_ids=[other])
    page = await client.get_aistats_minute(query)
    assert {r.ai_llm_id for r in page.rows} == {support, other}
    assert {r.repo_id for r in page.rows if r.ai_llm_id == support} == {repo["id"]}
    assert support in llms


async def test_without_dates_the_demo_answers_the_last_hour_or_week(
    server: DemoServer, client: FlashbackClient, clock: FakeClock
) -> None:
    clock.now = START + 3 * 86400
    minutes = {r.at for r in (await client.get_aistats_minute()).rows}
    assert minutes and min(minutes) >= clock.now - 3600 and max(minutes) <= clock.now
    days = {r.at for r in (await client.get_aistats_daily()).rows}
    assert 3 <= len(days) <= 8 and min(days) >= clock.now - 7 * 86400
    assert server.requests[-1].query == {}
