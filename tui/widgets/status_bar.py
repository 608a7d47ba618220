"""The status bar: where we are connected, how fresh the data is, what went wrong."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text

from tui.fmt import safe_text, updated
from tui.poller import ConnState, PollStatus
from tui.widgets.line_static import LineStatic

_STATE_CLASS = {
    ConnState.CONNECTING: "connecting",
    ConnState.LIVE: "live",
    ConnState.RETRYING: "retrying",
    ConnState.LOGIN_NEEDED: "login-needed",
    ConnState.PAUSED: "paused",
}
_ALL_CLASSES = frozenset({"-stale", *(f"-{c}" for c in _STATE_CLASS.values())})


def stale_after(last_ok: float, interval: float) -> float:
    """When live data last updated at ``last_ok`` is overdue: two polls and 5 s late."""
    return last_ok + 2 * interval + 5


def state_label(status: PollStatus, interval: float, now_mono: float, now: float) -> str:
    """The words for the connection state, including "stale" and the retry countdown."""
    if status.state is ConnState.RETRYING:
        if status.in_flight:
            return "retrying now"
        left = max(0.0, (status.retry_at or now_mono) - now_mono)
        return f"retrying in {left:.0f} s"
    # Live but overdue (a slow request in flight): say the data is stale.
    overdue = status.last_ok is not None and now > stale_after(status.last_ok, interval)
    if status.state is ConnState.LIVE and overdue:
        return "stale"
    return status.state.value


def is_behind(status: PollStatus, label: str) -> bool:
    """The data shown is not the server's latest: stale, retrying or login needed."""
    return label == "stale" or (
        status.last_ok is not None and status.state in (ConnState.RETRYING, ConnState.LOGIN_NEEDED)
    )


def quiet_until(status: PollStatus, label: str, interval: float, now: float) -> float:
    """Until when the words of :func:`state_label` and the data's age stay as they
    are at ``now`` if nothing else happens: ``now`` while they count seconds (an age,
    a retry countdown); else when live data turns stale, or the next local midnight
    (a time of another day is shown with its date)."""
    if status.state is ConnState.RETRYING or is_behind(status, label):
        return now
    t = time.localtime(now)
    until = time.mktime((t.tm_year, t.tm_mon, t.tm_mday + 1, 0, 0, 0, 0, 0, -1))
    if status.state is ConnState.LIVE and status.last_ok is not None:
        until = min(until, stale_after(status.last_ok, interval))
    return until


class StatusBar(LineStatic):
    """Two lines: identity (profile, URL) and state (connection, age, counts, error)."""

    def __init__(
        self,
        profile: str,
        base_url: str,
        clock: Callable[[], float] = time.time,
        login_key: str = "l",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        #: The key that opens the login screen (the keymap may move it): said when needed.
        self.login_key = login_key
        self.clock = clock
        self.profile = profile
        self.base_url = base_url
        self.status = PollStatus()
        self.interval = 5.0
        self.configs = 0
        self.invalid = 0
        self.notes: list[str] = []
        #: Where the figures come from when not from /ai/llm/stats (one line; "" when
        #: they are its running totals).
        self.source = ""
        #: Alert rules firing now (the alerts screen, `a`, lists them).
        self.firing = 0
        #: Configurations the profile cannot price (cost shows n/a), when it prices any.
        self.unpriced = 0
        #: The worst budget, one line ("" when none), and whether it is in trouble.
        self.budget = ""
        self.budget_alarm = False
        self.sort_label = ""
        self.filter_text = ""
        self._shown: Text | None = None
        #: What the shown text was made of (see :meth:`refresh_text`).
        self._key: tuple[object, ...] | None = None
        #: Until this time (``clock``) the text cannot change by itself (see :meth:`tick`).
        self._quiet_until = 0.0

    def set_state(self, status: PollStatus, interval: float) -> None:
        self.status = status
        self.interval = interval
        self.refresh_text()

    def quiet_for(self) -> float:
        """Seconds the text stays as it is if nothing else happens (0 or less: it
        counts seconds now)."""
        return self._quiet_until - self.clock()

    def tick(self) -> None:
        """Once a second: redraw only once the text can have changed with time (the
        data turning stale, an age or a countdown shown, the date at midnight)."""
        if self.quiet_for() > 0:
            return
        self.refresh_text()

    def refresh_text(self) -> None:
        now = self.clock()
        label = state_label(self.status, self.interval, time.monotonic(), now)
        self._quiet_until = quiet_until(self.status, label, self.interval, now)
        stale = label == "stale" or (
            self.status.state is ConnState.RETRYING and self.status.last_ok is not None
        )
        # Each class change re-applies the CSS: change them only when the state does.
        wanted = {f"-{_STATE_CLASS[self.status.state]}", *(["-stale"] if stale else [])}
        if wanted != self.classes & _ALL_CLASSES:
            self.set_classes((self.classes - _ALL_CLASSES) | wanted)

        status = self.status
        age = updated(status.last_ok, now, is_behind(status, label))
        # Everything the two lines are made of: when none of it moved (most calls: the
        # once-a-second tick, a request going out) nothing is built or compared.
        key = (
            label,
            status.state,
            status.last_error,
            age,
            self.login_key,
            self.profile,
            self.base_url,
            self.interval,
            self.sort_label,
            self.filter_text,
            self.source,
            self.firing,
            self.budget,
            self.budget_alarm,
            self.configs,
            self.invalid,
            self.unpriced,
            tuple(self.notes),
        )
        if key == self._key:
            return
        self._key = key

        line1 = Text()
        line1.append(" flashtop ", style="bold reverse")
        line1.append(f" {safe_text(self.profile, 24)} ", style="bold")
        line1.append(f"{safe_text(self.base_url, 60)}")
        line1.append(f"  every {self.interval:g} s")
        if self.sort_label:
            line1.append(f"  sort {self.sort_label}")
        if self.filter_text:
            line1.append(f"  filter “{safe_text(self.filter_text, 20)}”")

        line2 = Text()
        line2.append(f" ● {label}", style="bold")
        if self.status.state is ConnState.LOGIN_NEEDED and self.login_key:
            line2.append(f": press {self.login_key}", style="bold")
        line2.append(f"  {age}")
        if self.source:
            line2.append(f"  {safe_text(self.source, 80)}", style="bold")
        if self.firing:
            line2.append(f"  ▲ {self.firing} firing", style="bold")
        if self.budget and self.budget_alarm:
            # A budget running out matters more than the counts: before them, so it
            # shows on a narrow pane too.
            line2.append(f"  {self.budget}", style="bold")
        line2.append(f"  {self.configs} configs")
        if self.invalid:
            line2.append(f"  {self.invalid} invalid", style="bold")
        if self.unpriced:
            line2.append(f"  {self.unpriced} unpriced")
        if self.budget and not self.budget_alarm:
            line2.append(f"  {self.budget}")
        for note in self.notes:
            line2.append(f"  {safe_text(note, 60)}")
        if self.status.last_error:
            line2.append(f"  ✗ {safe_text(self.status.last_error, 160)}")
        line1.no_wrap = line2.no_wrap = True
        line1.overflow = line2.overflow = "ellipsis"
        text = Text("\n").join([line1, line2])
        if text == self._shown:
            return  # e.g. a request going out: nothing new to show
        self._shown = text
        self.update(text, layout=False)  # two fixed lines: no layout of the screen
