"""Alert rules: what they are, the events they raise, and the engine that evaluates them.

A rule watches one metric per configuration (or summed, with ``sum``), and goes
through the states Prometheus alerting has: inactive, pending (the condition holds,
``for`` has not yet elapsed), firing, and back (resolved). Each firing and each
resolution is one :class:`Event` per configuration (or per rule when summed), handed
to the notification channels the rule names; while a rule fires, ``repeat`` raises a
"repeat" event every so often. No Textual here: a daemon runs the same rules as the
TUI.

Metrics (``value`` is what is compared with ``above``: the rule fires while the
value is above it):

- ``violations``, ``alerts``, ``blocks``: how much the counter went up within the
  rule's ``window`` (a counter that went down, reset on the server, is not an
  increase);
- ``calls_per_minute``, ``tokens_per_minute`` (in + out): the rate over ``window``;
- ``cost_per_hour``: USD per hour at the current LLM token rates (priced
  configurations only);
- ``budget_percent``: one entity per budget (``budget:<label>``) whose label the
  rule's ``match`` fits; the value is the percentage used this period;
- ``no_data``: polls have been failing; the rule fires once they have failed for
  ``for`` (``above``, ``match``, ``window`` and ``sum`` do not apply).

A value the source cannot give (None) keeps the state: no data is not a resolution.
While polls fail, only ``no_data`` rules change state (the others keep theirs and
still remind). A configuration that disappears while its rule fires resolves.

The engine asks a :class:`MetricSource` (the Monitor, or :class:`HistoryMetrics`
over a :class:`~tui.history.History`) for values. To stay cheap with ten thousand
configurations it evaluates, for each rule, only the configurations the source
names as candidates (those whose counters moved within the window) and those already
pending or firing: every other configuration's value is 0, which never fires since
``above`` is never negative.

Notification URLs (every ``notify`` entry but toast, bell and desktop) carry secrets:
no repr, str or message here shows them.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tui.counters import CALLS, IDX, TOKENS_IN, TOKENS_OUT
from tui.history import Changes, History
from tui.models import LlmConfig

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
#: Metrics with one value per configuration (the ones ``match`` and ``sum`` apply to).
CONFIG_METRICS: tuple[str, ...] = (
    "calls_per_minute",
    "tokens_per_minute",
    "cost_per_hour",
    *EVENT_METRICS,
)
#: Event metric -> index of its counter in a sample's values.
EVENT_COUNTER: dict[str, int] = {
    "violations": IDX["totalPolicyViolations"],
    "alerts": IDX["totalAlerts"],
    "blocks": IDX["totalBlocks"],
}
#: Channels that are not Apprise URLs.
LOCAL_CHANNELS: tuple[str, ...] = ("toast", "bell", "desktop")
#: States an event reports, and states of an :class:`ActiveAlert`.
FIRING, RESOLVED, REPEAT, PENDING = "firing", "resolved", "repeat", "pending"
#: Window of the built-in rules (new events) and of the ``thresholds`` shorthand.
BUILTIN_WINDOW = 60.0
#: Entity of a summed rule and of ``no_data``; prefix of a budget rule's entities.
WHOLE = ""
BUDGET_PREFIX = "budget:"
SUMMED_NAME = "all matching"
NO_DATA_NAME = "polling"

#: The longest duration accepted anywhere (rule windows, ``export --since``): 10
#: years, far beyond what the history keeps; more is a typo, not a wish.
MAX_DURATION_DAYS = 3650
MAX_DURATION = MAX_DURATION_DAYS * 86400.0
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)", re.ASCII)


def parse_seconds(value: object) -> float | None:
    """A duration as seconds (0 .. :data:`MAX_DURATION`), or None when it is not one.

    ``"0s"``, ``"90s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"``; a bare number (in
    a string or as a TOML number, not a bool) is seconds.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.fullmatch(value.strip().lower())
        if m is None:
            return None
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        return None
    return seconds if math.isfinite(seconds) and 0 <= seconds <= MAX_DURATION else None


def format_seconds(seconds: float) -> str:
    """``300`` -> ``5m``, ``90`` -> ``90s``, ``86400`` -> ``1d``: the largest whole unit."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:g}s"


def glob_matches(pattern: str, ai_llm_id: str, name: str, provider: str) -> bool:
    """Whether a glob fits a configuration's name, aiLlmId or provider (case-insensitive);
    ``*`` is every configuration (the same rule as budgets' ``match``)."""
    if pattern == "*":
        return True
    folded = pattern.casefold()
    return any(
        fnmatch.fnmatchcase(text.casefold(), folded) for text in (name, ai_llm_id, provider) if text
    )


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``[[profiles.<name>.rules]]`` entry (or a built-in default)."""

    name: str
    metric: str
    #: Glob on a configuration's name, id or provider (case-insensitive); "*": all.
    #: For ``budget_percent``, a glob on the budget's label.
    match: str = "*"
    #: Fires when the value is above this.
    above: float = 0.0
    #: Seconds: event counters count their increase within this window; rates are
    #: taken over it.
    window: float = 300.0
    #: Seconds the condition must hold before firing (0: at once).
    for_: float = 0.0
    #: Seconds between reminders while still firing (None: no reminders).
    repeat: float | None = None
    #: "toast", "bell", "desktop" or Apprise URLs (secrets: never shown or logged,
    #: hence out of the repr).
    notify: tuple[str, ...] = field(default=("toast",), repr=False)
    #: One value for all matching configurations (summed) instead of one each.
    sum: bool = False
    #: A default rule (the built-in event toasts, or the ``thresholds`` shorthand).
    builtin: bool = False

    @property
    def channels(self) -> tuple[str, ...]:
        """The notify entries safe to show: local channels by name, each URL as its
        scheme only (``slack://…``)."""
        return tuple(
            n if n in LOCAL_CHANNELS else n.split("://", 1)[0] + "://…" for n in self.notify
        )

    def summary(self) -> str:
        """One line for people, e.g. ``blocks > 0 in 5m, for 1m, every 1h (prod-*)``."""
        if self.metric == "no_data":
            text = f"no data for {format_seconds(self.for_)}"
        else:
            text = f"{self.metric} > {self.above:g}"
            if self.metric in EVENT_METRICS or self.metric in (
                "calls_per_minute",
                "tokens_per_minute",
            ):
                text += f" in {format_seconds(self.window)}"
            if self.for_:
                text += f", for {format_seconds(self.for_)}"
        if self.repeat:
            text += f", every {format_seconds(self.repeat)}"
        if self.match != "*" and self.metric != "no_data":
            text += f" ({'sum of ' if self.sum else ''}{self.match})"
        elif self.sum:
            text += " (sum)"
        return text


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
    #: Where to tell it (the rule's ``notify``; URLs are secrets, so not in the repr).
    notify: tuple[str, ...] = field(default=("toast",), repr=False)
    #: The rule was muted when this happened: logged and shown, but notifiers skip it.
    muted: bool = False
    #: From a built-in rule (the event toasts, the thresholds shorthand).
    builtin: bool = False


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """A rule that holds for one entity now: pending or firing."""

    rule: Rule
    entity: str
    entity_name: str
    #: "pending" or "firing".
    state: str
    #: When the condition began to hold (epoch seconds).
    since: float
    #: When it started firing (None while pending).
    firing_since: float | None
    #: The latest value, and what it is compared with.
    value: float
    threshold: float
    muted: bool = False


class MetricSource(Protocol):
    """What the engine asks each evaluation (the Monitor implements it; see
    :class:`HistoryMetrics`)."""

    def entities(self) -> Iterable[tuple[str, str, str]]:
        """(aiLlmId, name, provider) of each configuration in the latest poll.

        Returning the same list while nothing changed keeps evaluation cheap."""
        ...

    def value(self, metric: str, ai_llm_id: str, window: float) -> float | None:
        """One configuration's value of a per-configuration metric (see the module
        docstring), or None when unknown."""
        ...

    def candidates(self, metric: str, window: float, now: float) -> Collection[str] | None:
        """The configurations whose value may be above 0 (those whose counters moved
        within about ``window`` before ``now``); every other one counts as 0. None:
        all may be (the engine then asks the value of every configuration)."""
        ...

    def budgets(self) -> Sequence[tuple[str, float]]:
        """(label, percent used) of each budget."""
        ...

    def seconds_without_data(self, now: float) -> float | None:
        """None while polls succeed; else how long they have been failing."""
        ...


@dataclass(slots=True)
class _Track:
    """One (rule, entity) that is pending or firing."""

    state: str
    since: float
    value: float
    entity_name: str
    firing_since: float | None = None
    #: When the last firing or repeat event was raised.
    told_at: float = 0.0


class RuleEngine:
    """Evaluates rules after every poll and remembers which are pending or firing.

    :meth:`evaluate` returns the events of this evaluation (firing, resolved,
    repeat); :meth:`active` what holds now. A muted rule (:meth:`mute`) still
    changes state and raises events, marked ``muted`` so that notifiers skip them.
    """

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._tracks: list[dict[str, _Track]] = [{} for _ in self.rules]
        self._mutes: dict[str, float] = {}
        self._now = 0.0
        #: The entities as last seen, id -> name, and each per-configuration rule's
        #: matching ids (by rule index).
        self._entities: list[tuple[str, str, str]] = []
        self._names: dict[str, str] = {}
        self._matched: dict[int, frozenset[str]] = {}
        #: (id, name, provider) -> whether each rule's glob fits it (by rule index).
        self._fits: dict[tuple[str, str, str], tuple[bool, ...]] = {}
        self._per_config = [i for i, r in enumerate(self.rules) if r.metric in CONFIG_METRICS]
        self._globs = {
            i: re.compile(fnmatch.translate(self.rules[i].match.casefold()))
            for i in self._per_config
        }

    # ------------------------------------------------------------------ muting

    def restore(self, log: Iterable[Event]) -> int:
        """Take up where the last run left off: each (rule, entity) whose last logged
        event (``log`` oldest first) is a firing or a reminder is firing again, so
        the next evaluation resolves it, or keeps it firing without telling anyone a
        second time. Returns how many were restored. Call it before the first
        evaluation."""
        index = {rule.name: i for i, rule in enumerate(self.rules)}
        last: dict[tuple[str, str], Event] = {}
        for event in log:
            last[(event.rule, event.entity)] = event
        restored = 0
        for (rule_name, entity), event in last.items():
            i = index.get(rule_name)
            if i is None or event.state not in (FIRING, REPEAT):
                continue
            self._tracks[i][entity] = _Track(
                FIRING, event.at, event.value, event.entity_name, event.at, event.at
            )
            restored += 1
        return restored

    def mute(self, rule_name: str, until: float) -> None:
        """Keep the rule's notifications quiet until ``until`` (epoch seconds)."""
        self._mutes[rule_name] = until

    def unmute(self, rule_name: str) -> None:
        self._mutes.pop(rule_name, None)

    def is_muted(self, rule_name: str, now: float) -> bool:
        until = self._mutes.get(rule_name)
        if until is None:
            return False
        if until > now:
            return True
        del self._mutes[rule_name]
        return False

    def muted_until(self, rule_name: str) -> float | None:
        """When the rule's mute ends (None: not muted, as of the last evaluation)."""
        until = self._mutes.get(rule_name)
        return until if until is not None and until > self._now else None

    # ------------------------------------------------------------------ asking

    def active(self) -> list[ActiveAlert]:
        """What holds now: firing first, then pending, each oldest first."""
        out = [
            ActiveAlert(
                rule=rule,
                entity=key,
                entity_name=t.entity_name,
                state=t.state,
                since=t.since,
                firing_since=t.firing_since,
                value=t.value,
                threshold=_threshold(rule),
                muted=self.muted_until(rule.name) is not None,
            )
            for rule, tracks in zip(self.rules, self._tracks, strict=True)
            for key, t in tracks.items()
        ]
        out.sort(key=lambda a: (a.state != FIRING, a.since, a.rule.name, a.entity_name))
        return out

    def firing_count(self) -> int:
        """How many (rule, entity) pairs fire now (for a status bar)."""
        return sum(t.state == FIRING for tracks in self._tracks for t in tracks.values())

    # ------------------------------------------------------------------ evaluating

    def evaluate(self, source: MetricSource, now: float) -> list[Event]:
        """Evaluate every rule against ``source`` at ``now``; return what happened."""
        self._now = now
        events: list[Event] = []
        failing = source.seconds_without_data(now)
        if self._per_config and failing is None:
            self._see(source.entities())
        budgets: Sequence[tuple[str, float]] = ()
        if failing is None and any(r.metric == "budget_percent" for r in self.rules):
            budgets = source.budgets()
        for i, rule in enumerate(self.rules):
            tracks = self._tracks[i]
            muted = self.is_muted(rule.name, now) if self._mutes else False
            if rule.metric == "no_data":
                # Holds while polls fail; pending since the first failure.
                value, holds = (0.0, False) if failing is None else (failing, True)
                since = now - value
                self._step(
                    rule, tracks, WHOLE, NO_DATA_NAME, value, now, events, muted, since, holds
                )
                continue
            if failing is not None:
                self._remind(rule, tracks, now, events, muted)
                continue
            if rule.metric == "budget_percent":
                seen: set[str] = set()
                for n, (label, percent) in enumerate(budgets):
                    if glob_matches(rule.match, "", label, ""):
                        # By position too: two budgets may share a label (an unnamed
                        # USD and tokens budget on the same match and period).
                        key = f"{BUDGET_PREFIX}{n}:{label}"
                        seen.add(key)
                        self._step(rule, tracks, key, label, percent, now, events, muted)
                self._vanish(rule, tracks, seen, now, events, muted)
            elif rule.sum:
                self._summed(i, rule, source, now, events, muted)
            else:
                self._each(i, rule, source, now, events, muted)
        return events

    def _see(self, entities: Iterable[tuple[str, str, str]]) -> None:
        """Take the entities of this poll; work out which rules fit which only when
        they changed (new, renamed or gone configurations)."""
        listed = entities if isinstance(entities, list) else list(entities)
        if listed == self._entities:
            return
        self._entities = list(listed)
        self._names = {ident: name or ident for ident, name, _ in listed}
        fits, old = {}, self._fits
        globs = [(i, self._globs[i], self.rules[i].match == "*") for i in self._per_config]
        for entity in listed:
            got = old.get(entity)
            if got is None:
                ident, name, provider = entity
                texts = [t.casefold() for t in (name, ident, provider) if t]
                got = tuple(
                    star or any(rx.match(t) is not None for t in texts) for _, rx, star in globs
                )
            fits[entity] = got
        self._fits = fits
        for pos, (i, _, star) in enumerate(globs):
            if star:
                self._matched[i] = frozenset(self._names)
            else:
                self._matched[i] = frozenset(e[0] for e, got in fits.items() if got[pos])

    def _each(
        self, i: int, rule: Rule, source: MetricSource, now: float, events: list[Event], muted: bool
    ) -> None:
        """A per-configuration rule: the candidates that match, and those it tracks."""
        tracks = self._tracks[i]
        matched = self._matched.get(i, frozenset())
        candidates = source.candidates(rule.metric, rule.window, now)
        ids: Iterable[str]
        if candidates is None:
            ids = matched
        else:
            ids = matched.intersection(candidates)
            if tracks:
                ids = ids.union(k for k in tracks if k in matched)
        names, value = self._names, source.value
        for ident in ids:
            v = value(rule.metric, ident, rule.window)
            if v is not None or ident in tracks:
                self._step(rule, tracks, ident, names[ident], v, now, events, muted)
        if tracks:
            self._vanish(rule, tracks, matched, now, events, muted)

    def _summed(
        self, i: int, rule: Rule, source: MetricSource, now: float, events: list[Event], muted: bool
    ) -> None:
        """A ``sum = true`` rule: one value, the sum over the matching configurations."""
        matched = self._matched.get(i, frozenset())
        candidates = source.candidates(rule.metric, rule.window, now)
        ids = matched if candidates is None else matched.intersection(candidates)
        total, known = 0.0, False
        for ident in ids:
            v = source.value(rule.metric, ident, rule.window)
            if v is not None:
                total += v
                known = True
        # Nothing known: no data (keep the state), unless nothing can be above 0.
        value = total if known or candidates is not None or not matched else None
        self._step(rule, self._tracks[i], WHOLE, SUMMED_NAME, value, now, events, muted)

    def _step(
        self,
        rule: Rule,
        tracks: dict[str, _Track],
        key: str,
        name: str,
        value: float | None,
        now: float,
        events: list[Event],
        muted: bool,
        since: float | None = None,
        holds: bool | None = None,
    ) -> None:
        """Move one (rule, entity) on by one evaluation (the Prometheus state machine).

        ``value`` None keeps the state; ``holds`` (default: value above the rule's
        ``above``) says whether the condition holds; ``since`` backdates a new
        pending state (no_data is pending since the first failed poll)."""
        t = tracks.get(key)
        if value is None:
            if t is not None and t.state == FIRING:
                self._repeat(rule, key, t, now, events, muted)
            return
        if value > rule.above if holds is None else holds:
            if t is None:
                t = tracks[key] = _Track(PENDING, now if since is None else since, value, name)
            t.value, t.entity_name = value, name
            if t.state == PENDING:
                if now - t.since >= rule.for_:
                    t.state, t.firing_since, t.told_at = FIRING, now, now
                    events.append(_event(rule, key, t, FIRING, now, muted))
            else:
                self._repeat(rule, key, t, now, events, muted)
        elif t is not None:
            del tracks[key]
            if t.state == FIRING:
                t.value = value
                events.append(_event(rule, key, t, RESOLVED, now, muted))

    def _repeat(
        self, rule: Rule, key: str, t: _Track, now: float, events: list[Event], muted: bool
    ) -> None:
        if rule.repeat and now - t.told_at >= rule.repeat:
            t.told_at = now
            events.append(_event(rule, key, t, REPEAT, now, muted))

    def _remind(
        self, rule: Rule, tracks: dict[str, _Track], now: float, events: list[Event], muted: bool
    ) -> None:
        """No data this time: every state is kept; what fires may still remind."""
        if rule.repeat:
            for key, t in tracks.items():
                if t.state == FIRING:
                    self._repeat(rule, key, t, now, events, muted)

    def _vanish(
        self,
        rule: Rule,
        tracks: dict[str, _Track],
        present: Collection[str],
        now: float,
        events: list[Event],
        muted: bool,
    ) -> None:
        """Entities no longer there (or no longer matching): firing ones resolve at
        their last value, pending ones are forgotten."""
        for key in [k for k in tracks if k not in present]:
            t = tracks.pop(key)
            if t.state == FIRING:
                events.append(_event(rule, key, t, RESOLVED, now, muted))


def _threshold(rule: Rule) -> float:
    """What an event reports as the threshold: ``above``, or ``for`` for no_data."""
    return rule.for_ if rule.metric == "no_data" else rule.above


def _event(rule: Rule, key: str, t: _Track, state: str, now: float, muted: bool) -> Event:
    return Event(
        rule=rule.name,
        entity=key,
        entity_name=t.entity_name,
        state=state,
        value=t.value,
        threshold=_threshold(rule),
        metric=rule.metric,
        at=now,
        notify=rule.notify,
        muted=muted,
        builtin=rule.builtin,
    )


# ---------------------------------------------------------------------------- defaults


def default_rules(
    *, bell: bool = False, thresholds: Mapping[str, float] | None = None, builtin: bool = True
) -> tuple[Rule, ...]:
    """The rules a profile gets without writing any: "new violations", "new alerts"
    and "new blocks" (each increase within a minute, as a toast, and the bell when
    it is on) unless ``builtin`` is False, then the ``thresholds`` shorthand
    ("tokens per minute", "calls per minute": above the value, over a minute)."""
    notify = ("toast", "bell") if bell else ("toast",)
    out = []
    if builtin:
        out += [
            Rule(f"new {m}", m, window=BUILTIN_WINDOW, notify=notify, builtin=True)
            for m in EVENT_METRICS
        ]
    for key, name in (
        ("tokens_per_minute", "tokens per minute"),
        ("calls_per_minute", "calls per minute"),
    ):
        limit = (thresholds or {}).get(key)
        if limit is not None:
            out.append(
                Rule(
                    name,
                    key,
                    above=float(limit),
                    window=BUILTIN_WINDOW,
                    notify=notify,
                    builtin=True,
                )
            )
    return tuple(out)


# ---------------------------------------------------------------------------- a source


#: Seconds a rate's candidates look back beyond its window (a poll interval or more).
RATE_SLACK = 60.0


class HistoryMetrics:
    """A :class:`MetricSource` over a :class:`~tui.history.History`, kept cheap.

    Tell it of each overview poll (:meth:`poll_succeeded` with the poll's
    :class:`~tui.history.Changes` and ids, or :meth:`poll_failed`): it keeps, for
    each configuration, when its counters last moved and when each event counter
    last went up, so :meth:`candidates` names the few that can be above 0 without
    walking every series. ``configs`` gives names and providers (the Monitor's
    ``names``; a new mapping object means they changed), ``budgets`` the budgets'
    (label, percent) and ``cost_per_hour`` a configuration's USD per hour.
    """

    #: Activity older than this is forgotten (seconds); longer windows see none.
    KEEP = 7 * 86400.0

    def __init__(
        self,
        history: History,
        *,
        configs: Callable[[], Mapping[str, LlmConfig]] | None = None,
        budgets: Callable[[], Sequence[tuple[str, float]]] | None = None,
        cost_per_hour: Callable[[str], float | None] | None = None,
    ) -> None:
        self.history = history
        self._configs = configs or dict
        self._budgets = budgets
        self._cost = cost_per_hour
        self._ids: list[str] = []
        self._names_of: Mapping[str, LlmConfig] | None = None
        self._entities: list[tuple[str, str, str]] = []
        #: id -> its entity, as described from ``_described_from`` (the same tuple
        #: each poll, so the engine sees an unchanged list cheaply).
        self._described: dict[str, tuple[str, str, str]] = {}
        self._described_from: Mapping[str, LlmConfig] | None = None
        #: id -> when any of its counters last moved; counter index -> id -> when it
        #: last went up.
        self._moved: dict[str, float] = {}
        self._went_up: dict[int, dict[str, float]] = {i: {} for i in EVENT_COUNTER.values()}
        self._ok_at: float | None = None
        #: The last poll's tokens per minute (1-minute window) by id, when the Monitor
        #: has them: a tokens_per_minute rule over a minute reads them.
        self.token_rates: Mapping[str, float | None] = {}
        #: When this monitor's first poll came in: increases across the gap before it
        #: (a restart) are not new events.
        self._live_since = math.inf
        self._failing_since: float | None = None
        self._pruned_at = 0.0

    def poll_succeeded(self, at: float, changes: Changes, ids: Sequence[str]) -> None:
        """An overview poll taken at ``at`` was recorded: ``ids`` are its configurations."""
        self._live_since = min(self._live_since, at)
        self._ok_at, self._failing_since = at, None
        self.note_changes(at, changes)
        if ids != self._ids:
            self._ids = list(ids)
            self._names_of = None
        if at - self._pruned_at > 3600.0:
            self._pruned_at = at
            for table in (self._moved, *self._went_up.values()):
                for ident in [k for k, t in table.items() if at - t > self.KEEP]:
                    del table[ident]

    def note_changes(self, at: float, changes: Changes) -> None:
        """What a recorded poll changed (:meth:`poll_succeeded` does it for overview
        polls; call it for a drill-down's too: an increase it recorded is not seen
        again by the next overview poll, and would otherwise never be a candidate)."""
        moved = self._moved
        for ident in changes.changed:
            moved[ident] = at
        for inc in changes.events:
            self._went_up[IDX[inc.counter]][inc.ai_llm_id] = at

    def poll_failed(self, at: float) -> None:
        """An overview poll failed at ``at``."""
        if self._failing_since is None:
            self._failing_since = at

    # ------------------------------------------------------------------ MetricSource

    def entities(self) -> list[tuple[str, str, str]]:
        configs = self._configs()
        if configs is not self._names_of:
            if configs is not self._described_from:  # new names: describe all again
                self._described_from, self._described = configs, {}
            self._names_of = configs
            described = self._described
            out = []
            for ident in self._ids:
                entity = described.get(ident)
                if entity is None:
                    cfg = configs.get(ident)
                    name = cfg.name if cfg and cfg.name else ident
                    entity = described[ident] = (ident, name, (cfg and cfg.ai_type) or "")
                out.append(entity)
            if len(described) > 2 * len(out) + 1000:  # forget the configurations gone
                self._described = {e[0]: e for e in out}
            self._entities = out
        return self._entities

    def candidates(self, metric: str, window: float, now: float) -> Collection[str] | None:
        if metric in EVENT_COUNTER:
            table, since = self._went_up[EVENT_COUNTER[metric]], now - window
        else:
            # A rate covers the window and perhaps an interval more; the cost per hour
            # is taken over the last minute whatever the rule's window.
            span = max(window, RATE_SLACK) if metric == "cost_per_hour" else window
            table, since = self._moved, now - span - RATE_SLACK
        return [ident for ident, t in table.items() if t > since]

    def value(self, metric: str, ai_llm_id: str, window: float) -> float | None:
        if metric == "cost_per_hour":
            return None if self._cost is None else self._cost(ai_llm_id)
        series = self.history.get(ai_llm_id)
        if series is None:
            return None
        if metric in EVENT_COUNTER:
            got = series.increase(EVENT_COUNTER[metric], window, self._ok_at, self._live_since)
            return None if got is None else float(got)
        if metric == "calls_per_minute":
            # From the span's two ends (O(1)); it walks the span only across a reset.
            return series.span_rate(CALLS, window)
        if metric == "tokens_per_minute":
            if window == 60.0 and ai_llm_id in self.token_rates:
                return self.token_rates[ai_llm_id]  # the poll's TOK/MIN, already computed
            return series.rate_per_minute((TOKENS_IN, TOKENS_OUT), window)
        return None

    def budgets(self) -> Sequence[tuple[str, float]]:
        return () if self._budgets is None else self._budgets()

    def seconds_without_data(self, now: float) -> float | None:
        if self._failing_since is None:
            return None
        return max(0.0, now - self._failing_since)
