"""Who tells the world about a profile's alert rules when two flashtops watch it.

A daemon and a TUI on the same profile both evaluate the rules (each shows them), but
only one of them may log the events in the shared history file and send the webhooks,
or every notification goes out twice. The one that holds an advisory lock on
``history-<profile>.rules.lock`` beside the history file does; the other keeps its
events to itself and tries again at its next poll, so the duty moves when the holder
stops. ``flock`` locks go with the process: a crashed holder frees it at once.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on this platform: every process tells (as before)
    fcntl = None  # type: ignore[assignment]


class RulesLock:
    """An advisory, non-blocking, per-profile lock; :meth:`held` tries to take it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def held(self) -> bool:
        """True when this process holds the lock (taking it now if it is free)."""
        if self._fd is not None:
            return True
        if fcntl is None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return True  # no place for a lock file: tell, as a lone process would
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the descriptor frees the flock
            self._fd = None
