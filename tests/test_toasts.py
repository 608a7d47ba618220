"""At most one toast per poll, rate-limited, and escape dismisses them."""

from __future__ import annotations

from ui_helpers import running

from tui.alerts import Alert
from tui.toasts import MIN_GAP, ToastGate, summary


def alert(name: str, severity: str = "warning") -> Alert:
    return Alert(title=name, message="+1 violation", severity=severity)


def test_a_poll_with_many_alerts_is_one_toast_naming_the_first_and_counting_the_rest() -> None:
    shown = summary([alert(f"cfg-{i}") for i in range(5)] + [alert("bad", "error")])
    assert shown.title == "6 alerts"
    assert shown.severity == "error"
    assert "cfg-0" in shown.message and "and 3 more" in shown.message
    one = alert("solo")
    assert summary([one]) is one


def test_toasts_are_rate_limited_and_held_alerts_join_the_next() -> None:
    gate = ToastGate()
    assert gate.offer([alert("a")], 100.0) is not None
    assert gate.offer([alert("b")], 101.0) is None  # too soon: held
    assert gate.offer([alert("c")], 102.0) is None
    assert gate.waiting
    assert gate.due(100.0 + MIN_GAP - 0.1) is None
    later = gate.due(100.0 + MIN_GAP)
    assert later is not None and later.title == "2 alerts"
    assert "b:" in later.message and "c:" in later.message
    assert not gate.waiting
    assert gate.offer([], 500.0) is None  # nothing to say


async def test_escape_dismisses_the_toasts() -> None:
    async with running() as h:
        assert h.pilot is not None
        h.app.notify("something", title="x")
        await h.pilot.pause()
        assert h.app._notifications
        await h.pilot.press("escape")
        await h.pilot.pause()
        assert not h.app._notifications
