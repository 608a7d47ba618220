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

#: Seconds between two toasts at least.
MIN_GAP = 10.0
#: Configurations named in a summary before "and N more".
NAMED = 3
_RANK = {"information": 0, "warning": 1, "error": 2}


def summary(alerts: list[Alert]) -> Alert:
    """One toast for several alerts: the worst severity, the first few by name."""
    if len(alerts) == 1:
        return alerts[0]
    worst = max(alerts, key=lambda a: _RANK.get(a.severity, 1)).severity
    lines = [f"{a.title}: {a.message}" for a in alerts[:NAMED]]
    if len(alerts) > NAMED:
        lines.append(f"and {len(alerts) - NAMED} more (a: alerts)")
    return Alert(title=f"{len(alerts)} alerts", message="\n".join(lines), severity=worst)


@dataclass(slots=True)
class ToastGate:
    """Holds alerts until a toast may be shown, then gives their summary."""

    min_gap: float = MIN_GAP
    _held: list[Alert] | None = None
    _last: float = -1e18

    def offer(self, alerts: list[Alert], now: float) -> Alert | None:
        """A poll's alerts: the toast to show now, or None (held, or nothing)."""
        if alerts:
            self._held = [*(self._held or []), *alerts]
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
