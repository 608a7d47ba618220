"""Typed errors shared by every layer, each with a one-line message and an exit status.

Messages are written for people ("the server refused the token") and never carry a
token: anything that came from a server is passed through :func:`one_line` first,
and the client redacts the secrets it knows before raising.
"""

from __future__ import annotations

import re

# Exit statuses, documented in `flashtop --help`.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NETWORK = 4
EXIT_SERVER = 5
EXIT_KEYRING = 6
EXIT_NO_MATCH = 7

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def one_line(text: object, limit: int = 200) -> str:
    """Return untrusted text as one printable line: no escapes, no controls, bounded length."""
    s = str(text)
    s = _ANSI.sub("", s)
    s = _CONTROL.sub(" ", s)
    s = " ".join(s.split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


class FlashtopError(Exception):
    """Base of every error flashtop reports to a person."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class OutputError(FlashtopError):
    """Standard output cannot be written (a full disk, an I/O error): exit status 1,
    with the reason in one line."""

    exit_code = EXIT_INTERNAL


class UsageError(FlashtopError):
    """Bad command line, configuration file or option value."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration file is unreadable or holds an unknown key or bad value."""


class InsecureURLError(UsageError):
    """A plain http:// base URL that does not point at this machine."""


class ApiError(FlashtopError):
    """Any failure talking to the Flashback API."""

    exit_code = EXIT_SERVER
    #: Seconds the server asked us to wait (429 Retry-After), when it said.
    retry_after: float | None = None


class NetworkError(ApiError):
    """The server could not be reached or the connection broke."""

    exit_code = EXIT_NETWORK


class ApiTimeoutError(NetworkError):
    """Connecting or reading took longer than the configured timeout."""


class TLSError(NetworkError):
    """The server's certificate could not be verified."""


class AuthError(ApiError):
    """401: the access token is missing, expired or invalid."""

    exit_code = EXIT_AUTH


class MfaRequiredError(AuthError):
    """The password was right, but the account needs a second factor to finish login.

    ``partial_token`` is the short-lived token that ``POST /mfa/verify-login`` needs
    (as Bearer); it is a secret, kept out of the message and the repr.
    """

    def __init__(self, message: str, partial_token: str) -> None:
        super().__init__(message)
        self.partial_token = partial_token

    def __repr__(self) -> str:
        return f"MfaRequiredError({self.message!r})"


class LoginNeededError(AuthError):
    """No usable credentials remain: the user has to log in again."""


class ForbiddenError(ApiError):
    """403: the account may not see this resource."""

    exit_code = EXIT_AUTH


class NotFoundError(ApiError):
    """404: the path does not exist on this server (wrong base URL?)."""


class RateLimitedError(ApiError):
    """429: too many requests; ``retry_after`` holds the server's wish when sent."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx from the server."""


class UnsuccessfulError(ApiError):
    """HTTP 200 whose body says ``success: false``."""


class BadResponseError(ApiError):
    """The body is not JSON, has the wrong shape, or is larger than the cap."""


class NoMatchError(FlashtopError):
    """A filter (``--id``) matched nothing: for a script, no data is not success."""

    exit_code = EXIT_NO_MATCH


class CredentialError(FlashtopError):
    """Tokens cannot be stored or read (no usable keyring, locked keyring, ...)."""

    exit_code = EXIT_KEYRING
