"""The status bar's once-a-second tick redraws only once the text can have changed."""

from __future__ import annotations

import itertools
import time

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from tui.poller import ConnState, PollStatus
from tui.widgets.status_bar import StatusBar, quiet_until, state_label


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def noon_today() -> float:
    t = time.localtime()
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 12, 0, 0, 0, 0, -1))


def test_quiet_until_the_data_turns_stale_or_midnight_and_never_while_counting() -> None:
    noon = noon_today()
    live = PollStatus(state=ConnState.LIVE, last_ok=noon)
    assert quiet_until(live, "live", 5.0, noon + 1) == noon + 15  # 2 polls and 5 s late
    t = time.localtime(noon)
    midnight = time.mktime((t.tm_year, t.tm_mon, t.tm_mday + 1, 0, 0, 0, 0, 0, -1))
    slow = PollStatus(state=ConnState.LIVE, last_ok=midnight - 30)
    assert quiet_until(slow, "live", 600.0, midnight - 20) == midnight  # then a date shows
    paused = PollStatus(state=ConnState.PAUSED, last_ok=noon)
    assert quiet_until(paused, "paused", 5.0, noon + 1) == midnight
    now = noon + 20
    stale = PollStatus(state=ConnState.LIVE, last_ok=noon)
    assert quiet_until(stale, state_label(stale, 5.0, 0.0, now), 5.0, now) == now
    retrying = PollStatus(state=ConnState.RETRYING, last_ok=noon, retry_at=10.0)
    assert quiet_until(retrying, "retrying in 3 s", 5.0, now) == now
    login = PollStatus(state=ConnState.LOGIN_NEEDED, last_ok=noon)
    assert quiet_until(login, "login needed", 5.0, now) == now  # its age counts


class Bar(App[None]):
    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield StatusBar("default", "http://127.0.0.1:1", clock=self.clock, id="status")


async def test_ticks_build_nothing_while_quiet_and_show_stale_when_due() -> None:
    noon = noon_today()
    clock = Clock(noon)
    app = Bar(clock)
    async with app.run_test(size=(100, 4)) as pilot:
        bar = app.query_one(StatusBar)
        built: list[Text] = []
        update = bar.update

        def spy(content: object = "", **kwargs: object) -> None:
            built.append(content)  # type: ignore[arg-type]
            update(content, **kwargs)  # type: ignore[arg-type]

        bar.update = spy  # type: ignore[method-assign]
        bar.set_state(PollStatus(state=ConnState.LIVE, last_ok=noon), 5.0)
        assert len(built) == 1
        refreshed: list[float] = []
        refresh_text = bar.refresh_text

        def counted() -> None:
            refreshed.append(clock.now)
            refresh_text()

        bar.refresh_text = counted  # type: ignore[method-assign]
        for second in range(1, 15):
            clock.now = noon + second
            bar.tick()
        assert refreshed == []  # 14 quiet ticks: nothing computed
        clock.now = noon + 15
        bar.tick()
        clock.now = noon + 16
        bar.tick()
        assert refreshed == [noon + 15, noon + 16]
        await pilot.pause()
        assert "● stale" in str(bar.content)
        assert "ago)" in str(bar.content)
        clock.now = noon + 17
        bar.tick()  # stale: the age counts every second
        assert refreshed[-1] == noon + 17
        assert "(17 s ago)" in str(bar.content)


async def test_the_app_ticks_on_its_own_and_data_turns_stale_without_a_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tick (straight from the event loop) keeps running, a tick that raises
    included; while the status bar is quiet it comes at most every
    QUIET_TICK_SECONDS, and it is what shows live data turning stale."""
    from ui_helpers import running, wait_for

    import tui.app

    monkeypatch.setattr(tui.app, "QUIET_TICK_SECONDS", 1.5)
    async with running() as h:  # polls only when asked: the tick alone moves it on
        assert h.pilot is not None
        app = h.app
        assert "● live" in h.status_text()
        ticks: list[float] = []
        tick = app._tick
        failed = [False]

        def counted() -> None:
            ticks.append(time.monotonic())
            if not failed[0]:
                failed[0] = True
                raise RuntimeError("a bug in a tick")
            tick()

        app._tick = counted  # type: ignore[method-assign]
        started = time.monotonic()
        await wait_for(h.pilot, lambda: len(ticks) >= 3, timeout=6.0)
        # Quiet (live, 60 s polls, nothing overdue): 1.5 s apart, not every second.
        assert time.monotonic() - started >= 3.0
        assert min(b - a for a, b in itertools.pairwise(ticks)) >= 1.4
        h.clock.now += 2 * 60.0 + 6  # two 60 s polls and 5 s overdue, no poll made
        await wait_for(h.pilot, lambda: "● stale" in h.status_text(), timeout=4.0)
        # Stale: the age counts, so the tick comes every second again.
        count = len(ticks)
        await wait_for(h.pilot, lambda: len(ticks) >= count + 2, timeout=3.0)
        assert ticks[-1] - ticks[-2] < 1.3
