"""Alerts: new violations, alerts and blocks, and rate thresholds being crossed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from tui.counters import BY_API
from tui.fmt import compact, safe_text
from tui.history import Changes


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing worth a toast (and perhaps the bell)."""

    title: str
    message: str
    severity: str  # "information", "warning" or "error"


def event_alerts(changes: Changes, name_of: Callable[[str], str]) -> list[Alert]:
    """One alert per configuration whose violations, alerts or blocks went up."""
    per_id: dict[str, list[str]] = {}
    severe: set[str] = set()
    for inc in changes.events:
        counter = BY_API[inc.counter]
        one, many = counter.words or (counter.short, counter.short)
        per_id.setdefault(inc.ai_llm_id, []).append(
            f"+{compact(inc.delta)} {one if inc.delta == 1 else many}"
        )
        if counter.severe:
            severe.add(inc.ai_llm_id)
    return [
        Alert(
            title=safe_text(name_of(ident), 40),
            message=", ".join(parts),
            severity="error" if ident in severe else "warning",
        )
        for ident, parts in per_id.items()
    ]


def reset_alerts(changes: Changes, name_of: Callable[[str], str]) -> list[Alert]:
    """One note per configuration whose counters went down (the server reset them):
    the growth shown for that interval is what accumulated since the reset."""
    per_id: dict[str, list[str]] = {}
    for ident, counter in changes.resets:
        per_id.setdefault(ident, []).append(BY_API[counter].long)
    return [
        Alert(
            title=safe_text(name_of(ident), 40),
            message=f"counters went down (reset on the server): {', '.join(names)}",
            severity="information",
        )
        for ident, names in per_id.items()
    ]


class RateWatch:
    """Raises an alert when a configuration's rate crosses a threshold (once per crossing)."""

    def __init__(self, thresholds: Mapping[str, float]) -> None:
        self.tokens_per_minute = thresholds.get("tokens_per_minute")
        self.calls_per_minute = thresholds.get("calls_per_minute")
        self._above: set[tuple[str, str]] = set()

    def check(
        self, rates: Iterable[tuple[str, float | None, float | None]], name_of: Callable[[str], str]
    ) -> list[Alert]:
        """``rates``: (id, tokens per minute, calls per minute) for each configuration."""
        out: list[Alert] = []
        for ident, tok, calls in rates:
            for kind, value, limit, unit in (
                ("tokens", tok, self.tokens_per_minute, "tokens/min"),
                ("calls", calls, self.calls_per_minute, "calls/min"),
            ):
                if limit is None or value is None:
                    continue
                key = (ident, kind)
                if value > limit and key not in self._above:
                    self._above.add(key)
                    out.append(
                        Alert(
                            title=safe_text(name_of(ident), 40),
                            message=f"{compact(round(value))} {unit} (threshold {compact(limit)})",
                            severity="warning",
                        )
                    )
                elif value <= limit:
                    self._above.discard(key)
        return out
