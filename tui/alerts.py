"""Alerts for a face to show (toasts, the bell); the rules that raise most of them
live in tui/rules.py, and counter resets are told here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tui.counters import BY_API
from tui.fmt import safe_text
from tui.history import Changes


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing worth a toast (and perhaps the bell)."""

    title: str
    message: str
    severity: str  # "information", "warning" or "error"
    #: Show it as a toast; ring the terminal bell for it.
    toast: bool = True
    bell: bool = False


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
