"""The optional debug log (``--log-file``), with secrets redacted on the way out."""

from __future__ import annotations

import logging
import os
import re
import weakref
from collections.abc import Callable
from typing import Protocol

from tui.errors import UsageError, one_line

_PATTERNS = (
    re.compile(r"(?i)(authorization\s*[:=]\s*)(bearer\s+)?\S+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)([\"']?(?:access_?token|refresh_?token|password|token)[\"']?\s*[:=]\s*[\"']?)"
        r"[^\"'\s,}]+"
    ),
)


class _HasSecrets(Protocol):
    def secrets(self) -> tuple[str, ...]: ...


#: Every live session's tokens, so the log can redact them by value and not only
#: by shape. Weak: a session that is gone takes its tokens with it.
_SESSIONS: weakref.WeakSet[_HasSecrets] = weakref.WeakSet()


def track_secrets(holder: _HasSecrets) -> None:
    """Redact ``holder.secrets()`` (current tokens) from the debug log from now on."""
    _SESSIONS.add(holder)


def known_secrets() -> tuple[str, ...]:
    return tuple(s for holder in list(_SESSIONS) for s in holder.secrets())


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove known secrets and anything shaped like a token field or header."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites every record so no token or password reaches the log file."""

    def __init__(self, secrets: Callable[[], tuple[str, ...]]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message, self._secrets())
        record.args = None
        if record.exc_info:
            # Formatted tracebacks could quote locals; keep the type and a redacted text.
            exc = record.exc_info[1]
            record.msg += f" [{type(exc).__name__}: {redact(str(exc), self._secrets())}]"
            record.exc_info = None
            record.exc_text = None
        return True


def setup_log_file(path: str | None, secrets: Callable[[], tuple[str, ...]]) -> None:
    """Send flashtop's debug log to ``path`` (mode 0600); without a path, log nothing."""
    root = logging.getLogger("flashtop")
    root.propagate = False
    if not path:
        root.addHandler(logging.NullHandler())
        return
    try:
        # Opened now, before any work: a log that cannot be written is a usage error
        # at the start, not a crash in the middle of a command.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise UsageError(
            f"cannot open the log file {one_line(path, 200)}: {exc.strerror or exc}"
        ) from None
    handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
