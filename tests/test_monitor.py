"""The monitor core without a screen: polls a real loopback server, returns PollUpdates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tui.counters import COUNTERS, IDX
from tui.demo import demo_backend
from tui.demo_server import DEMO_EMAIL, DEMO_PASSWORD, DemoServer
from tui.errors import AuthError
from tui.models import LlmStats, StatsPage
from tui.monitor import INTERVAL_STEPS, Monitor, PollUpdate
from tui.poller import ConnState
from tui.rules import default_rules
from tui.settings import Settings
from tui.tokens import AuthSession, TokenSet

START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def monitor_on_demo(**settings: object) -> AsyncIterator[tuple[Monitor, DemoServer, Clock]]:
    clock = Clock()
    server = DemoServer(clock=clock).start()
    access, refresh = server.issue_tokens()
    session = AuthSession(TokenSet(access, refresh, obtained_at=clock.now), source="test")
    monitor = Monitor(
        Settings(profile="t", base_url=server.base_url, **settings),  # type: ignore[arg-type]
        session,
        clock=clock,
    )
    try:
        yield monitor, server, clock
    finally:
        await monitor.aclose()
        server.stop()


def page_of(*stats: LlmStats) -> StatsPage:
    return StatsPage(tuple(stats))


def values(**changes: int) -> tuple[int | None, ...]:
    out = [100] * len(COUNTERS)
    for name, v in changes.items():
        out[IDX[name]] = v
    return tuple(out)


async def test_ingest_records_a_poll_and_returns_changes_and_rates() -> None:
    async with monitor_on_demo() as (monitor, _server, clock):
        first = await monitor.ingest(await monitor.fetch_overview(), clock.now)
        assert isinstance(first, PollUpdate) and first.at == START
        assert len(first.page.stats) == 12
        assert set(first.rates) == {s.ai_llm_id for s in first.page.stats}
        assert all(r is None for r in first.rates.values())  # one sample: no rate yet
        assert first.changes.changed == {} and first.alerts == [] and first.notes == []
        assert monitor.names and all(monitor.name_of(i) != i for i in monitor.names)

        clock.now += 60
        second = await monitor.ingest(await monitor.fetch_overview(), clock.now)
        moved = [i for i, r in second.rates.items() if r]
        assert moved and set(moved) <= set(second.changes.changed)
        ident = moved[0]
        series = monitor.history.get(ident)
        assert series is not None and len(series) == 2
        a, b = first.page.by_id()[ident], second.page.by_id()[ident]
        grown = sum(
            b.values[i] - a.values[i] for i in (IDX["totalTokensIn"], IDX["totalTokensOut"])
        )  # type: ignore[operator]
        assert second.rates[ident] == pytest.approx(grown)  # per minute, 60 s apart


async def test_event_increases_fire_the_default_rules_as_one_event_each() -> None:
    async with monitor_on_demo() as (monitor, _server, _clock):
        page = page_of(LlmStats("a", values()), LlmStats("b", values()))
        await monitor.ingest(page, 10.0, overview=True)
        update = await monitor.ingest(
            page_of(
                LlmStats("a", values(totalPolicyViolations=101, totalAlerts=103)),
                LlmStats("b", values(totalBlocks=101)),
            ),
            20.0,
            overview=True,
        )
        fired = {(e.rule, e.entity, e.state, e.value) for e in update.events}
        assert fired == {
            ("new violations", "a", "firing", 1.0),
            ("new alerts", "a", "firing", 3.0),
            ("new blocks", "b", "firing", 1.0),
        }
        by_title = {(a.title, a.message): a.severity for a in update.alerts}
        assert by_title[("b", "new blocks: 1 (above 0)")] == "error"
        assert by_title[("a", "new alerts: 3 (above 0)")] == "warning"
        assert list(monitor.alert_log)[-3:] == update.events
        # More of the same while firing: no new event (one toast, not one per poll).
        again = await monitor.ingest(
            page_of(LlmStats("a", values(totalPolicyViolations=102)), LlmStats("b", values())),
            30.0,
            overview=True,
        )
        assert not [e for e in again.events if e.state == "firing"]
        # A drill-down's poll evaluates no rules.
        one = await monitor.ingest(page_of(LlmStats("a", values(totalBlocks=500))), 35.0)
        assert one.events == []


async def test_a_counter_going_down_is_told_once_as_a_reset() -> None:
    async with monitor_on_demo() as (monitor, _server, _clock):
        await monitor.ingest(page_of(LlmStats("a", values())), 10.0)
        update = await monitor.ingest(page_of(LlmStats("a", values(totalTokensIn=5))), 20.0)
        [alert] = update.alerts
        assert alert.severity == "information" and "Tokens in" in alert.message
        again = await monitor.ingest(page_of(LlmStats("a", values(totalTokensIn=6))), 30.0)
        assert again.alerts == []


async def test_rate_thresholds_fire_once_per_crossing() -> None:
    limits = {"tokens_per_minute": 1000.0}
    rules = default_rules(thresholds=limits)  # what resolve() makes of [thresholds]
    async with monitor_on_demo(thresholds=limits, rules=rules) as (monitor, _s, _c):
        await monitor.ingest(page_of(LlmStats("a", values())), 0.0, overview=True)
        fast = await monitor.ingest(
            page_of(LlmStats("a", values(totalTokensIn=10_000))), 60.0, overview=True
        )
        assert [(e.rule, e.state) for e in fast.events] == [("tokens per minute", "firing")]
        assert [a.message for a in fast.alerts] == ["tokens per minute: 9.9k (above 1.0k)"]
        still = await monitor.ingest(
            page_of(LlmStats("a", values(totalTokensIn=20_000))), 120.0, overview=True
        )
        assert still.events == []


async def test_run_hands_each_poll_to_the_face_and_counts_it_once_shown() -> None:
    async with monitor_on_demo(interval=60.0) as (monitor, _server, _clock):
        seen: list[tuple[PollUpdate, int]] = []
        shown = asyncio.Event()

        async def face(update: PollUpdate) -> None:
            # While the face shows the poll, it is not counted yet.
            seen.append((update, monitor.poller.status.polls))
            shown.set()

        states: list[ConnState] = []
        monitor.on_update = face
        monitor.on_status = lambda status: states.append(status.state)
        task = asyncio.create_task(monitor.run())
        try:
            await asyncio.wait_for(shown.wait(), 10)
            for _ in range(100):
                if monitor.poller.status.polls == 1:
                    break
                await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        [(update, polls_then)] = seen
        assert polls_then == 0 and monitor.poller.status.polls == 1
        assert len(update.page.stats) == 12
        assert ConnState.LIVE in states


async def test_names_problems_reach_the_update_as_notes() -> None:
    async with monitor_on_demo() as (monitor, server, clock):
        server.set_fault("server_error", paths=("/ai/llm",))
        update = await monitor.ingest(await monitor.fetch_overview(), clock.now)
        assert len(update.page.stats) == 12  # the stats still flow
        [note] = update.notes
        assert note.startswith("names unavailable:")


async def test_step_interval_walks_the_steps_and_stops_at_the_ends() -> None:
    async with monitor_on_demo(interval=5.0) as (monitor, _server, _clock):
        assert monitor.step_interval(-1) == 3.0
        assert monitor.step_interval(+1) == 5.0
        for _ in INTERVAL_STEPS:
            monitor.step_interval(+1)
        assert monitor.poller.interval == 3600.0
        for _ in INTERVAL_STEPS:
            monitor.step_interval(-1)
        assert monitor.poller.interval == 1.0


class MemoryStore:
    def __init__(self) -> None:
        self.saved: list[TokenSet] = []

    def save(self, tokens: TokenSet) -> None:
        self.saved.append(tokens)


async def test_login_saves_the_tokens_and_replaces_the_session() -> None:
    with DemoServer() as server:
        store = MemoryStore()
        session = AuthSession(None, source="keyring")
        monitor = Monitor(Settings(base_url=server.base_url), session, token_store=store)
        try:
            assert monitor.login_reason() == "No saved login for profile 'default'."
            with pytest.raises(AuthError):
                await monitor.login(DEMO_EMAIL, "wrong")
            assert store.saved == [] and session.tokens is None
            await monitor.login(DEMO_EMAIL, DEMO_PASSWORD)
            assert len(store.saved) == 1 and session.tokens is store.saved[0]
            assert monitor.login_reason() is None
        finally:
            await monitor.aclose()


async def test_the_demo_helper_gives_a_logged_in_session_without_credentials() -> None:
    with demo_backend(Settings(profile="work")) as demo:
        assert demo.settings.demo and demo.settings.profile == "demo"
        assert demo.settings.base_url == demo.server.base_url
        monitor = Monitor(demo.settings, demo.session)
        try:
            page = await monitor.fetch_overview()
            assert len(page.stats) == 12
            assert demo.server.request_count("/user/login") == 0  # no password involved
        finally:
            await monitor.aclose()


async def test_increases_across_a_restart_gap_are_not_new_events() -> None:
    from tui.history import Sample

    async with monitor_on_demo() as (monitor, _server, _clock):
        # The history file's last sample, from before the restart.
        monitor.history.load({"a": [Sample(0.0, values())]})
        first = await monitor.ingest(
            page_of(LlmStats("a", values(totalBlocks=125))), 7200.0, overview=True
        )
        assert first.events == []  # 25 blocks some time in two hours: not "new"
        later = await monitor.ingest(
            page_of(LlmStats("a", values(totalBlocks=126))), 7210.0, overview=True
        )
        assert [(e.rule, e.value) for e in later.events] == [("new blocks", 1.0)]


async def test_no_data_fires_through_the_monitor_when_polls_fail() -> None:
    from tui.rules import Rule

    rule = Rule("down", "no_data", for_=0.0, notify=("toast",))
    async with monitor_on_demo(interval=1.0, rules=(rule,)) as (monitor, server, _clock):
        told: list[str] = []
        monitor.on_events = lambda events: told.extend(e.state for e in events)
        server.set_fault("server_error")
        task = asyncio.create_task(monitor.run())
        try:
            for _ in range(200):
                if told:
                    break
                await asyncio.sleep(0.05)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert told == ["firing"]
        assert monitor.rules.firing_count() == 1
        assert [e.rule for e in monitor.alert_log] == ["down"]


async def test_two_monitors_on_one_profile_tell_each_rule_event_once() -> None:
    """A daemon and a TUI on one profile: only the holder of the profile's rules lock
    sends webhooks (and logs in the shared file); the duty moves when it stops."""
    from tui.rules import Event

    event = Event("r", "a", "cfg", "firing", 1.0, 0.0, "blocks", 1.0, notify=("json://x/y",))
    async with (
        monitor_on_demo() as (first, _s1, _c1),
        monitor_on_demo() as (second, _s2, _c2),
    ):
        sent: dict[str, list[Event]] = {"first": [], "second": []}
        for name, monitor in (("first", first), ("second", second)):
            from tui.rules_lock import RulesLock
            from tui.store import store_path

            monitor.rules_lock = RulesLock(store_path("shared").with_suffix(".rules.lock"))
            monitor.notifier.send = sent[name].append  # type: ignore[method-assign,assignment]
        first.dispatch([event])
        second.dispatch([event])
        assert (len(sent["first"]), len(sent["second"])) == (1, 0)
        assert list(second.alert_log) == [event]  # its own screen still shows it
        assert first.rules_lock is not None
        first.rules_lock.release()  # the first one stops
        second.dispatch([event])
        assert len(sent["second"]) == 1


async def test_the_history_cap_is_told_once_in_the_notes_for_a_minute() -> None:
    from tui.store import StoreWriter

    async with monitor_on_demo() as (monitor, _server, clock):
        writer = StoreWriter(None)
        monitor.history_writer = writer
        assert monitor.notes() == []
        note = "history reached its cap (500 MB): oldest samples pruned"
        writer._notice = note
        assert monitor.notes() == [note]
        clock.now += 59
        assert monitor.notes() == ["history reached its cap (500 MB): oldest samples pruned"]
        clock.now += 2
        assert monitor.notes() == []  # told once: not again while the cap keeps pruning
