"""The polling loop and its connection state, free of any UI toolkit.

One long-lived loop per view: fetch, publish, sleep, repeat. Requests never
overlap, because the next one starts only after the last finished. Failures back
off exponentially with full jitter, honour ``Retry-After``, and are capped; the
loop recovers by itself. ``poll_now``, ``pause``, ``resume`` and interval changes
wake the sleeping loop at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Generic, TypeVar

from tui.errors import ApiError, LoginNeededError

log = logging.getLogger("flashtop.poller")

T = TypeVar("T")

MIN_INTERVAL = 1.0
MAX_INTERVAL = 3600.0
BACKOFF_BASE = 2.0
BACKOFF_CAP = 300.0
#: Polls start at least this many seconds apart, however often `r` is pressed (or
#: held down): presses meanwhile coalesce into one poll.
MIN_GAP = 1.0


class ConnState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    RETRYING = "retrying"
    LOGIN_NEEDED = "login needed"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class PollStatus:
    """What the status bar needs to know about a poller."""

    state: ConnState = ConnState.CONNECTING
    #: time.time() of the last successful poll, if any.
    last_ok: float | None = None
    #: One line describing the last failure (kept until the next success).
    last_error: str | None = None
    #: time.monotonic() when the next retry is due (RETRYING only).
    retry_at: float | None = None
    failures: int = 0
    in_flight: bool = False
    polls: int = 0


def backoff_delay(
    failures: int,
    retry_after: float | None = None,
    *,
    base: float = BACKOFF_BASE,
    cap: float = BACKOFF_CAP,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after ``failures`` consecutive failures.

    Exponential with jitter in [half, full] of the step, capped. A server's
    Retry-After is a floor: we never come back earlier than asked.
    """
    # Bounded exponent: after ~1024 failures in a row (days of outage at the cap)
    # 2.0**n overflows a float, and the OverflowError would end the poll loop for good.
    step = min(cap, base * 2.0 ** min(max(failures - 1, 0), 62))
    delay = step / 2 + rng() * step / 2
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class Poller(Generic[T]):
    """Calls ``fetch`` every ``interval`` seconds and reports results and status."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[T]],
        *,
        interval: float,
        on_result: Callable[[T, float], Awaitable[None] | None],
        on_status: Callable[[PollStatus], None],
        rng: Callable[[], float] = random.random,
        backoff_cap: float = BACKOFF_CAP,
        clock: Callable[[], float] = time.time,
        min_gap: float = MIN_GAP,
    ) -> None:
        self._fetch = fetch
        self._interval = clamp_interval(interval)
        self._on_result = on_result
        self._on_status = on_status
        self._rng = rng
        self._clock = clock
        self._backoff_cap = backoff_cap
        self._wake = asyncio.Event()
        self._paused = False
        self._force = False
        #: Seconds between the starts of two polls at the least (see MIN_GAP).
        self.min_gap = min_gap
        self._last_start = -math.inf
        self.status = PollStatus()

    @property
    def interval(self) -> float:
        return self._interval

    @interval.setter
    def interval(self, value: float) -> None:
        self._interval = clamp_interval(value)
        self._wake.set()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        self._set(state=ConnState.PAUSED, retry_at=None)
        self._wake.set()

    def resume(self) -> None:
        """Resume polling, starting with a poll at once."""
        self._paused = False
        self._force = True
        self._wake.set()

    def toggle_pause(self) -> bool:
        if self._paused:
            self.resume()
        else:
            self.pause()
        return self._paused

    def poll_now(self) -> None:
        """Poll at once: also when backing off, after a new login, or once while paused."""
        self._force = True
        self._wake.set()

    def _set(self, **changes: object) -> None:
        self.status = replace(self.status, **changes)  # type: ignore[arg-type]
        self._on_status(self.status)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, or return early (True) when woken by poll_now/pause/resume/interval.

        The wake event is cleared only at the start of a poll, so a key pressed
        while a request is in flight still cuts the following sleep short.
        """
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            return False
        return True

    async def _sleep_interval(self, started: float) -> None:
        """Sleep until ``interval`` after ``started`` (monotonic), following changes.

        A new interval (+/-) re-arms the wait from the same start instead of
        polling at once; poll_now and pause end it.
        """
        while True:
            left = started + self._interval - time.monotonic()
            if left <= 0 or not await self._sleep(left):
                return
            if self._force or self._paused:
                return
            self._wake.clear()

    async def _failed(self, message: str, retry_after: float | None) -> None:
        """Report a failed poll and sleep through the backoff (or until woken)."""
        failures = self.status.failures + 1
        delay = backoff_delay(failures, retry_after, cap=self._backoff_cap, rng=self._rng)
        log.info("poll failed (%d in a row): %s; retry in %.1f s", failures, message, delay)
        self._set(
            state=ConnState.PAUSED if self._paused else ConnState.RETRYING,
            last_error=message,
            failures=failures,
            retry_at=time.monotonic() + delay,
            in_flight=False,
        )
        await self._sleep(delay)

    async def run(self) -> None:
        """The loop; runs until cancelled."""
        while True:
            while self._paused and not self._force:
                self._wake.clear()
                await self._wake.wait()
            # A poll asked for (`r`) too soon after the last one waits for the gap;
            # more presses meanwhile are the same poll. Scheduled polls and retries
            # keep their own timing.
            gap = self._last_start + self.min_gap - time.monotonic()
            if self._force and gap > 0:
                await asyncio.sleep(gap)
            self._wake.clear()
            self._force = False
            started = self._last_start = time.monotonic()
            self._set(in_flight=True)
            try:
                result = await self._fetch()
            except LoginNeededError as exc:
                self._set(
                    state=ConnState.LOGIN_NEEDED,
                    last_error=exc.message,
                    retry_at=None,
                    in_flight=False,
                )
                # No retry loop: wait until someone logs in (poll_now).
                while not self._force:
                    self._wake.clear()
                    await self._wake.wait()
                continue
            except ApiError as exc:
                await self._failed(exc.message, exc.retry_after)
                continue
            except Exception as exc:  # a bug must not end monitoring: show it, back off, retry
                log.error("poll raised %s", type(exc).__name__, exc_info=True)
                await self._failed(f"internal error ({type(exc).__name__}); retrying", None)
                continue
            now = self._clock()
            error = None
            try:
                shown = self._on_result(result, now)
                if shown is not None:
                    await shown  # a large result is shown in parts, between key presses
            except Exception as exc:  # showing one poll failed: keep monitoring
                log.error("showing a poll raised %s", type(exc).__name__, exc_info=True)
                error = f"internal error showing data ({type(exc).__name__})"
            # Reported once the result is shown, so "polls" counts what is on screen.
            self._set(
                state=ConnState.PAUSED if self._paused else ConnState.LIVE,
                last_ok=now,
                last_error=error,
                failures=0,
                retry_at=None,
                in_flight=False,
                polls=self.status.polls + 1,
            )
            await self._sleep_interval(started)


def clamp_interval(value: float) -> float:
    return min(MAX_INTERVAL, max(MIN_INTERVAL, float(value)))
