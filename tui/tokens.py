"""Access and refresh tokens held in memory, and when they expire.

This is the wire layer's view of credentials. Where tokens are *stored* (keyring,
environment, file) is :mod:`tui.credentials`' business; it hands a :class:`TokenSet`
to an :class:`AuthSession` and gets rotated tokens back through ``persist``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Epoch values above this are milliseconds: 1e11 seconds is the year 5138.
_MILLIS_THRESHOLD = 100_000_000_000
_NUMERIC = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)


def iso_seconds(text: str) -> float | None:
    """An ISO 8601 date-time (``Z`` or an offset; none means UTC) as epoch seconds."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_expires_at(value: object) -> float | None:
    """Read ``expiresAt`` as ISO 8601, epoch seconds or epoch milliseconds.

    Returns epoch seconds, or None when the value is absent or unreadable (the
    caller then relies on the first 401 to trigger a refresh).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _NUMERIC.fullmatch(text):
            number = float(text)
        else:
            return iso_seconds(text)
    else:
        return None
    if number <= 0 or number != number:  # NaN is not a time
        return None
    return number / 1000.0 if number >= _MILLIS_THRESHOLD else number


@dataclass(slots=True)
class TokenSet:
    """An access token, perhaps a refresh token, and when the access token expires."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    #: Epoch seconds, or None when unknown.
    expires_at: float | None = None
    #: Epoch seconds when we received this access token.
    obtained_at: float = field(default_factory=time.time)

    def __repr__(self) -> str:
        return (
            f"TokenSet(access_token=<redacted>, refresh_token="
            f"{'<redacted>' if self.refresh_token else None}, expires_at={self.expires_at!r})"
        )

    def to_json(self) -> str:
        """Serialise for the keyring (one entry holds the whole set)."""
        return json.dumps(
            {
                "accessToken": self.access_token,
                "refreshToken": self.refresh_token,
                "expiresAt": self.expires_at,
                "obtainedAt": self.obtained_at,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TokenSet | None:
        """Inverse of :meth:`to_json`; None when the stored entry is unusable."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("accessToken"), str):
            return None
        refresh = data.get("refreshToken")
        obtained = data.get("obtainedAt")
        return cls(
            access_token=data["accessToken"],
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=parse_expires_at(data.get("expiresAt")),
            obtained_at=float(obtained) if isinstance(obtained, int | float) else time.time(),
        )

    def secrets(self) -> tuple[str, ...]:
        """The strings that must never be shown."""
        return tuple(s for s in (self.access_token, self.refresh_token) if s)


class AuthSession:
    """The tokens one client uses, whether they can be refreshed, and why not.

    ``login_needed`` holds a one-line reason once refreshing is impossible or has
    failed; from then on requests fail at once instead of looping against the
    server, until :meth:`replace` installs new tokens (a new login).
    """

    def __init__(
        self,
        tokens: TokenSet | None,
        *,
        source: str,
        persist: Callable[[TokenSet], None] | None = None,
        reload: Callable[[], TokenSet | None] | None = None,
        clock: Callable[[], float] = time.time,
        max_margin: float = 60.0,
    ) -> None:
        self.tokens = tokens
        self.source = source
        self.persist = persist
        #: Reads the stored tokens again: another flashtop on the same profile may
        #: have rotated the refresh token since we loaded it.
        self.reload = reload
        self.clock = clock
        self.max_margin = max_margin
        self.login_needed: str | None = None if tokens else "not logged in"
        self.refresh_count = 0
        #: Last failure to write rotated tokens back to storage, if any.
        self.persist_error: str | None = None

    @property
    def can_refresh(self) -> bool:
        return bool(self.tokens and self.tokens.refresh_token)

    def replace(self, tokens: TokenSet) -> None:
        """Install new tokens (after a login) and clear any login-needed state."""
        self.tokens = tokens
        self.login_needed = None

    def needs_refresh_soon(self) -> bool:
        """True when the access token expires within the margin and can be refreshed."""
        t = self.tokens
        if t is None or t.expires_at is None or not t.refresh_token:
            return False
        lifetime = max(t.expires_at - t.obtained_at, 0.0)
        # Refresh a little before expiry: a fifth of the lifetime, at most a minute.
        margin = min(self.max_margin, lifetime / 5)
        return self.clock() >= t.expires_at - margin

    def secrets(self) -> tuple[str, ...]:
        return self.tokens.secrets() if self.tokens else ()

    def __repr__(self) -> str:
        return f"AuthSession(source={self.source!r}, tokens={self.tokens!r})"
