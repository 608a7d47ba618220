"""Toasts that never bury the table: one summary per poll, rate-limited.

On a busy organization every poll brings "+1 violation" for several configurations;
a toast each would cover the right half of the table all the time. Instead a poll's
alerts become one toast (the alerts screen has the detail), and toasts come at most
every :data:`MIN_GAP` seconds: what arrives in between is held and joins the next.
No UI toolkit here: the face shows what :meth:`ToastGate.offer` and
:meth:`ToastGate.due` return.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.alerts import Alert
from tui.fmt import safe_text
from tui.notify import format_value
from tui.rules import Event

#: Seconds between two toasts at least.
MIN_GAP = 10.0
#: Configurations named in a summary before "and N more".
NAMED = 3
_RANK = {"information": 0, "warning": 1, "error": 2}


#: Metrics whose firing is an error (red), not a warning.
SEVERE = frozenset({"blocks", "no_data"})


def toasts_for(events: list[Event]) -> list[Alert]:
    """The toasts and bells rule events ask for (``notify`` holds "toast" or "bell");
    muted rules stay quiet."""
    out: list[Alert] = []
    for e in events:
        toast, bell = "toast" in e.notify, "bell" in e.notify
        if e.muted or not (toast or bell):
            continue
        if e.state == "resolved":
            if e.builtin:
                continue  # "new blocks" resolved a minute later: the log says it
            severity, words = "information", "resolved"
        else:
            severity = "error" if e.metric in SEVERE else "warning"
            words = (
                f"{format_value(e.metric, e.value)} (above {format_value(e.metric, e.threshold)})"
            )
            if e.state == "repeat":
                words += ", still"
        out.append(
            Alert(
                title=safe_text(e.entity_name, 40),
                message=f"{safe_text(e.rule, 40)}: {words}",
                severity=severity,
                toast=toast,
                bell=bell and e.state != "resolved",
            )
        )
    return out


def summary(alerts: list[Alert]) -> Alert:
    """One toast for several alerts: the worst severity, the first few by name."""
    if len(alerts) == 1:
        return alerts[0]
    worst = max(alerts, key=lambda a: _RANK.get(a.severity, 1)).severity
    lines = [f"{a.title}: {a.message}" for a in alerts[:NAMED]]
    if len(alerts) > NAMED:
        lines.append(f"and {len(alerts) - NAMED} more (a: alerts)")
    return Alert(
        title=f"{len(alerts)} alerts",
        message="\n".join(lines),
        severity=worst,
        bell=any(a.bell for a in alerts),
    )


@dataclass(slots=True)
class ToastGate:
    """Holds alerts until a toast may be shown, then gives their summary."""

    min_gap: float = MIN_GAP
    _held: list[Alert] | None = None
    _last: float = -1e18

    def offer(self, alerts: list[Alert], now: float) -> Alert | None:
        """A poll's alerts: the toast to show now, or None (held, or nothing). Alerts
        that ask only for the bell are not held (the face rings for them at once)."""
        shown = [a for a in alerts if a.toast]
        if shown:
            self._held = [*(self._held or []), *shown]
        return self.due(now)

    def due(self, now: float) -> Alert | None:
        """The held alerts' summary once the gap has passed (else None)."""
        if not self._held or now - self._last < self.min_gap:
            return None
        shown = summary(self._held)
        self._held = None
        self._last = now
        return shown

    @property
    def waiting(self) -> bool:
        return bool(self._held)

    def next_at(self) -> float:
        """When held alerts may be shown."""
        return self._last + self.min_gap
