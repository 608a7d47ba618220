"""Alerts: new violations, alerts and blocks, and rate thresholds being crossed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from tui.fmt import compact, safe_text
from tui.history import Changes

_WORDS = {
    "totalPolicyViolations": ("violation", "violations"),
    "totalAlerts": ("alert", "alerts"),
    "totalBlocks": ("block", "blocks"),
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing worth a toast (and perhaps the bell)."""

    title: str
    message: str
    severity: str  # "warning" or "error"


def event_alerts(changes: Changes, name_of: Callable[[str], str]) -> list[Alert]:
    """One alert per configuration whose violations, alerts or blocks went up."""
    per_id: dict[str, list[str]] = {}
    severe: set[str] = set()
    for inc in changes.events:
        one, many = _WORDS[inc.counter]
        per_id.setdefault(inc.ai_llm_id, []).append(
            f"+{compact(inc.delta)} {one if inc.delta == 1 else many}"
        )
        if inc.counter == "totalBlocks":
            severe.add(inc.ai_llm_id)
    return [
        Alert(
            title=safe_text(name_of(ident), 40),
            message=", ".join(parts),
            severity="error" if ident in severe else "warning",
        )
        for ident, parts in per_id.items()
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
