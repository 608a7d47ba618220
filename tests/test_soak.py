"""Long runs: tens of thousands of polls against a flapping server leak nothing.

The soak runs the real poller, client and history against the real demo server on
127.0.0.1, whose "flap" fault fails every other request. Time is simulated: the
shared fake clock moves 5 s per poll (so 20,000 polls are about 28 hours of
counters and ~28 token refreshes), while the interval and the backoff are zero so
that the polls run back to back. Memory (RSS), open file descriptors, threads and
asyncio tasks are measured after 5,000 and after 20,000 polls: they must not grow.
Then quitting (cancel the loop, close the client) must take under a second, leaving
no task and no thread behind. The app-level tests do the same through Pilot.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections import Counter
from typing import Any

import pytest
from fault_helpers import open_fds, rss_kib
from textual.worker import WorkerState
from ui_helpers import FakeClock, has_data, make_harness, wait_for

import tui.poller
from tui.client import FlashbackClient
from tui.demo_server import DemoServer
from tui.history import DEFAULT_MAXLEN, History
from tui.models import StatsPage
from tui.poller import ConnState, Poller, PollStatus
from tui.tokens import AuthSession, TokenSet

SOAK_POLLS = 20_000
CHECKPOINT = 5_000


def _wait_for_threads(baseline: set[threading.Thread], timeout: float = 3.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        extra = [t.name for t in threading.enumerate() if t not in baseline and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.02)


def test_20000_polls_against_a_flapping_server_leak_no_memory_fds_tasks_or_threads(
    monkeypatch: pytest.MonkeyPatch, record_property: Any
) -> None:
    monkeypatch.setattr(tui.poller, "MIN_INTERVAL", 0.0)  # polls back to back
    baseline_threads = set(threading.enumerate())
    clock = FakeClock()
    server = DemoServer(clock=clock).start()
    server.set_fault("flap")
    access, refresh = server.issue_tokens()
    session = AuthSession(
        TokenSet(access, refresh, expires_at=clock.now + 3600, obtained_at=clock.now),
        source="test",
        clock=clock,
    )
    marks: dict[int, tuple[int, int, int, int]] = {}
    states: Counter[ConnState] = Counter()
    problems: list[str] = []
    result: dict[str, float] = {}

    async def main() -> None:
        client = FlashbackClient(server.base_url, session)
        history = History()
        shown: dict[str, tuple[int | None, ...]] = {}
        polls = 0
        done = asyncio.Event()

        async def fetch() -> StatsPage:
            nonlocal polls
            polls += 1
            clock.now += 5
            if polls % 1000 == 0:
                server.clear_requests()  # the test server's own log, not flashtop's memory
            if polls in (CHECKPOINT, SOAK_POLLS):
                gc.collect()
                tasks = len(asyncio.all_tasks())
                marks[polls] = (rss_kib(), open_fds(), threading.active_count(), tasks)
            if polls >= SOAK_POLLS:
                done.set()
            return await client.get_stats()

        def on_result(page: StatsPage, at: float) -> None:
            history.record(page.stats, at)
            shown.clear()
            shown.update((s.ai_llm_id, s.values) for s in page.stats)

        def on_status(status: PollStatus) -> None:
            if not status.in_flight:
                states[status.state] += 1
                if status.failures > 1:
                    problems.append(f"{status.failures} failures in a row")
                if status.polls > 1 and len(shown) != 12:
                    problems.append(f"{len(shown)} rows on screen")  # never cleared

        poller: Poller[StatsPage] = Poller(
            fetch, interval=0.0, on_result=on_result, on_status=on_status,
            rng=lambda: 0.0, backoff_cap=0.0, clock=clock,
        )  # fmt: skip
        started = time.monotonic()
        task = asyncio.create_task(poller.run())
        waiter = asyncio.create_task(done.wait())
        await asyncio.wait({task, waiter}, timeout=240, return_when=asyncio.FIRST_COMPLETED)
        assert done.is_set() and not task.done(), f"the poll loop stopped: {task!r}"
        result["seconds"] = time.monotonic() - started
        quit_started = time.monotonic()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.aclose()
        result["quit"] = time.monotonic() - quit_started
        assert task.cancelled()
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
        for ident in shown:
            series = history.get(ident)
            assert series is not None and len(series) == DEFAULT_MAXLEN  # bounded
        assert poller.status.polls >= SOAK_POLLS // 2 - 1

    try:
        asyncio.run(main())
    finally:
        server.stop()
    rss5, fds5, threads5, tasks5 = marks[CHECKPOINT]
    rss20, fds20, threads20, tasks20 = marks[SOAK_POLLS]
    rate = SOAK_POLLS / result["seconds"]
    for name, value in (
        ("polls_per_second", round(rate)),
        ("rss_kib_at_5k", rss5),
        ("rss_kib_at_20k", rss20),
        ("fds_at_5k", fds5),
        ("fds_at_20k", fds20),
        ("quit_seconds", round(result["quit"], 4)),
    ):
        record_property(name, value)
    print(
        f"\nsoak: {SOAK_POLLS} polls in {result['seconds']:.1f} s ({rate:.0f}/s); "
        f"RSS {rss5} -> {rss20} KiB; fds {fds5} -> {fds20}; threads {threads5} -> "
        f"{threads20}; tasks {tasks5} -> {tasks20}; quit {result['quit'] * 1000:.1f} ms"
    )
    assert problems == []
    assert rss20 - rss5 < 3 * 1024, f"RSS grew by {rss20 - rss5} KiB over 15,000 polls"
    assert fds20 <= fds5 + 1 and threads20 <= threads5 + 1 and tasks20 <= tasks5
    assert states[ConnState.LIVE] >= SOAK_POLLS // 2 - 1
    assert states[ConnState.RETRYING] >= SOAK_POLLS // 2 - 1
    assert session.refresh_count >= 25 and session.login_needed is None
    assert result["quit"] < 1.0
    assert _wait_for_threads(baseline_threads) == []


async def test_app_soak_of_1000_flapping_polls_leaks_no_fds_workers_or_tasks() -> None:
    h = make_harness()
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            app = h.app
            await wait_for(pilot, lambda: has_data(h), message="first poll")
            inner = app.monitor.poller._fetch

            async def fetch() -> StatsPage:
                h.clock.now += 5  # new counters every poll, so cells really change
                return await inner()

            app.monitor.poller._fetch = fetch
            app.monitor.poller._backoff_cap = 0.0
            app.monitor.poller._interval = 0.0
            app.monitor.poller.min_gap = 0.0
            h.server.set_fault("flap")
            rows = len(app.overview.rows)

            async def run_polls(n: int) -> tuple[int, int, int, int]:
                target = app.monitor.poller.status.polls + n // 2
                app.monitor.poll_now()
                await wait_for(
                    pilot,
                    lambda: app.monitor.poller.status.polls >= target,
                    timeout=60,
                    message="polls",
                )
                assert len(app.overview.rows) == rows
                gc.collect()
                return rss_kib(), open_fds(), len(asyncio.all_tasks()), len(app.workers)

            first = await run_polls(200)
            started = time.monotonic()
            second = await run_polls(1000)
            rate = 1000 / (time.monotonic() - started)
            print(f"\napp soak: {rate:.0f} polls/s; (rss, fds, tasks, workers) {first} -> {second}")
            assert second[1] <= first[1] + 1, "open file descriptors grew"
            assert second[2] <= first[2] + 1, "asyncio tasks grew"
            assert second[3] <= first[3], "Textual workers piled up"
            assert second[0] - first[0] < 8 * 1024, "RSS grew by more than 8 MiB"
            assert app.monitor.poller.status.state in (ConnState.LIVE, ConnState.RETRYING)
            app.monitor.poller._interval = 60.0
            h.server.set_fault(None)
    finally:
        h.server.stop()


async def test_quitting_while_a_request_hangs_takes_under_a_second() -> None:
    h = make_harness()
    try:
        async with h.app.run_test() as pilot:
            app = h.app
            await wait_for(pilot, lambda: has_data(h), message="first poll")
            h.server.set_fault("slow", delay=30.0)  # the server holds the next request
            app.monitor.poll_now()
            await wait_for(pilot, lambda: app.monitor.poller.status.in_flight, message="in flight")
            await pilot.pause(0.2)
            assert app.monitor.poller.status.in_flight
            started = time.monotonic()
            await pilot.press("q")
        elapsed = time.monotonic() - started
        worker = app._poll_worker
        assert worker is not None and worker.state is WorkerState.CANCELLED
        assert app.monitor.client._http.is_closed
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
        # The server holds the request for 30 s: quitting must not wait for it.
        assert elapsed < 10.0, f"quitting took {elapsed:.2f} s"
    finally:
        h.server.stop()
