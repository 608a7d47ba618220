"""Alert rules end to end: a block on the demo fires a rule that posts to a real JSON
sink, resolves after its window, shows on the alerts screen (`a`), and is in the log
that `flashtop alerts --json` prints after the monitor has stopped."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import pytest
from test_notify import Sink, _no_proxy  # noqa: F401  (autouse: loopback, no proxy)
from textual.widgets import DataTable
from ui_helpers import advance, running, wait_for

from tui.counters import IDX
from tui.export import alerts_command
from tui.rules import Rule
from tui.screens.alerts import AlertsScreen
from tui.screens.detail import DetailScreen
from tui.settings import Settings

BLOCKS = IDX["totalBlocks"]
STEP = 5.0


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


def table_text(screen: AlertsScreen) -> str:
    table = screen.query_one(DataTable)
    return "\n".join(
        " ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)
    )


async def test_a_block_fires_notifies_resolves_and_is_logged(sink: Sink) -> None:
    rule = Rule(
        name="any block",
        metric="blocks",
        match="prompt-*",
        above=0,
        window=20.0,
        notify=("toast", sink.url()),
    )
    changes = {"rules": (rule,)}
    async with running(settings_changes=changes, keep_history=True) as h:
        monitor = h.app.monitor
        ident = h.id_of("prompt-playground")

        def states() -> list[str]:
            return [e.state for e in monitor.alert_log if e.rule == "any block"]

        # Poll every 5 s until the demo's next block: the rule fires at that poll.
        for _ in range(60):
            before = h.row(ident).values[BLOCKS]
            await advance(h, STEP)
            if h.row(ident).values[BLOCKS] != before:
                break
        else:
            pytest.fail("no block in 5 minutes of the demo")
        assert states() == ["firing"]
        assert monitor.rules.firing_count() == 1
        assert "1 firing" in h.status_text()
        # Delivered to the sink within two poll intervals (real seconds here: the
        # delivery thread does not run on the fake clock).
        deadline = time.monotonic() + 2 * STEP
        while not sink.received and time.monotonic() < deadline:
            await h.pilot.pause(0.05)  # type: ignore[union-attr]
        assert len(sink.received) == 1
        body = sink.received[0][1]
        assert body["rule"] == "any block" and body["state"] == "firing"
        assert body["configuration"]["id"] == ident
        assert body["configuration"]["name"] == "prompt-playground"

        # Quiet for the 20 s window: resolved, and told once.
        for _ in range(12):
            await advance(h, STEP)
            if "resolved" in states():
                break
        assert states()[:2] == ["firing", "resolved"]
        await wait_for(h.pilot, lambda: len(sink.received) >= 2, message="resolved delivered")  # type: ignore[arg-type]
        assert sink.received[1][1]["state"] == "resolved"

        # The alerts screen lists both; enter opens the configuration.
        assert h.pilot is not None
        await h.pilot.press("a")
        await wait_for(h.pilot, lambda: isinstance(h.app.screen, AlertsScreen), message="a")
        screen = h.app.screen
        assert isinstance(screen, AlertsScreen)
        text = table_text(screen)
        assert "firing" in text and "resolved" in text and "prompt-playground" in text
        await h.pilot.press("m")
        assert monitor.rules.is_muted("any block", monitor.clock())
        await h.pilot.press("enter")
        await wait_for(h.pilot, lambda: isinstance(h.app.screen, DetailScreen), message="open")
        settings: Settings = monitor.settings
    # After the monitor stopped (its history file closed): `flashtop alerts --json`.
    out, err = io.StringIO(), io.StringIO()
    assert alerts_command(settings, None, True, out, err) == 0, err.getvalue()
    logged = [e for e in json.loads(out.getvalue()) if e["rule"] == "any block"]
    assert [e["state"] for e in logged][:2] == ["firing", "resolved"]
    assert sink.url() not in out.getvalue()


async def test_many_events_in_one_poll_are_one_toast() -> None:
    from tui.toasts import ToastGate

    async with running() as h:
        app = h.app
        app.toasts = ToastGate()
        app.clear_notifications()
        from tui.alerts import Alert

        app._raise_alerts([Alert(f"cfg-{i}", "+1 violation", "warning") for i in range(7)])
        assert h.pilot is not None
        await h.pilot.pause()
        assert len(app._notifications) == 1
        (toast,) = app._notifications
        assert toast.title == "7 alerts"
