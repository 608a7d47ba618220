"""The polling loop: never overlapping, pausable, no retry loop when login is needed."""

from __future__ import annotations

import asyncio

from tui.errors import LoginNeededError, ServerError
from tui.poller import MIN_GAP, ConnState, Poller, PollStatus


class Recorder:
    """A fake fetch that counts calls and can be told to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self.fail: Exception | None = None

    async def __call__(self) -> int:
        self.calls += 1
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await asyncio.sleep(0.01)
            if self.fail is not None:
                raise self.fail
            return self.calls
        finally:
            self.running -= 1


def make(
    fetch: Recorder, interval: float = 1.0, min_gap: float = 0.0
) -> tuple[Poller[int], list[PollStatus], list[int]]:
    """A poller on ``fetch``; without the 1 s floor between polls unless asked for."""
    statuses: list[PollStatus] = []
    results: list[int] = []
    poller: Poller[int] = Poller(
        fetch,
        interval=interval,
        on_result=lambda r, _at: results.append(r),
        on_status=statuses.append,
        rng=lambda: 0.0,
        min_gap=min_gap,
    )
    return poller, statuses, results


async def settle(seconds: float = 0.1) -> None:
    await asyncio.sleep(seconds)


async def test_poll_now_cuts_the_sleep_short_and_requests_never_overlap() -> None:
    fetch = Recorder()
    poller, _, results = make(fetch, interval=3600)
    task = asyncio.create_task(poller.run())
    await settle()
    assert fetch.calls == 1
    for _ in range(5):
        poller.poll_now()
        poller.poll_now()  # a double press must not start a second request in parallel
        await settle(0.05)
    task.cancel()
    assert fetch.max_running == 1
    assert 2 <= fetch.calls <= 7
    assert results == list(range(1, fetch.calls + 1))[: len(results)]


async def test_pause_stops_requests_and_r_polls_once_while_paused() -> None:
    fetch = Recorder()
    poller, statuses, _ = make(fetch, interval=1)
    poller.interval = 1.0
    task = asyncio.create_task(poller.run())
    await settle()
    poller.pause()
    before = fetch.calls
    await settle(1.3)
    assert fetch.calls == before
    assert poller.status.state is ConnState.PAUSED
    poller.poll_now()
    await settle()
    assert fetch.calls == before + 1
    assert poller.status.state is ConnState.PAUSED  # one poll, still paused
    poller.resume()
    await settle()
    assert poller.status.state is ConnState.LIVE
    task.cancel()
    assert any(s.state is ConnState.PAUSED for s in statuses)


async def test_login_needed_waits_for_a_new_login_instead_of_retrying() -> None:
    fetch = Recorder()
    fetch.fail = LoginNeededError("login needed: token refresh failed")
    poller, _, _ = make(fetch, interval=1)
    task = asyncio.create_task(poller.run())
    await settle(1.5)
    assert fetch.calls == 1
    assert poller.status.state is ConnState.LOGIN_NEEDED
    fetch.fail = None
    poller.poll_now()  # what a successful login does
    await settle()
    assert poller.status.state is ConnState.LIVE
    task.cancel()


async def test_failure_keeps_last_success_time_and_reports_retrying() -> None:
    fetch = Recorder()
    poller, _, results = make(fetch, interval=3600)
    task = asyncio.create_task(poller.run())
    await settle()
    ok_at = poller.status.last_ok
    fetch.fail = ServerError("server error: HTTP 500")
    poller.poll_now()
    await settle()
    assert poller.status.state is ConnState.RETRYING
    assert poller.status.last_ok == ok_at
    assert poller.status.last_error == "server error: HTTP 500"
    assert poller.status.failures == 1
    assert results == [1]
    task.cancel()


async def test_interval_is_clamped_to_one_second_and_one_hour() -> None:
    poller, _, _ = make(Recorder())
    poller.interval = 0.1
    assert poller.interval == 1.0
    poller.interval = 10_000
    assert poller.interval == 3600.0


async def test_a_poll_counts_once_shown_and_a_failure_to_show_it_is_survived() -> None:
    fetch = Recorder()
    shown: list[int] = []
    statuses: list[PollStatus] = []

    async def show(result: int, _at: float) -> None:
        await asyncio.sleep(0.02)  # shown in parts, with pauses between
        if result == 2:
            raise KeyError("a bug while showing one poll")
        shown.append(result)

    poller: Poller[int] = Poller(
        fetch,
        interval=3600,
        on_result=show,
        on_status=statuses.append,
        rng=lambda: 0.0,
        min_gap=0.0,
    )
    task = asyncio.create_task(poller.run())
    await settle()
    # The poll counts only once it is on screen.
    assert shown == [1] and poller.status.polls == 1
    assert [s.polls for s in statuses if not s.in_flight][-1] == 1
    poller.poll_now()
    await settle()
    assert shown == [1] and poller.status.polls == 2
    assert poller.status.last_error == "internal error showing data (KeyError)"
    assert poller.status.state is ConnState.LIVE
    poller.poll_now()  # the loop survived: the next poll is shown, and the error cleared
    await settle()
    task.cancel()
    assert shown == [1, 3] and poller.status.last_error is None


async def test_r_held_down_polls_at_most_once_a_second_one_request_at_a_time() -> None:
    fetch = Recorder()
    poller, _, _ = make(fetch, interval=3600, min_gap=MIN_GAP)
    assert MIN_GAP == 1.0
    task = asyncio.create_task(poller.run())
    await settle()
    assert fetch.calls == 1
    started = asyncio.get_running_loop().time()
    # A key held down: 25 presses a second (terminal auto-repeat) for 1.5 s.
    while asyncio.get_running_loop().time() - started < 1.5:
        poller.poll_now()
        await asyncio.sleep(0.04)
    await settle(0.1)
    task.cancel()
    # The first press polls a second after the first poll, the presses meanwhile
    # coalesce, and so do those of the next second: 1 + 1 polls, never two at once.
    assert fetch.calls == 2, fetch.calls
    assert fetch.max_running == 1
    await asyncio.sleep(1.0)
    assert fetch.calls == 2  # nothing was queued up behind the coalesced presses
