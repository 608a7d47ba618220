"""Messages between the screens and the app, so no screen needs to know the app class."""

from __future__ import annotations

import asyncio
import contextlib

from textual.message import Message

from tui.alerts import Alert
from tui.monitor import Monitor, PollUpdate

#: How long the poller waits at most for a poll to be shown before it goes on.
SHOW_TIMEOUT = 10.0


class Polled(Message, bubble=False):
    """An overview poll of ``monitor`` was recorded; the screen that shows it calls
    :meth:`done` (with the exception that stopped it, if one did)."""

    def __init__(self, monitor: Monitor, update: PollUpdate) -> None:
        super().__init__()
        self.monitor = monitor
        self.update = update
        self._shown = asyncio.Event()
        self._error: Exception | None = None

    def done(self, error: Exception | None = None) -> None:
        self._error = error
        self._shown.set()

    async def shown(self, timeout: float = SHOW_TIMEOUT) -> None:
        """Wait until the screen showed the poll (or ``timeout`` passed); raise what
        stopped it from showing, so the poller reports it and carries on."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._shown.wait(), timeout)
        if self._error is not None:
            raise self._error


class SelectConfig(Message):
    """Put the overview's cursor on this configuration (the drill-down moved)."""

    def __init__(self, ai_llm_id: str) -> None:
        super().__init__()
        self.ai_llm_id = ai_llm_id


class RaiseAlerts(Message):
    """Alerts from a drill-down's poll, for the app to show (toast, bell)."""

    def __init__(self, alerts: list[Alert]) -> None:
        super().__init__()
        self.alerts = alerts


class LoginWanted(Message):
    """The user asked to log in again."""
