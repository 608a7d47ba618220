"""The fault matrix: flashtop against a real server on 127.0.0.1 that misbehaves.

For every fault the real app, driven with Pilot, keeps running, keeps the last good
rows on screen with the status bar marked stale, shows a one-line reason, backs off
(the retry is always scheduled in the future, Retry-After is honoured), and returns to
live by itself once the server recovers, without a key being pressed.

In the app-level tests the backoff is shortened to 0.1 s (``fast_backoff``) so that a
fault episode takes a fraction of a second; the growth of the backoff itself is
tested at unit level, on :func:`backoff_delay` and on the :class:`Poller` running in
simulated time (``VirtualTimeLoop``), which is also how ten minutes of a flapping
server are covered.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import random
import re
import socket
import time
from collections.abc import Callable

import pytest
from fault_helpers import (
    STATS,
    Resolver,
    Seen,
    failing,
    fast_backoff,
    peak_rss_kib,
    record_statuses,
    reset_peak_rss,
    rows_of,
    rss_kib,
    run_virtual,
    stuck_listener,
    swap_client,
)
from textual.worker import WorkerState
from ui_helpers import Harness, advance, running, settle, wait_for

from tui.client import FlashbackClient, Timeouts
from tui.errors import ApiTimeoutError, BadResponseError, RateLimitedError, ServerError
from tui.models import StatsPage, parse_stats_response
from tui.poller import BACKOFF_BASE, BACKOFF_CAP, ConnState, Poller, PollStatus, backoff_delay
from tui.tokens import AuthSession, TokenSet

MIB = 1024 * 1024


# ---------------------------------------------------------------------------- the check


async def survives(
    h: Harness,
    provoke: Callable[[], object],
    reason: str,
    *,
    failures: int = 2,
    recover: Callable[[], object] | None = None,
    timeout: float = 10.0,
) -> list[Seen]:
    """Provoke a fault, then check what the screen showed until it was live again.

    Without ``recover`` the fault must clear by itself (``count=``); with it, the
    server is repaired after ``failures`` failed polls. Either way nothing is pressed:
    the app must come back on its own.
    """
    app, pilot = h.app, h.pilot
    assert pilot is not None
    fast_backoff(app)
    before = rows_of(app)
    assert before and app.monitor.poller.status.state is ConnState.LIVE
    ok_polls = app.monitor.poller.status.polls
    seen = record_statuses(app)
    provoke()
    app.monitor.poll_now()
    repaired_at = float("inf")
    if recover is not None:
        await wait_for(
            pilot, lambda: len(failing(seen)) >= failures, timeout, message="failed polls"
        )
        repaired_at = time.monotonic()
        result = recover()
        if asyncio.iscoroutine(result):
            await result
    status = app.monitor.poller
    await wait_for(
        pilot,
        lambda: status.status.state is ConnState.LIVE and status.status.polls > ok_polls,
        timeout,
        message="live again without a key press",
    )
    fails = [s for s in failing(seen) if s.at < repaired_at]
    assert len(fails) >= failures, [s.status for s in seen]
    assert [s.status.failures for s in fails] == list(range(1, len(fails) + 1))
    for s in fails:
        error = s.status.last_error
        assert error is not None and re.search(reason, error), error
        assert "\n" not in error and len(error) <= 200  # one line
        assert f"✗ {error[:120]}" in s.text, s.text  # shown in the status bar
        assert "retrying in" in s.text
        assert s.stale, "the data on screen is not marked stale"
        assert s.rows == before, "the last good rows changed or disappeared"
        assert s.status.retry_at is not None and s.status.retry_at - s.at > 0.05  # backs off
    # Live again, by itself.
    final = app.monitor.poller.status
    assert final.last_error is None and final.failures == 0
    text = str(app.overview.status_bar.content)
    assert "retrying" not in text and "✗" not in text
    assert not app.overview.status_bar.has_class("-stale")
    assert {i for i, _ in rows_of(app)} == {i for i, _ in before}
    assert app.is_running and app.screen is app.overview
    worker = app._poll_worker
    assert worker is not None and worker.state is WorkerState.RUNNING
    return seen


# ---------------------------------------------------------------------------- HTTP faults

CANNED = [
    ("forbidden", r"^insufficient permissions: Insufficient permissions"),
    ("not_found", r"^not found: /ai/llm/stats \(is the base URL http://127\.0\.0\.1:\d+ right\?\)"),
    ("rate_limit", r"^rate limited by the server$"),
    ("server_error", r"^server error: Failed to retrieve statistics$"),
    ("bad_gateway", r"^server error: HTTP 502 Bad Gateway$"),
    ("unavailable", r"^server error: HTTP 503 Service Unavailable$"),
    ("unsuccessful", r"^the server reported failure: Statistics temporarily unavailable$"),
    ("malformed", r"^the server sent a body that is not JSON \(HTTP 200, application/json\)$"),
    ("wrong_shape", r"^unexpected response: 'stats' is an object, not a list$"),
    ("truncated", r"^connection to 127\.0\.0\.1:\d+ closed before the response was complete$"),
    ("reset_mid", r"^connection to 127\.0\.0\.1:\d+ (was reset|closed before the response)"),
    ("huge", r"^response too large \(50 MiB; limit 32 MiB\)$"),
]


@pytest.mark.parametrize(("fault", "reason"), CANNED, ids=[c[0] for c in CANNED])
async def test_fault_keeps_last_rows_stale_with_reason_and_recovers_alone(
    fault: str, reason: str
) -> None:
    # A 404 on /ai/llm/stats alone is a production host, where the monitor shows the
    # last 24 h from /aistats (tests/test_windowed.py); on /aistats too, it is a wrong
    # base URL: an error like the others (each failed poll then asks both).
    paths = ("/ai/llm/stats", "/aistats/minute") if fault == "not_found" else ("/ai/llm/stats",)
    async with running() as h:
        requests = h.stats_requests()
        await survives(
            h, lambda: h.server.set_fault(fault, count=2 * len(paths), paths=paths), reason
        )
        # Two failures and one success: no request storm, no extra polls.
        assert h.stats_requests() - requests == 3


async def test_rate_limit_waits_at_least_retry_after_then_recovers() -> None:
    async with running() as h:
        seen = await survives(
            h,
            lambda: h.server.set_fault("rate_limit", count=1, retry_after=1),
            r"^rate limited by the server; retry after 1 s$",
            failures=1,
        )
        fail = failing(seen)[0]
        assert fail.status.retry_at is not None and fail.status.retry_at - fail.at >= 0.95
        retry = next(s for s in seen if s.at > fail.at and s.status.in_flight)
        assert retry.at - fail.at >= 0.95, "retried before the server's Retry-After"


async def test_huge_body_is_refused_by_the_cap_and_memory_stays_low() -> None:
    async with running() as h:
        gc.collect()
        assert reset_peak_rss(), "cannot reset VmHWM on this kernel"
        base = rss_kib()
        await survives(h, lambda: h.server.set_fault("huge", count=2), r"^response too large")
        growth = peak_rss_kib() - base
        # Two 50 MB answers were refused; reading either would have cost >= 50 MB.
        assert growth < 16 * 1024, f"peak RSS grew by {growth} KiB"


# ---------------------------------------------------------------------------- 401


async def test_401_is_survived_by_one_refresh_without_a_visible_failure() -> None:
    async with running() as h:
        app = h.app
        seen = record_statuses(app)
        assert app.monitor.session.tokens is not None
        old = app.monitor.session.tokens.access_token
        before = rows_of(app)
        h.server.set_fault("expired", count=1)
        await advance(h, 5)
        assert app.monitor.session.refresh_count == 1
        assert app.monitor.session.tokens.access_token != old
        assert h.server.request_count("/user/refresh") == 1
        assert not failing(seen) and app.monitor.poller.status.state is ConnState.LIVE
        assert rows_of(app) != before  # new data arrived through the new token


async def test_401_with_failing_refresh_needs_login_without_a_retry_loop() -> None:
    async with running() as h:
        app, pilot = h.app, h.pilot
        assert pilot is not None
        fast_backoff(app)
        before = rows_of(app)
        h.server.set_fault("expired", paths=(STATS, "/user/refresh"))
        app.monitor.poll_now()
        await wait_for(
            pilot,
            lambda: app.monitor.poller.status.state is ConnState.LOGIN_NEEDED,
            message="login",
        )
        stats, refreshes = h.stats_requests(), h.server.request_count("/user/refresh")
        await settle(pilot, 1.0)  # a retry loop at 0.1 s would make ~10 requests here
        assert (h.stats_requests(), h.server.request_count("/user/refresh")) == (stats, refreshes)
        assert refreshes == 1
        text = str(app.overview.status_bar.content)
        assert "login needed" in text and "token refresh failed" in text and "updated" in text
        assert rows_of(app) == before
        # Logging in again (what the login screen does) resumes polling.
        h.server.set_fault(None)
        access, refresh = h.server.issue_tokens()
        app.monitor.session.replace(TokenSet(access, refresh, obtained_at=h.clock.now))
        app.monitor.poll_now()
        await wait_for(
            pilot, lambda: app.monitor.poller.status.state is ConnState.LIVE, message="live"
        )


# ---------------------------------------------------------------------------- network faults


async def test_connection_refused_keeps_rows_and_recovers_when_the_server_returns() -> None:
    async with running() as h:
        await survives(
            h,
            h.server.stop,
            r"^connection refused by 127\.0\.0\.1:\d+$",
            recover=h.server.start,
        )


async def test_dns_failure_keeps_rows_and_recovers_when_the_name_resolves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running() as h:
        resolver = Resolver(monkeypatch, "localhost")
        await swap_client(h.app, f"http://localhost:{h.server.port}")
        await advance(h, 5)  # good data through the name first
        assert resolver.lookups >= 1

        def break_dns() -> None:
            resolver.failing = True
            h.server.drop_connections()  # so the next request must look the name up

        def mend_dns() -> None:
            resolver.failing = False

        await survives(h, break_dns, r"^cannot resolve host localhost$", recover=mend_dns)


async def test_connect_timeout_keeps_rows_and_recovers() -> None:
    """The port's accept queue is full, so SYNs are dropped and connect() hangs."""
    async with running() as h:
        await swap_client(h.app, timeouts=Timeouts(connect=0.3))
        port = h.server.port
        stack = contextlib.ExitStack()

        def blackhole() -> None:
            h.server.stop()
            stack.enter_context(stuck_listener(port))

        def mend() -> None:
            stack.close()
            h.server.start()

        try:
            await survives(
                h, blackhole, r"^timed out connecting to 127\.0\.0\.1:\d+$", recover=mend
            )
        finally:
            stack.close()


async def test_read_timeout_when_the_server_holds_the_request() -> None:
    async with running() as h:
        await swap_client(h.app, timeouts=Timeouts(read=0.3))
        await survives(
            h,
            lambda: h.server.set_fault("slow", delay=1.5, count=2),
            r"^timed out waiting for 127\.0\.0\.1:\d+$",
        )


async def test_connect_timeout_at_client_level_is_a_typed_one_line_error() -> None:
    with stuck_listener() as port:
        session = AuthSession(TokenSet("access-token-for-timeout"), source="test")
        async with FlashbackClient(
            f"http://127.0.0.1:{port}", session, timeouts=Timeouts(connect=0.3)
        ) as c:
            started = time.monotonic()
            with pytest.raises(ApiTimeoutError, match=r"^timed out connecting to 127\.0\.0\.1"):
                await c.get_stats()
            assert time.monotonic() - started < 2.0


async def test_body_without_length_stops_at_the_cap_and_memory_stays_bounded() -> None:
    """A chunked 50 MB answer: the client stops reading at the cap instead of buffering all."""
    cap = 4 * MIB
    sent = 0
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        nonlocal sent
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"x" * 65536
            frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
            try:
                while sent < 50 * MIB:
                    conn.sendall(frame)
                    sent += len(chunk)
            except OSError:
                pass

    loop = asyncio.get_running_loop()
    server = loop.run_in_executor(None, serve)
    gc.collect()
    assert reset_peak_rss()
    base = rss_kib()
    session = AuthSession(TokenSet("access-token-for-cap"), source="test")
    try:
        async with FlashbackClient(f"http://127.0.0.1:{port}", session, max_body=cap) as c:
            with pytest.raises(BadResponseError, match=r"^response too large \(over 4 MiB\)$"):
                await c.get_stats()
        await asyncio.wait_for(server, 10)
    finally:
        listener.close()
    growth = peak_rss_kib() - base
    assert growth < 4 * 1024 + 8 * 1024, f"peak RSS grew by {growth} KiB"
    assert sent < 30 * MIB, "the client kept reading after the cap"


# ---------------------------------------------------------------------------- backoff units


def test_backoff_doubles_per_failure_up_to_the_cap() -> None:
    low = [backoff_delay(n, rng=lambda: 0.0) for n in range(1, 12)]
    high = [backoff_delay(n, rng=lambda: 1.0) for n in range(1, 12)]
    steps = [min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (n - 1)) for n in range(1, 12)]
    assert low == [s / 2 for s in steps]
    assert high == steps
    assert steps[:4] == [2.0, 4.0, 8.0, 16.0] and steps[-1] == BACKOFF_CAP
    assert backoff_delay(10_000, rng=lambda: 1.0) == BACKOFF_CAP  # no overflow, still capped


def test_backoff_jitter_spreads_between_half_and_full_step() -> None:
    rng = random.Random(1).random
    for n in range(1, 10):
        step = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (n - 1))
        delays = [backoff_delay(n, rng=rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step / 4  # really jittered, not constant


def test_retry_after_is_a_floor_never_shortened() -> None:
    assert backoff_delay(1, 30.0, rng=lambda: 1.0) == 30.0
    assert backoff_delay(1, 0.5, rng=lambda: 1.0) == 2.0
    assert backoff_delay(3, 1000.0, rng=lambda: 0.0) == 1000.0  # beyond the cap: still honoured
    assert backoff_delay(1, None, rng=lambda: 0.0, cap=0.2) == 0.1


def _page() -> StatsPage:
    return parse_stats_response(
        {"success": True, "stats": [{"aiLlmId": "a", "totalApiCalls": "1"}]}
    )


def test_poller_waits_grow_exponentially_in_simulated_time() -> None:
    calls: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def fetch() -> StatsPage:
            calls.append(loop.time())
            if len(calls) <= 10:
                raise ServerError("server error: down")
            return _page()

        poller: Poller[StatsPage] = Poller(
            fetch, interval=5, on_result=lambda p, at: None, on_status=lambda s: None,
            rng=lambda: 0.5, clock=loop.time,
        )  # fmt: skip
        task = asyncio.create_task(poller.run())
        while len(calls) < 13:
            await asyncio.sleep(1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert poller.status.state is ConnState.LIVE and poller.status.failures == 0

    run_virtual(main)
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(calls)]
    expected = [0.75 * min(BACKOFF_CAP, BACKOFF_BASE * 2**n) for n in range(10)]
    assert gaps[:10] == expected  # 1.5, 3, 6, ... 225, 225
    assert gaps[10:12] == pytest.approx([5.0, 5.0], abs=0.05)  # back to the normal interval


def test_poller_never_retries_before_retry_after() -> None:
    calls: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def fetch() -> StatsPage:
            calls.append(loop.time())
            if len(calls) == 1:
                raise RateLimitedError("rate limited", retry_after=120.0)
            return _page()

        poller: Poller[StatsPage] = Poller(
            fetch, interval=5, on_result=lambda p, at: None, on_status=lambda s: None,
            clock=loop.time,
        )  # fmt: skip
        task = asyncio.create_task(poller.run())
        while len(calls) < 2:
            await asyncio.sleep(1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    run_virtual(main)
    assert calls[1] - calls[0] >= 120.0


def test_poller_outlives_days_of_outage_without_overflowing_its_backoff() -> None:
    """1,100 failures in a row (about three days at the 300 s cap), then recovery."""
    calls: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def fetch() -> StatsPage:
            calls.append(loop.time())
            if len(calls) <= 1100:
                raise ServerError("server error: down")
            return _page()

        poller: Poller[StatsPage] = Poller(
            fetch, interval=5, on_result=lambda p, at: None, on_status=lambda s: None,
            rng=random.Random(3).random, clock=loop.time,
        )  # fmt: skip
        task = asyncio.create_task(poller.run())
        while len(calls) < 1102 and not task.done():
            await asyncio.sleep(60)
        assert not task.done(), f"the poll loop died: {task.exception()!r}"
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert poller.status.state is ConnState.LIVE

    run_virtual(main)
    assert calls[-1] - calls[0] > 2.5 * 86400
    assert max(b - a for a, b in itertools.pairwise(calls)) <= BACKOFF_CAP


def test_poller_survives_an_unexpected_exception_and_shows_it() -> None:
    statuses: list[PollStatus] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        calls = 0

        async def fetch() -> StatsPage:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise ValueError("a bug, not a server fault")
            return _page()

        poller: Poller[StatsPage] = Poller(
            fetch, interval=5, on_result=lambda p, at: None, on_status=statuses.append,
            rng=lambda: 0.0, clock=loop.time,
        )  # fmt: skip
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(10)
        assert not task.done()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    run_virtual(main)
    failed = next(s for s in statuses if s.state is ConnState.RETRYING and not s.in_flight)
    assert failed.last_error == "internal error (ValueError); retrying"
    assert statuses[-1].state is ConnState.LIVE


def test_flapping_server_for_ten_simulated_minutes_never_stops_or_clears_data() -> None:
    """Every other poll fails for 600 s of simulated time, with real jittered backoff."""
    statuses: list[PollStatus] = []
    shown: list[StatsPage] = []  # what a screen would show: replaced only by a good page
    attempts: list[tuple[float, bool]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def fetch() -> StatsPage:
            fail = len(attempts) % 2 == 1
            attempts.append((loop.time(), fail))
            if fail:
                raise ServerError("server error: Failed to retrieve statistics")
            return _page()

        def on_status(s: PollStatus) -> None:
            if not s.in_flight:
                statuses.append(s)

        poller: Poller[StatsPage] = Poller(
            fetch, interval=5, on_result=lambda p, at: shown.append(p), on_status=on_status,
            rng=random.Random(7).random, clock=loop.time,
        )  # fmt: skip
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(600)
        assert not task.done(), f"the poll loop died: {task!r}"
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert loop.time() >= 600

    run_virtual(main)
    states = [s.state for s in statuses]
    assert states == [ConnState.LIVE, ConnState.RETRYING] * (len(states) // 2) + (
        [ConnState.LIVE] if len(states) % 2 else []
    )
    assert max(s.failures for s in statuses) == 1  # each success resets the backoff
    assert attempts[-1][0] > 590, "polling stopped before the ten minutes were up"
    assert 80 <= len(attempts) <= 200
    assert len(shown) == sum(1 for _, fail in attempts if not fail)
    assert all(page.stats for page in shown)  # every page published had the data
    # After a failure the poller came back within the backoff (1..2 s), never later.
    for (t0, fail), (t1, _) in itertools.pairwise(attempts):
        gap = t1 - t0
        assert (1.0 <= gap <= 2.0) if fail else gap == pytest.approx(5.0, abs=0.05)


# ---------------------------------------------------------------------------- flapping app


async def test_flapping_server_in_the_app_keeps_rows_and_alternates_states() -> None:
    async with running() as h:
        app, pilot = h.app, h.pilot
        assert pilot is not None
        fast_backoff(app, cap=0.04)
        app.monitor.poller._interval = 0.02  # below the 1 s floor, to flap fast
        app.monitor.poller.min_gap = 0.0
        before = {i for i, _ in rows_of(app)}
        seen = record_statuses(app)
        polls = app.monitor.poller.status.polls
        h.server.set_fault("flap")
        app.monitor.poll_now()
        await wait_for(pilot, lambda: app.monitor.poller.status.polls >= polls + 25, timeout=20)
        settled = [s for s in seen if not s.status.in_flight]
        states = [s.status.state for s in settled]
        assert states.count(ConnState.RETRYING) >= 24
        assert all(a != b for a, b in itertools.pairwise(states)), states
        for s in settled:
            assert {i for i, _ in s.rows} == before  # never cleared
            if s.status.state is ConnState.RETRYING:
                assert s.stale and "Failed to retrieve statistics" in s.text
        h.server.set_fault(None)
        app.monitor.poller._interval = 60.0
        assert app.is_running
