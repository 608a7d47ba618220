"""Where flashtop's tokens come from and where rotated tokens go back to.

Order of sources, first match wins:

1. ``FLASHBACK_TOKEN`` in the environment: an access token only, never stored,
   never refreshed (the client says so when the server refuses it).
2. With ``--insecure-storage`` (or ``FLASHTOP_INSECURE_STORAGE=1``): a JSON file,
   mode 0600, in the platform config dir. Opt-in only, with a warning on every run.
3. The OS keyring through :mod:`keyring`, one entry per profile and base URL holding
   the whole :class:`~tui.tokens.TokenSet` as JSON.

Tokens are never taken from a command-line argument (they would show in ``ps``).

Keyring calls can hang (a locked collection waiting for an unlock prompt nobody
will see on a server), so every call runs in a daemon thread with a time limit.
A keyring that cannot keep secrets (keyring's ``fail`` or ``null`` backend, a
chainer with nothing behind it, a ``keyrings.alt`` file backend) counts as no
keyring at all, and flashtop then stops with :data:`NO_KEYRING_HELP` instead of
quietly writing plain text.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from tui.errors import CredentialError, UsageError, one_line
from tui.settings import Settings, config_dir
from tui.tokens import AuthSession, TokenSet, parse_expires_at

log = logging.getLogger("flashtop.credentials")

#: The keyring "service" under which every flashtop entry lives.
SERVICE = "flashtop"
#: The environment variable holding an access token that wins over stored tokens.
ENV_TOKEN = "FLASHBACK_TOKEN"
#: Seconds a keyring call may take before the keyring counts as unusable.
DEFAULT_TIMEOUT = 5.0
#: Values of :attr:`Credentials.source`.
SOURCE_ENV = "FLASHBACK_TOKEN"
SOURCE_KEYRING = "keyring"
SOURCE_FILE = "insecure file"

NOT_LOGGED_IN = "not logged in: run `flashtop login`"

# One short paragraph: with a reason in front it still fits the CLI's one-line
# error (about 400 characters), so the advice is never cut off.
NO_KEYRING_HELP = (
    "Ways forward (README: On a headless server): (1) a keyring for every tmux pane, "
    'started once before tmux: eval "$(sh contrib/headless/keyring-session.sh)"; '
    '(2) a 0600 plain-text file: credential_store = "file" in the profile, or '
    "--insecure-storage; (3) FLASHBACK_TOKEN (not refreshable)."
)

# The key looked up by probe_keyring: a harmless read that still makes a locked
# keyring show itself (Secret Service unlocks the collection before any search).
_PROBE_ENTRY = "probe"
_NO_BACKEND = "keyring found no backend: no Secret Service on D-Bus, no KWallet"
# A token is printable ASCII without spaces; anything else is a paste accident and
# would also be refused by httpx as a header value.
_TOKEN_TEXT = re.compile(r"[\x21-\x7e]+")
_SAFE_PROFILE = re.compile(r"[^A-Za-z0-9_.-]")
# Larger files are not a token store flashtop wrote.
_MAX_FILE_BYTES = 1024 * 1024

T = TypeVar("T")


def entry_name(profile: str, base_url: str) -> str:
    """The keyring user name for one profile and base URL, e.g. ``default@https://host``."""
    return f"{profile}@{base_url.rstrip('/')}"


def no_keyring_message(reason: str) -> str:
    """The error text shown when there is no usable keyring: the reason, then the help."""
    return f"no usable keyring ({one_line(reason, 72)}). {NO_KEYRING_HELP}"


def check_token_text(token: str, what: str) -> None:
    """Refuse a token with spaces or control characters, without ever quoting it."""
    if not _TOKEN_TEXT.fullmatch(token):
        raise UsageError(f"{what} contains spaces or control characters; expected one token")


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT access token (epoch seconds), read without verifying it.

    Only used to tell people when a token they pasted expires; None for anything
    that is not a JWT carrying a numeric ``exp``.
    """
    parts = token.split(".")
    if len(parts) != 3 or not parts[1] or len(parts[1]) > 8192:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        return None
    if not isinstance(claims, dict):
        return None
    return parse_expires_at(claims.get("exp"))


# ---------------------------------------------------------------------------- time limit


class KeyringTimeout(Exception):
    """A keyring call did not return within its time limit."""


def call_with_timeout(fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn`` in a daemon thread and wait at most ``timeout`` seconds for it.

    A call that overruns is abandoned, not cancelled (a thread blocked in D-Bus
    cannot be interrupted); being a daemon thread, it does not hold up exit.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the waiting thread below
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="flashtop-keyring", daemon=True).start()
    if not done.wait(timeout):
        raise KeyringTimeout(f"no answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- probing


@dataclass(frozen=True, slots=True)
class KeyringProbe:
    """What :func:`probe_keyring` found: can tokens be kept in the keyring, and if not why."""

    usable: bool
    #: Dotted class name of the backend keyring picked, e.g. keyring.backends.SecretService.Keyring.
    backend: str
    #: One line saying why the keyring is not usable; None when it is.
    reason: str | None


def backend_name(backend: KeyringBackend) -> str:
    """A backend's dotted class name; for a chainer, with the backends behind it."""
    cls = type(backend)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if isinstance(backend, chainer.ChainerBackend):
        inner = ", ".join(backend_name(b) for b in _chained(backend))
        name += f" ({inner or 'nothing chained'})"
    return name


def _chained(backend: chainer.ChainerBackend) -> list[KeyringBackend]:
    try:
        return list(backend.backends)
    except Exception:  # a broken third-party backend must not break the probe
        return []


def unusable_reason(backend: KeyringBackend) -> str | None:
    """Why this backend cannot keep tokens safely, or None when it can."""
    cls = type(backend)
    if isinstance(backend, fail.Keyring):
        return _NO_BACKEND
    if isinstance(backend, null.Keyring):
        return "the keyring is disabled (keyring.backends.null)"
    if cls.__module__.startswith("keyrings.alt") or "plaintext" in cls.__name__.lower():
        # keyrings.alt keeps secrets in files flashtop cannot vouch for (plain text, or
        # encrypted with a password asked on the terminal); not a keyring for our purpose.
        return f"{cls.__module__}.{cls.__qualname__} keeps secrets in a file, not a keyring"
    if isinstance(backend, chainer.ChainerBackend):
        chained = _chained(backend)
        if not chained:
            return "the chained keyring has no backend behind it"
        # The chainer writes to its first backend, so that one has to be a real keyring.
        first = unusable_reason(chained[0])
        if first is not None:
            return f"the chained keyring writes to an unusable backend: {first}"
    return None


def _describe_exception(exc: BaseException) -> str:
    """One safe line for a keyring failure (keyring errors never carry our secrets)."""
    text = one_line(exc, 160)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def probe_keyring(timeout: float = 5.0) -> KeyringProbe:
    """Find the keyring backend and check, within ``timeout`` seconds, that it answers.

    Never raises: every problem (no backend, a plain-text backend, a locked or
    hanging keyring, a broken D-Bus) comes back as ``usable=False`` with a reason.
    """
    seen: dict[str, str] = {}

    def inspect() -> KeyringProbe:
        backend = keyring.get_keyring()
        seen["backend"] = name = backend_name(backend)
        reason = unusable_reason(backend)
        if reason is not None:
            return KeyringProbe(False, name, reason)
        backend.get_password(SERVICE, _PROBE_ENTRY)
        return KeyringProbe(True, name, None)

    try:
        return call_with_timeout(inspect, timeout)
    except KeyringTimeout:
        reason = f"the keyring did not answer within {timeout:g} s (locked, waiting for a prompt?)"
    except keyring.errors.NoKeyringError:
        reason = _NO_BACKEND
    except keyring.errors.KeyringLocked:
        reason = "the keyring is locked and could not be unlocked"
    except Exception as exc:
        reason = f"the keyring failed: {_describe_exception(exc)}"
    return KeyringProbe(False, seen.get("backend", "unknown"), reason)


# ---------------------------------------------------------------------------- stores


class TokenStore(Protocol):
    """Somewhere a TokenSet for one profile and base URL is kept between runs."""

    #: For people: where the tokens are, e.g. "the keyring (<backend class>)".
    description: str
    #: The :class:`Credentials` source name for tokens read from here.
    source: str

    def load(self) -> TokenSet | None: ...

    def save(self, tokens: TokenSet) -> None: ...

    def delete(self) -> bool: ...


class KeyringStore:
    """Tokens in the OS keyring: one entry, service ``flashtop``, user ``profile@base_url``."""

    source = SOURCE_KEYRING

    def __init__(
        self,
        profile: str,
        base_url: str,
        timeout: float | None = None,
        *,
        backend: str | None = None,
    ) -> None:
        self.profile = profile
        self.base_url = base_url
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.entry = entry_name(profile, base_url)
        self.description = f"the keyring ({backend})" if backend else "the keyring"

    def __repr__(self) -> str:
        return f"KeyringStore(entry={self.entry!r})"

    def _call(self, fn: Callable[[], T], doing: str, secrets: tuple[str, ...] = ()) -> T:
        try:
            return call_with_timeout(fn, self.timeout)
        except KeyringTimeout:
            raise CredentialError(
                f"the keyring did not answer within {self.timeout:g} s while {doing} "
                "(is it locked, waiting for an unlock prompt?)"
            ) from None
        except keyring.errors.NoKeyringError:
            raise CredentialError(no_keyring_message(_NO_BACKEND)) from None
        except keyring.errors.KeyringLocked:
            raise CredentialError(
                f"the keyring is locked and could not be unlocked while {doing}"
            ) from None
        except Exception as exc:
            text = _describe_exception(exc)
            for secret in secrets:
                text = text.replace(secret, "***")
            raise CredentialError(f"keyring error while {doing}: {text}") from None

    def load(self) -> TokenSet | None:
        """The stored tokens, or None when there are none (or the entry is unreadable)."""
        text = self._call(lambda: keyring.get_password(SERVICE, self.entry), "reading tokens")
        if text is None:
            return None
        tokens = TokenSet.from_json(text)
        if tokens is None:
            log.warning("ignoring an unreadable keyring entry for %s", self.entry)
        return tokens

    def save(self, tokens: TokenSet) -> None:
        """Replace the entry with ``tokens`` (also the ``persist`` callback after refresh)."""
        blob = tokens.to_json()
        self._call(
            lambda: keyring.set_password(SERVICE, self.entry, blob),
            "storing tokens",
            tokens.secrets(),
        )

    def delete(self) -> bool:
        """Remove the entry; False when there was none."""

        def remove() -> bool:
            try:
                keyring.delete_password(SERVICE, self.entry)
            except keyring.errors.PasswordDeleteError:
                return False
            return True

        return self._call(remove, "removing tokens")


def insecure_file_path(profile: str) -> Path:
    """Where ``--insecure-storage`` keeps the tokens of one profile."""
    return config_dir() / f"tokens-{_SAFE_PROFILE.sub('_', profile)}.json"


class FileStore:
    """Tokens in a plain-text JSON file of mode 0600: only with ``--insecure-storage``.

    The file maps :func:`entry_name` to a TokenSet object, so one profile may hold
    tokens for several base URLs. It is written by creating a new 0600 file with
    ``O_CREAT | O_EXCL`` and renaming it over the old one, so it is never readable
    by others, not even for an instant, and never half-written. ``warn`` is called
    on this store's first use (so once per command run): plain-text storage is never
    silent.
    """

    source = SOURCE_FILE

    def __init__(
        self,
        profile: str,
        base_url: str,
        *,
        warn: Callable[[str], None],
        path: Path | None = None,
        chosen_by: str = "--insecure-storage",
    ) -> None:
        self.profile = profile
        self.base_url = base_url
        self.entry = entry_name(profile, base_url)
        self.path = path or insecure_file_path(profile)
        #: What chose this store: the flag (or its variable), or the config file.
        self.chosen_by = chosen_by
        self.description = f"the plain-text file {self.path} ({chosen_by})"
        self._warn = warn
        self._warned = False

    def __repr__(self) -> str:
        return f"FileStore(path={str(self.path)!r}, entry={self.entry!r})"

    def warning(self) -> str:
        """The text of the warning given on each use."""
        return (
            f"tokens are kept in plain text in {self.path} ({self.chosen_by}); "
            "anyone who can read that file can use your Flashback account"
        )

    def _use(self) -> None:
        if not self._warned:
            self._warned = True
            self._warn(self.warning())

    def _read_all(self) -> dict[str, Any]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CredentialError(
                f"cannot read the token file {self.path}: {exc.strerror or exc}"
            ) from None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise CredentialError(f"the token file {self.path} is not a regular file")
            if hasattr(os, "getuid") and st.st_uid != os.getuid():
                raise CredentialError(f"the token file {self.path} belongs to another user")
            if st.st_mode & 0o077:
                raise CredentialError(
                    f"the token file {self.path} can be read by others "
                    f"(mode {stat.S_IMODE(st.st_mode):04o}); delete it and log in again"
                )
            raw = fh.read(_MAX_FILE_BYTES + 1)
        if len(raw) > _MAX_FILE_BYTES:
            raise CredentialError(f"the token file {self.path} is too large to be ours")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise CredentialError(
                f"the token file {self.path} is not valid JSON; delete it and log in again"
            ) from None
        if not isinstance(data, dict):
            raise CredentialError(f"the token file {self.path} does not hold a JSON object")
        return data

    def _write_all(self, data: dict[str, Any]) -> None:
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise CredentialError(f"cannot create {directory}: {exc.strerror or exc}") from None
        tmp = directory / f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            # Born 0600: the mode is set by open itself, never widened or fixed later.
            fd = os.open(tmp, flags, 0o600)
        except OSError as exc:
            raise CredentialError(
                f"cannot create the token file in {directory}: {exc.strerror or exc}"
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise CredentialError(
                f"cannot write the token file {self.path}: {exc.strerror or 'I/O error'}"
            ) from None

    def check_writable(self) -> None:
        """Raise :class:`CredentialError` unless :meth:`save` could succeed now: the
        file is readable (or absent) and a new file can be created beside it. Called
        before logging in, so no refresh token is made that cannot be kept."""
        self._read_all()
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise CredentialError(f"cannot create {directory}: {exc.strerror or exc}") from None
        probe = directory / f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.probe"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            os.close(os.open(probe, flags, 0o600))
        except OSError as exc:
            raise CredentialError(
                f"cannot create the token file in {directory}: {exc.strerror or exc}"
            ) from None
        with contextlib.suppress(OSError):
            probe.unlink()

    def load(self) -> TokenSet | None:
        """The tokens for this base URL, or None when the file or the entry is missing."""
        self._use()
        entry = self._read_all().get(self.entry)
        if not isinstance(entry, dict):
            return None
        return TokenSet.from_json(json.dumps(entry))

    def save(self, tokens: TokenSet) -> None:
        """Store ``tokens`` for this base URL, keeping the other entries of the file."""
        self._use()
        data = self._read_all()
        data[self.entry] = json.loads(tokens.to_json())
        self._write_all(data)

    def delete(self) -> bool:
        """Remove this base URL's tokens; the file goes when nothing is left in it."""
        self._use()
        data = self._read_all()
        if self.entry not in data:
            return False
        del data[self.entry]
        if data:
            self._write_all(data)
        else:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise CredentialError(
                    f"cannot remove the token file {self.path}: {exc.strerror or exc}"
                ) from None
        return True


def file_store(settings: Settings, *, warn: Callable[[str], None], at_login: bool) -> FileStore:
    """The 0600 plain-text file, chosen by --insecure-storage (or FLASHTOP_INSECURE_STORAGE),
    which warns on every use, or once for all by ``credential_store = "file"`` in the
    profile, which warns at ``flashtop login`` only (a choice made in a file is not an
    accident to point out on every start of a service)."""
    if settings.insecure_storage:
        return FileStore(settings.profile, settings.base_url, warn=warn)
    return FileStore(
        settings.profile,
        settings.base_url,
        warn=warn if at_login else _no_warning,
        chosen_by='credential_store = "file"',
    )


def _no_warning(_message: str) -> None:
    return None


def open_store(
    settings: Settings,
    *,
    warn: Callable[[str], None],
    timeout: float | None = None,
    at_login: bool = False,
) -> TokenStore:
    """The store for this profile and base URL: the 0600 file if opted in, else the keyring.

    Probes the keyring first (within ``timeout``) and raises :class:`CredentialError`
    with :data:`NO_KEYRING_HELP` when it is not usable, so that ``login`` can fail
    before anyone types a password.
    """
    if settings.insecure_storage or settings.credential_store == "file":
        return file_store(settings, warn=warn, at_login=at_login)
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    probe = probe_keyring(timeout)
    if not probe.usable:
        message = no_keyring_message(probe.reason or "unknown reason")
        exists = False
        path = insecure_file_path(settings.profile)
        with contextlib.suppress(OSError):
            exists = path.exists()
        if exists:
            # Tokens saved earlier with --insecure-storage are used only when asked again.
            message += f" Tokens saved with --insecure-storage are in {path}."
        raise CredentialError(message)
    return KeyringStore(settings.profile, settings.base_url, timeout, backend=probe.backend)


# ---------------------------------------------------------------------------- loading


@dataclass
class Credentials:
    """The session a client should use, where its tokens came from, and what to warn about.

    ``warnings`` repeats what was already passed to ``warn``, for screens that show
    them later (the TUI, whose stderr is hidden).
    """

    session: AuthSession
    #: "FLASHBACK_TOKEN", "keyring" or "insecure file".
    source: str
    #: Where rotated tokens are written back; None for FLASHBACK_TOKEN.
    store: TokenStore | None
    warnings: list[str] = field(default_factory=list)


def env_token(env: Mapping[str, str]) -> str | None:
    """The FLASHBACK_TOKEN value, stripped; None when unset or blank."""
    value = env.get(ENV_TOKEN, "").strip()
    return value or None


def load_credentials(
    settings: Settings,
    env: Mapping[str, str],
    *,
    warn: Callable[[str], None],
    timeout: float | None = None,
    clock: Callable[[], float] = time.time,
) -> Credentials:
    """Find the tokens for ``settings.profile`` and ``settings.base_url``.

    FLASHBACK_TOKEN wins; then the insecure file when opted in; then the keyring.
    With nothing stored, the session has no tokens and ``login_needed`` says to run
    ``flashtop login``. Raises :class:`CredentialError` when there is no usable
    keyring (and no FLASHBACK_TOKEN, and no opt-in to the file). ``timeout`` bounds
    each keyring call (default :data:`DEFAULT_TIMEOUT`).
    """
    warnings: list[str] = []

    def note(message: str) -> None:
        warnings.append(message)
        warn(message)

    token = env_token(env)
    if token is not None:
        check_token_text(token, ENV_TOKEN)
        expires = jwt_expiry(token)
        if expires is not None and expires <= clock():
            note(
                f"{ENV_TOKEN} has expired and cannot be refreshed; "
                "set a new access token, or unset it to use `flashtop login`"
            )
        tokens = TokenSet(access_token=token, expires_at=expires, obtained_at=clock())
        session = AuthSession(tokens, source=SOURCE_ENV, clock=clock)
        return Credentials(session, SOURCE_ENV, None, warnings)

    store = open_store(settings, warn=note, timeout=timeout)
    stored = store.load()
    session = AuthSession(
        stored, source=store.source, persist=store.save, reload=store.load, clock=clock
    )
    if stored is None:
        session.login_needed = (
            f"{NOT_LOGGED_IN} (nothing stored for profile '{settings.profile}' "
            f"at {settings.base_url} in {store.description})"
        )
    return Credentials(session, store.source, store, warnings)
