"""Alert rules: what they are and the events they raise (the engine is below them).

A rule watches one metric per configuration (or summed, with ``sum``), and goes
through the states Prometheus alerting has: inactive, pending (the condition holds,
``for`` has not yet elapsed), firing, and back (resolved). Each firing and each
resolution is one :class:`Event` per configuration (or per rule when summed), handed
to the notification channels the rule names. Standard library only: the daemon runs
the same rules as the TUI.
"""

from __future__ import annotations

from dataclasses import dataclass

#: What a rule may watch.
METRICS: tuple[str, ...] = (
    "calls_per_minute",
    "tokens_per_minute",
    "cost_per_hour",
    "violations",
    "alerts",
    "blocks",
    "budget_percent",
    "no_data",
)
#: Metrics that count events: their value is the increase within the rule's window.
EVENT_METRICS: tuple[str, ...] = ("violations", "alerts", "blocks")
#: Channels that are not Apprise URLs.
LOCAL_CHANNELS: tuple[str, ...] = ("toast", "bell", "desktop")


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``[[profiles.<name>.rules]]`` entry (or a built-in default)."""

    name: str
    metric: str
    #: Glob on a configuration's name, id or provider (case-insensitive); "*": all.
    match: str = "*"
    #: Fires when the value is above this.
    above: float = 0.0
    #: Seconds: event counters count their increase within this window.
    window: float = 300.0
    #: Seconds the condition must hold before firing (0: at once).
    for_: float = 0.0
    #: Seconds between reminders while still firing (None: no reminders).
    repeat: float | None = None
    #: "toast", "bell", "desktop" or Apprise URLs (secrets: never shown or logged).
    notify: tuple[str, ...] = ("toast",)
    #: One value for all matching configurations (summed) instead of one each.
    sum: bool = False
    #: A default rule (the built-in event toasts, or the ``thresholds`` shorthand).
    builtin: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """A rule fired, resolved or reminds that it still fires, for one entity."""

    rule: str
    #: aiLlmId, or "" for a summed rule, ``no_data`` or a budget rule's entity below.
    entity: str
    #: What people call the entity: the configuration's name, the budget's label, or
    #: "all matching" for a summed rule.
    entity_name: str
    #: "firing", "resolved" or "repeat".
    state: str
    value: float
    threshold: float
    metric: str
    #: When it happened (epoch seconds).
    at: float
    #: Where to tell it (the rule's ``notify``).
    notify: tuple[str, ...] = ("toast",)
