"""The bodies of ``flashtop login``, ``flashtop logout`` and ``flashtop status``.

Each returns an exit status and raises :class:`~tui.errors.FlashtopError` subclasses
for failures; the CLI prints those as one line. Prompts go to stderr so stdout stays
clean for scripts. No token or password is ever written anywhere but the store.
"""

from __future__ import annotations

import asyncio
import getpass
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from tui import credentials
from tui.client import client_for
from tui.credentials import (
    ENV_TOKEN,
    SERVICE,
    FileStore,
    KeyringProbe,
    KeyringStore,
    TokenStore,
    check_token_text,
    entry_name,
    env_token,
    file_store,
    jwt_expiry,
    no_keyring_message,
    open_store,
    probe_keyring,
)
from tui.errors import (
    EXIT_AUTH,
    EXIT_KEYRING,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_SERVER,
    EXIT_USAGE,
    AuthError,
    FlashtopError,
    ForbiddenError,
    MfaRequiredError,
    NetworkError,
    UnsuccessfulError,
    UsageError,
    one_line,
)
from tui.settings import Settings

if TYPE_CHECKING:
    from tui.pricing import PriceBook
from tui.tokens import AuthSession, TokenSet

# Bounds what --with-token reads from a pipe: two tokens, with room to spare.
_MAX_TOKEN_INPUT = 64 * 1024
_MFA_WORDS = ("mfa", "multi-factor", "two-factor", "2fa", "verify-login")


def _warner(stderr: TextIO) -> Callable[[str], None]:
    def warn(message: str) -> None:
        stderr.write(f"flashtop: warning: {message}\n")
        stderr.flush()

    return warn


# ---------------------------------------------------------------------------- time


def relative_time(expires_at: float, now: float) -> str:
    """ "in 41 min" for a future time, "expired 3 min ago" for a past one."""
    delta = expires_at - now
    secs = abs(delta)
    if secs < 60:
        amount = f"{int(secs)} s"
    elif secs < 90 * 60:
        amount = f"{round(secs / 60)} min"
    elif secs < 48 * 3600:
        hours, minutes = divmod(round(secs / 60), 60)
        amount = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    else:
        amount = f"{round(secs / 86400)} days"
    return f"in {amount}" if delta >= 0 else f"expired {amount} ago"


def describe_expiry(expires_at: float | None, now: float | None = None) -> str:
    """When an access token expires, in local time and relative to now."""
    if expires_at is None:
        return "unknown"
    now = time.time() if now is None else now
    try:
        local = datetime.fromtimestamp(expires_at).astimezone()
    except (OverflowError, OSError, ValueError):
        return "unknown (unreadable expiry time)"
    return f"{local.strftime('%Y-%m-%d %H:%M:%S %Z').strip()} ({relative_time(expires_at, now)})"


# ---------------------------------------------------------------------------- login


def _read_line(stdin: TextIO) -> str:
    # One line, without its line ending; the rest of the input is not ours to take.
    return stdin.readline(_MAX_TOKEN_INPUT).rstrip("\r\n")


def _ask_email(stdin: TextIO, stderr: TextIO) -> str:
    if not stdin.isatty():
        raise UsageError(
            "no terminal to ask for the email: use --email E --password-stdin, or --with-token"
        )
    stderr.write("Email: ")
    stderr.flush()
    return _read_line(stdin)


def _ask_password(stdin: TextIO, stderr: TextIO, from_stdin: bool) -> str:
    if from_stdin:
        password = _read_line(stdin)
        if not password:
            raise UsageError("no password on stdin (--password-stdin reads its first line)")
        return password
    if not stdin.isatty():
        raise UsageError(
            "no terminal to ask for the password: use --email E --password-stdin, or --with-token"
        )
    password = getpass.getpass("Password: ", stream=stderr)
    if not password:
        raise UsageError("no password given")
    return password


def _read_tokens(stdin: TextIO, stderr: TextIO) -> TokenSet:
    """An access token and maybe a refresh token, from a pipe or typed without echo."""
    if stdin.isatty():
        access = getpass.getpass("Access token: ", stream=stderr).strip()
        refresh = getpass.getpass(
            "Refresh token (optional, press Enter to skip): ", stream=stderr
        ).strip()
        lines = [t for t in (access, refresh) if t]
    else:
        text = stdin.read(_MAX_TOKEN_INPUT + 1)
        if len(text) > _MAX_TOKEN_INPUT:
            raise UsageError("too much input on stdin for --with-token")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise UsageError("no access token on stdin (--with-token reads one, or two lines)")
    if len(lines) > 2:
        raise UsageError(
            "--with-token expects at most two lines: an access token, then a refresh token"
        )
    check_token_text(lines[0], "the access token")
    if len(lines) == 2:
        check_token_text(lines[1], "the refresh token")
    return TokenSet(
        access_token=lines[0],
        refresh_token=lines[1] if len(lines) == 2 else None,
        expires_at=jwt_expiry(lines[0]),
    )


#: Asks for the one-time code once the password is accepted: (server message) -> code.
CodePrompt = Callable[[str], str]


def _code_prompt(stdin: TextIO, stderr: TextIO, from_stdin: bool) -> CodePrompt:
    """The MFA code comes from the terminal, or with --password-stdin from the next line."""

    def ask(message: str) -> str:
        if from_stdin:
            code = _read_line(stdin).strip()
            if not code:
                raise UsageError(
                    "this account needs an MFA code: with --password-stdin, put the "
                    "code from your authenticator app on the line after the password"
                )
            return code
        if not stdin.isatty():
            raise UsageError("this account needs an MFA code and there is no terminal to ask")
        stderr.write(f"{one_line(message, 160)}\n")
        # A one-time code, asked without echo all the same: it is a secret until used.
        code = getpass.getpass("MFA code (authenticator app): ", stream=stderr).strip()
        if not code:
            raise UsageError("no MFA code given")
        return code

    return ask


async def _password_login(
    settings: Settings, email: str, password: str, ask_code: CodePrompt | None = None
) -> TokenSet:
    session = AuthSession(None, source="login")
    async with client_for(settings, session) as client:
        try:
            return await client.login(email, password)
        except MfaRequiredError as exc:
            if ask_code is None:
                raise
            # The prompt blocks: keep it off the event loop.
            code = await asyncio.to_thread(ask_code, exc.message)
            tokens = await client.verify_mfa_login(exc.partial_token, code)
            if tokens.expires_at is None:
                tokens.expires_at = jwt_expiry(tokens.access_token)
            return tokens
        except UnsuccessfulError as exc:
            # success:false is the server refusing this login: an authentication
            # failure for the exit status, with the server's own words kept.
            message = exc.message
            if any(word in message.lower() for word in _MFA_WORDS):
                message += (
                    " (this account uses multi-factor authentication, which flashtop cannot "
                    "complete; get a token from Flashback and use `flashtop login --with-token`)"
                )
            raise AuthError(message) from None


async def _check_token(settings: Settings, tokens: TokenSet) -> TokenSet:
    """Ask the API once (``GET /ai/llm/stats``, what the monitor polls) whether it
    takes ``tokens``; the tokens to store (refreshed ones, if the access token had to
    be refreshed on the way). Raises with "nothing stored" in the message."""
    session = AuthSession(tokens, source="the given token")
    try:
        async with client_for(settings, session) as client:
            await client.get_stats()
    except ForbiddenError as exc:
        raise AuthError(
            f"the server accepted the token but refuses it usage statistics ({exc.message}); "
            "nothing stored"
        ) from None
    except AuthError as exc:
        raise AuthError(f"the server rejected the token ({exc.message}); nothing stored") from None
    except FlashtopError as exc:
        # Same type, same exit status (network, server ...), with what it means here.
        exc.message = f"could not check the token with the server: {exc.message}; nothing stored"
        raise exc from None
    return session.tokens or tokens


async def _revoke_quietly(
    settings: Settings, tokens: TokenSet, warn: Callable[[str], None]
) -> None:
    """Revoke a refresh token that could not be stored, so none is left live."""
    if not tokens.refresh_token:
        return
    try:
        await _revoke(settings, tokens)
    except FlashtopError as exc:
        warn(
            f"could not revoke the new refresh token on the server ({exc.message}); "
            "it stays valid until it expires"
        )
    else:
        warn("the new refresh token was revoked on the server, since it could not be stored")


def login_command(
    settings: Settings,
    *,
    email: str | None,
    password_stdin: bool,
    with_token: bool,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    env: Mapping[str, str],
) -> int:
    """Log in with email and password (or store a given token) and keep the tokens."""
    warn = _warner(stderr)
    if with_token and (email is not None or password_stdin):
        raise UsageError("--with-token cannot be combined with --email or --password-stdin")
    if password_stdin and not email:
        raise UsageError("--password-stdin needs --email E")
    # The store comes first: nobody should type a password only to learn that
    # there is nowhere to keep the tokens, and no live refresh token should be made
    # on the server that cannot be kept (a file store in a read-only directory).
    store = open_store(settings, warn=warn, at_login=True)
    if isinstance(store, FileStore):
        store.check_writable()
    if env_token(env) is not None:
        warn(f"{ENV_TOKEN} is set and wins over stored tokens; unset it to use this login")

    if with_token:
        # A token the server refuses is never stored: one request says so now, not
        # the first poll later.
        tokens = asyncio.run(_check_token(settings, _read_tokens(stdin, stderr)))
        who = "with the given token"
    else:
        address = (email if email is not None else _ask_email(stdin, stderr)).strip()
        if not address:
            raise UsageError("no email given")
        password = _ask_password(stdin, stderr, password_stdin)
        ask_code = _code_prompt(stdin, stderr, password_stdin)
        tokens = asyncio.run(_password_login(settings, address, password, ask_code))
        who = f"as {one_line(address, 120)}"

    try:
        store.save(tokens)
    except FlashtopError:
        if not with_token:
            # Ours alone (a fresh login): revoke it rather than leave it live unstored.
            asyncio.run(_revoke_quietly(settings, tokens, warn))
        raise
    refresh = "with a refresh token" if tokens.refresh_token else "without a refresh token"
    stdout.write(
        f"Logged in to {settings.base_url} {who} (profile '{settings.profile}').\n"
        f"Tokens stored in {store.description}, {refresh}.\n"
        f"Access token expires: {describe_expiry(tokens.expires_at)}.\n"
    )
    if not tokens.refresh_token:
        stdout.write("Without a refresh token, run `flashtop login` again when it expires.\n")
    return EXIT_OK


# ---------------------------------------------------------------------------- logout


async def _revoke(settings: Settings, tokens: TokenSet) -> None:
    async with client_for(settings, AuthSession(None, source="logout")) as client:
        await client.revoke(tokens)


def logout_command(
    settings: Settings, *, stdout: TextIO, stderr: TextIO, env: Mapping[str, str]
) -> int:
    """Revoke the stored refresh token (best effort) and delete the stored tokens."""
    warn = _warner(stderr)
    if env_token(env) is not None:
        warn(f"{ENV_TOKEN} is set in the environment; logout cannot remove it, unset it yourself")
    store = open_store(settings, warn=warn)
    tokens = store.load()
    where = f"profile '{settings.profile}' at {settings.base_url}"
    if tokens is None:
        # An unreadable entry still occupies the store; remove it all the same.
        removed = store.delete()
        if removed:
            stdout.write(f"Removed unreadable stored tokens for {where}.\n")
        else:
            stdout.write(f"Not logged in: no tokens stored for {where}.\n")
        return EXIT_OK

    if tokens.refresh_token:
        try:
            asyncio.run(_revoke(settings, tokens))
            stdout.write("Refresh token revoked on the server.\n")
        except NetworkError as exc:
            warn(
                f"could not reach the server to revoke the refresh token ({exc.message}); "
                "removing the local copy anyway"
            )
        except FlashtopError as exc:
            warn(
                f"the server did not revoke the refresh token ({exc.message}); "
                "removing the local copy anyway"
            )
    else:
        stdout.write("No refresh token to revoke; the access token stays valid until it expires.\n")
    store.delete()
    stdout.write(f"Logged out: removed the tokens for {where} from {store.description}.\n")
    return EXIT_OK


# ---------------------------------------------------------------------------- status


async def _health(settings: Settings) -> tuple[str, FlashtopError | None]:
    """What to report about the API, and the failure when it does not answer."""
    started = time.monotonic()
    try:
        async with client_for(settings, AuthSession(None, source="status")) as client:
            await client.health()
    except FlashtopError as exc:
        return f"not answering: {exc.message}", exc
    return f"answers (GET /health ok in {(time.monotonic() - started) * 1000:.0f} ms)", None


#: `flashtop status`: when several problems are found, the first of these is the exit
#: status (documented in `flashtop status --help`).
STATUS_EXIT_ORDER = (EXIT_USAGE, EXIT_NETWORK, EXIT_SERVER, EXIT_KEYRING, EXIT_AUTH)


def status_exit(problems: list[int]) -> int:
    """The exit status of `flashtop status` for the problems found (see STATUS_EXIT_ORDER)."""
    for code in STATUS_EXIT_ORDER:
        if code in problems:
            return code
    return min(problems) if problems else EXIT_OK


def _describe_probe(probe: KeyringProbe) -> str:
    if probe.usable:
        return f"{probe.backend} (usable)"
    return f"{probe.backend} (not usable: {probe.reason})"


def _stored(store: TokenStore) -> tuple[TokenSet | None, FlashtopError | None]:
    try:
        return store.load(), None
    except FlashtopError as exc:
        return None, exc


def _price_rows(settings: Settings, tokens: TokenSet | None) -> list[tuple[str, str]]:
    """The price table in use and which configurations it cannot price."""
    if not settings.models:
        return [("prices", "none: the profile names no models ([profiles.NAME.models])")]
    from tui.pricing import build_pricebook

    try:
        book = build_pricebook(
            settings.models, settings.prices, settings.config_path, settings.profile
        )
    except FlashtopError as exc:
        return [("prices", f"error: {exc.message}")]
    table = book.table.describe() if book.table else "the profile's own prices only"
    rows = [("prices", f"{table}; {len(book.prices)} model(s) named")]
    if tokens is None:
        return [*rows, ("unpriced", "not checked: not logged in")]
    if tokens.expires_at is not None and tokens.expires_at <= time.time():
        return [*rows, ("unpriced", "not checked: the access token has expired")]
    try:
        names = asyncio.run(_unpriced(settings, tokens.access_token, book))
    except FlashtopError as exc:
        return [*rows, ("unpriced", f"not checked: {exc.message}")]
    shown = ", ".join(one_line(n, 40) for n in names[:8]) + (", ..." if len(names) > 8 else "")
    return [*rows, ("unpriced", f"{len(names)}" + (f" ({shown})" if names else ""))]


async def _unpriced(settings: Settings, access_token: str, book: PriceBook) -> list[str]:
    """Names of the configurations the profile gives no model or price (one request,
    with the access token only: status never refreshes, which would rotate tokens)."""
    session = AuthSession(TokenSet(access_token), source="status")
    async with client_for(settings, session) as client:
        configs = await client.get_llms()
    return [c.name or c.id for c in configs if book.price_for(c.id, c.name or c.id) is None]


def status_command(
    settings: Settings, *, stdout: TextIO, stderr: TextIO, env: Mapping[str, str]
) -> int:
    """Report where credentials come from, the keyring, the base URL and reachability.

    The report is always printed; the exit status says whether all is well (0) or
    the first problem found (see :data:`STATUS_EXIT_ORDER`): the API not answering,
    no usable keyring, no usable credential. It never prints a token and never
    refreshes one (that would rotate the stored refresh token).
    """
    warn = _warner(stderr)
    problems: list[int] = []
    probe = probe_keyring(credentials.DEFAULT_TIMEOUT)
    rows: list[tuple[str, str]] = [
        ("profile", settings.profile),
        ("base URL", settings.base_url),
        ("keyring", _describe_probe(probe)),
    ]
    tokens: TokenSet | None = None
    notes: list[str] = []
    if env_token(env) is not None:
        token = env_token(env) or ""
        tokens = TokenSet(access_token=token, expires_at=jwt_expiry(token))
        rows.append(("credentials", f"the {ENV_TOKEN} environment variable (wins over stored)"))
    else:
        store: TokenStore | None = None
        if settings.insecure_storage or settings.credential_store == "file":
            store = file_store(settings, warn=warn, at_login=False)
        elif probe.usable:
            store = KeyringStore(settings.profile, settings.base_url, backend=probe.backend)
        if store is None:
            rows.append(("credentials", "none: no usable keyring"))
            notes.append(no_keyring_message(probe.reason or "unknown reason"))
            problems.append(EXIT_KEYRING)
        else:
            tokens, problem = _stored(store)
            entry = entry_name(settings.profile, settings.base_url)
            if isinstance(store, KeyringStore):
                where = f"{store.description}, service '{SERVICE}', entry '{entry}'"
            else:
                where = store.description
            if problem is not None:
                rows.append(("credentials", f"{where}: cannot be read: {problem.message}"))
                problems.append(problem.exit_code)
            elif tokens is None:
                rows.append(("credentials", f"{where}: nothing stored"))
            else:
                rows.append(("credentials", where))

    if tokens is None:
        rows.append(("logged in", "no (run `flashtop login`)"))
        problems.append(EXIT_AUTH)
    else:
        kinds = "access token and refresh token" if tokens.refresh_token else "access token only"
        rows.append(("logged in", f"yes ({kinds})"))
        expiry = describe_expiry(tokens.expires_at)
        expired = tokens.expires_at is not None and tokens.expires_at <= time.time()
        if tokens.refresh_token and (expired or tokens.expires_at is None):
            expiry += "; refreshed automatically on next use"
        elif expired:
            expiry += "; cannot be refreshed: log in again or set a new token"
            problems.append(EXIT_AUTH)
        rows.append(("token expires", expiry))

    try:
        api, api_problem = asyncio.run(_health(settings))
    except FlashtopError as exc:  # e.g. an unreadable CA bundle
        api, api_problem = f"not checked: {exc.message}", exc
    if api_problem is not None:
        problems.append(api_problem.exit_code)
    rows.append(("API", api))
    rows += _price_rows(settings, tokens)

    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        stdout.write(f"{(label + ':').ljust(width)}{one_line(value, 400)}\n")
    for note in notes:
        stdout.write(f"\n{note}\n")
    return status_exit(problems)
