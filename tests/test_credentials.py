"""Unit tests of the credentials layer and the login/logout/status commands.

Keyrings here are in memory (see keyring_fixtures); the API is a real DemoServer on
loopback. The real Secret Service is exercised in test_keyring_real.py.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import keyring_fixtures
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring_fixtures import REPO, HangingKeyring, MemoryKeyring

from tui import account, credentials
from tui.client import FlashbackClient
from tui.credentials import (
    NO_KEYRING_HELP,
    NOT_LOGGED_IN,
    SERVICE,
    Credentials,
    FileStore,
    KeyringProbe,
    KeyringStore,
    entry_name,
    load_credentials,
    open_store,
    probe_keyring,
)
from tui.demo_server import DEMO_EMAIL, DEMO_MFA_CODE, DEMO_PASSWORD, MFA_EMAIL, DemoServer
from tui.errors import (
    EXIT_NETWORK,
    AuthError,
    CredentialError,
    FlashtopError,
    LoginNeededError,
    UsageError,
)
from tui.settings import Settings, config_dir
from tui.tokens import AuthSession, TokenSet

BASE = "https://backend.flashback.tech"

# Fixtures shared with test_keyring_real.py, bound here so pytest finds them.
use_backend = keyring_fixtures.use_backend
memory_keyring = keyring_fixtures.memory_keyring
hanging_keyring = keyring_fixtures.hanging_keyring


# ---------------------------------------------------------------------------- helpers


class Warnings(list[str]):
    """Collects warnings passed to ``warn``."""

    def __call__(self, message: str) -> None:
        self.append(message)


class TTYStringIO(io.StringIO):
    """A StringIO that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


class UntouchableStdin(io.StringIO):
    """Fails the test if anything reads it: the store must be checked before prompting."""

    def _fail(self, *args: object) -> str:
        raise AssertionError("stdin was read before the store was checked")

    read = readline = _fail  # type: ignore[assignment]

    def isatty(self) -> bool:
        return True


def settings_for(base_url: str = BASE, **kw: object) -> Settings:
    return Settings(base_url=base_url, **kw)  # type: ignore[arg-type]


def stored(backend: MemoryKeyring, settings: Settings) -> TokenSet | None:
    text = backend.entries.get((SERVICE, entry_name(settings.profile, settings.base_url)))
    return TokenSet.from_json(text) if text is not None else None


def store_tokens(backend: MemoryKeyring, settings: Settings, tokens: TokenSet) -> None:
    backend.entries[(SERVICE, entry_name(settings.profile, settings.base_url))] = tokens.to_json()


def assert_no_secrets(secrets: tuple[str, ...], *texts: str) -> None:
    for secret in secrets:
        assert secret
        for text in texts:
            assert secret not in text


def assert_no_secrets_in_files(secrets: tuple[str, ...], *roots: Path) -> None:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for secret in secrets:
                    assert secret.encode() not in data, f"a secret was written to {path}"


def xdg_roots() -> list[Path]:
    return [Path(os.environ[v]) for v in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")]


def run_cmd(fn: Callable[..., int], settings: Settings, **kw: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    kw.setdefault("env", {})
    code = fn(settings, stdout=out, stderr=err, **kw)
    return code, out.getvalue(), err.getvalue()


def login(settings: Settings, password: str = DEMO_PASSWORD, email: str = DEMO_EMAIL) -> int:
    code, _, _ = run_cmd(
        account.login_command,
        settings,
        email=email,
        password_stdin=True,
        with_token=False,
        stdin=io.StringIO(password + "\n"),
    )
    return code


@pytest.fixture
def server() -> Iterator[DemoServer]:
    with DemoServer() as srv:
        yield srv


@pytest.fixture
def short_server() -> Iterator[DemoServer]:
    """Access tokens live 2 s, so a refresh is due after a short sleep."""
    with DemoServer(token_lifetime=2) as srv:
        yield srv


@pytest.fixture
def fast_timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(credentials, "DEFAULT_TIMEOUT", 0.5)
    return 0.5


# ---------------------------------------------------------------------------- naming


def test_entry_name_is_profile_at_base_url() -> None:
    assert entry_name("default", BASE) == "default@https://backend.flashback.tech"
    assert entry_name("work", BASE + "/") == "work@https://backend.flashback.tech"


# ---------------------------------------------------------------------------- source order


def test_env_token_wins_and_the_keyring_is_not_touched(hanging_keyring: HangingKeyring) -> None:
    # A hanging keyring proves the env path never calls it (it would take 30 s).
    started = time.monotonic()
    creds = load_credentials(settings_for(), {"FLASHBACK_TOKEN": " env-token-1234 \n"}, warn=print)
    assert time.monotonic() - started < 1
    assert creds.source == "FLASHBACK_TOKEN"
    assert creds.store is None
    assert creds.session.tokens is not None
    assert creds.session.tokens.access_token == "env-token-1234"
    assert not creds.session.can_refresh
    assert creds.session.persist is None
    assert hanging_keyring.calls == []


def test_env_token_wins_over_stored_tokens(memory_keyring: MemoryKeyring) -> None:
    settings = settings_for()
    store_tokens(memory_keyring, settings, TokenSet("stored-access", "stored-refresh"))
    creds = load_credentials(settings, {"FLASHBACK_TOKEN": "env-access"}, warn=print)
    assert creds.session.tokens is not None
    assert creds.session.tokens.access_token == "env-access"


def test_blank_env_token_is_ignored(memory_keyring: MemoryKeyring) -> None:
    settings = settings_for()
    store_tokens(memory_keyring, settings, TokenSet("stored-access", "stored-refresh"))
    creds = load_credentials(settings, {"FLASHBACK_TOKEN": "  "}, warn=print)
    assert creds.source == "keyring"


def test_env_token_with_spaces_is_refused_without_quoting_it() -> None:
    with pytest.raises(UsageError) as info:
        load_credentials(settings_for(), {"FLASHBACK_TOKEN": "abc secret-part"}, warn=print)
    assert "secret-part" not in str(info.value)


def test_expired_jwt_in_env_is_reported(memory_keyring: MemoryKeyring) -> None:
    def b64(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    token = f"{b64({'alg': 'HS256'})}.{b64({'exp': int(time.time()) - 300})}.c2ln"
    warned = Warnings()
    creds = load_credentials(settings_for(), {"FLASHBACK_TOKEN": token}, warn=warned)
    assert creds.session.tokens is not None
    assert creds.session.tokens.expires_at is not None
    assert len(warned) == 1 and "cannot be refreshed" in warned[0]
    assert creds.warnings == warned
    assert_no_secrets((token,), *warned)


async def test_expired_env_token_says_it_cannot_be_refreshed(server: DemoServer) -> None:
    creds = load_credentials(
        settings_for(server.base_url), {"FLASHBACK_TOKEN": "not-a-valid-token"}, warn=print
    )
    async with FlashbackClient(server.base_url, creds.session) as client:
        with pytest.raises(LoginNeededError) as info:
            await client.get_stats()
    assert "FLASHBACK_TOKEN" in str(info.value)
    assert "cannot be refreshed" in str(info.value)
    assert "not-a-valid-token" not in str(info.value)


def test_keyring_tokens_are_loaded_with_persist(memory_keyring: MemoryKeyring) -> None:
    settings = settings_for()
    store_tokens(memory_keyring, settings, TokenSet("acc-1234", "ref-5678", time.time() + 600))
    creds = load_credentials(settings, {}, warn=print)
    assert creds.source == "keyring"
    assert isinstance(creds.store, KeyringStore)
    assert creds.session.tokens is not None
    assert creds.session.tokens.refresh_token == "ref-5678"
    assert creds.session.login_needed is None
    assert creds.session.persist is not None
    creds.session.persist(TokenSet("acc-new", "ref-new"))
    again = stored(memory_keyring, settings)
    assert again is not None and again.refresh_token == "ref-new"


def test_nothing_stored_means_login_needed(memory_keyring: MemoryKeyring) -> None:
    creds = load_credentials(settings_for(), {}, warn=print)
    assert creds.session.tokens is None
    assert creds.session.login_needed is not None
    assert creds.session.login_needed.startswith(NOT_LOGGED_IN)


def test_unreadable_entry_counts_as_not_logged_in(memory_keyring: MemoryKeyring) -> None:
    settings = settings_for()
    memory_keyring.entries[(SERVICE, entry_name("default", BASE))] = "{not json"
    creds = load_credentials(settings, {}, warn=print)
    assert creds.session.tokens is None


def test_one_entry_per_profile_and_base_url(memory_keyring: MemoryKeyring) -> None:
    a = KeyringStore("default", BASE)
    a.save(TokenSet("acc-a", "ref-a"))
    assert KeyringStore("work", BASE).load() is None
    assert KeyringStore("default", "https://test.example.com/api").load() is None
    loaded = KeyringStore("default", BASE).load()
    assert loaded is not None and loaded.access_token == "acc-a"
    # One entry holds the whole set.
    assert list(memory_keyring.entries) == [(SERVICE, "default@https://backend.flashback.tech")]
    blob = json.loads(memory_keyring.entries[(SERVICE, "default@" + BASE)])
    assert blob["accessToken"] == "acc-a" and blob["refreshToken"] == "ref-a"
    assert KeyringStore("default", BASE).delete() is True
    assert KeyringStore("default", BASE).delete() is False


# ---------------------------------------------------------------------------- no keyring


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"])
def test_no_usable_keyring_names_the_three_ways(
    backend: KeyringBackend, use_backend: Callable[[KeyringBackend], KeyringBackend]
) -> None:
    use_backend(backend)
    probe = probe_keyring(timeout=2)
    assert not probe.usable and probe.reason
    with pytest.raises(CredentialError) as info:
        load_credentials(settings_for(), {}, warn=print)
    message = str(info.value)
    assert "dbus-run-session" not in message  # its bus, and the tokens, end with it
    assert "contrib/headless/keyring-session.sh" in message
    assert 'credential_store = "file"' in message
    assert "FLASHBACK_TOKEN" in message
    assert "--insecure-storage" in message
    assert NO_KEYRING_HELP in message
    assert info.value.exit_code == 6
    assert len(message) <= 400  # the CLI prints errors as one line of at most 400


def test_plaintext_backends_are_not_a_keyring(
    use_backend: Callable[[KeyringBackend], KeyringBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Looks like keyrings.alt's PlaintextKeyring without depending on keyrings.alt.
    plaintext = type(
        "PlaintextKeyring",
        (MemoryKeyring,),
        {"__module__": "keyrings.alt.file", "viable": False},
    )()
    use_backend(plaintext)
    probe = probe_keyring(timeout=2)
    assert not probe.usable
    assert "keyrings.alt.file.PlaintextKeyring" in probe.backend
    with pytest.raises(CredentialError):
        open_store(settings_for(), warn=print)
    assert plaintext.entries == {}

    # A chainer with nothing (or only plain text) behind it is no keyring either.
    use_backend(chainer.ChainerBackend())
    monkeypatch.setattr(keyring.backend, "get_all_keyring", lambda: [])
    assert not probe_keyring(timeout=2).usable
    monkeypatch.setattr(keyring.backend, "get_all_keyring", lambda: [plaintext])
    assert not probe_keyring(timeout=2).usable
    real = MemoryKeyring()
    monkeypatch.setattr(keyring.backend, "get_all_keyring", lambda: [real])
    assert probe_keyring(timeout=2).usable


def test_hanging_keyring_is_detected_within_the_time_limit(
    hanging_keyring: HangingKeyring, fast_timeout: float
) -> None:
    started = time.monotonic()
    probe = probe_keyring(timeout=fast_timeout)
    assert time.monotonic() - started < 3
    assert not probe.usable and probe.reason and "did not answer" in probe.reason
    started = time.monotonic()
    with pytest.raises(CredentialError) as info:
        load_credentials(settings_for(), {}, warn=print)
    assert time.monotonic() - started < 3
    assert "--insecure-storage" in str(info.value)


def test_hanging_store_calls_time_out(hanging_keyring: HangingKeyring) -> None:
    store = KeyringStore("default", BASE, 0.3)
    started = time.monotonic()
    with pytest.raises(CredentialError, match="did not answer"):
        store.save(TokenSet("acc-hang", "ref-hang"))
    with pytest.raises(CredentialError, match="did not answer"):
        store.load()
    assert time.monotonic() - started < 3


def test_keyring_errors_become_credential_errors(
    use_backend: Callable[[KeyringBackend], KeyringBackend],
) -> None:
    class Locked(MemoryKeyring):
        viable = False

        def set_password(self, service: str, username: str, password: str) -> None:
            raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

        def get_password(self, service: str, username: str) -> str | None:
            raise RuntimeError("D-Bus went away")

    use_backend(Locked())
    with pytest.raises(CredentialError, match="locked"):
        KeyringStore("default", BASE).save(TokenSet("acc-x", "ref-x"))
    with pytest.raises(CredentialError, match="D-Bus went away"):
        KeyringStore("default", BASE).load()
    probe = probe_keyring(timeout=2)
    assert not probe.usable and probe.reason and "D-Bus went away" in probe.reason


# ---------------------------------------------------------------------------- insecure file


def test_insecure_file_is_0600_and_warns_every_run(
    fail_or_memory: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even with a permissive umask and no chmod available, the file is born 0600.
    old_umask = os.umask(0)
    monkeypatch.setattr(os, "chmod", _no_chmod)
    monkeypatch.setattr(os, "fchmod", _no_chmod)
    try:
        settings = settings_for(insecure_storage=True)
        warned = Warnings()
        store = open_store(settings, warn=warned)
        assert isinstance(store, FileStore)
        assert warned == []  # nothing used yet
        store.save(TokenSet("file-access", "file-refresh", time.time() + 60))
        path = config_dir() / "tokens-default.json"
        assert store.path == path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(warned) == 1 and str(path) in warned[0] and "plain text" in warned[0]

        # Each run (each new store) warns again, also when only reading.
        for run in range(2, 4):
            creds = load_credentials(settings, {}, warn=warned)
            assert creds.source == "insecure file"
            assert creds.session.tokens is not None
            assert creds.session.tokens.access_token == "file-access"
            assert len(warned) == run
            assert creds.warnings == [warned[-1]]
        # Rewrites keep the mode (a new 0600 file replaces the old one).
        assert creds.session.persist is not None
        creds.session.persist(TokenSet("file-access-2", "file-refresh-2"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(warned) == 3  # same run, same store: no second warning
        assert [p.name for p in path.parent.iterdir()] == ["tokens-default.json"]
        data = json.loads(path.read_text())
        assert set(data) == {entry_name("default", BASE)}
        assert_no_secrets(("file-access-2", "file-refresh-2"), *warned, repr(creds))
    finally:
        os.umask(old_umask)


def _no_chmod(*args: object, **kw: object) -> None:
    raise AssertionError("the token file must be created 0600, never chmod-ed")


@pytest.fixture
def fail_or_memory(memory_keyring: MemoryKeyring) -> None:
    """A usable keyring: --insecure-storage must still mean the file."""


def test_insecure_file_holds_several_base_urls_and_goes_away(tmp_path: Path) -> None:
    warned = Warnings()
    a = FileStore("work", BASE, warn=warned, path=tmp_path / "t.json")
    b = FileStore("work", "https://other.example.com", warn=warned, path=tmp_path / "t.json")
    a.save(TokenSet("acc-a", "ref-a"))
    b.save(TokenSet("acc-b", None))
    loaded_a, loaded_b = a.load(), b.load()
    assert loaded_a is not None and loaded_a.access_token == "acc-a"
    assert loaded_b is not None and loaded_b.refresh_token is None
    assert a.delete() is True
    assert a.load() is None and (tmp_path / "t.json").exists()
    assert b.delete() is True
    assert not (tmp_path / "t.json").exists()
    assert b.delete() is False


def test_insecure_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({entry_name("default", BASE): {"accessToken": "leaky"}}))
    path.chmod(0o644)  # made by someone else, not by flashtop
    with pytest.raises(CredentialError, match="read by others"):
        FileStore("default", BASE, warn=print, path=path).load()


def test_insecure_profile_name_cannot_escape_the_config_dir() -> None:
    path = credentials.insecure_file_path("../../etc/x")
    assert path.parent == config_dir()
    assert "/" not in path.name


def test_no_keyring_error_points_at_existing_insecure_file(
    use_backend: Callable[[KeyringBackend], KeyringBackend],
) -> None:
    FileStore("default", BASE, warn=print).save(TokenSet("acc-f", "ref-f"))
    use_backend(fail.Keyring())
    with pytest.raises(CredentialError) as info:
        load_credentials(settings_for(), {}, warn=print)
    # Never used silently: the user is told where they are and must opt in.
    assert "tokens-default.json" in str(info.value)


# ---------------------------------------------------------------------------- refresh


async def test_rotated_tokens_are_written_back_after_expiry(
    memory_keyring: MemoryKeyring, short_server: DemoServer
) -> None:
    settings = settings_for(short_server.base_url)
    assert await asyncio.to_thread(login, settings) == 0
    first = stored(memory_keyring, settings)
    assert first is not None and first.refresh_token

    await asyncio.sleep(2.2)  # the 2 s access token is now expired
    creds = load_credentials(settings, {}, warn=print)
    async with FlashbackClient(settings.base_url, creds.session) as client:
        page = await client.get_stats()
    assert page.stats
    assert creds.session.refresh_count == 1
    assert creds.session.persist_error is None
    second = stored(memory_keyring, settings)
    assert second is not None and second.refresh_token
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert short_server.request_count("/user/refresh") == 1

    # The stored (rotated) refresh token is the live one: a new run can refresh with it.
    await asyncio.sleep(2.2)
    creds = load_credentials(settings, {}, warn=print)
    async with FlashbackClient(settings.base_url, creds.session) as client:
        await client.get_stats()
    third = stored(memory_keyring, settings)
    assert third is not None and third.refresh_token not in (
        first.refresh_token,
        second.refresh_token,
    )
    assert_no_secrets(
        (*first.secrets(), *second.secrets(), *third.secrets()),
        repr(creds),
        str(creds),
        repr(memory_keyring.calls),
    )
    assert_no_secrets_in_files((*first.secrets(), *third.secrets()), *xdg_roots())


async def test_rotated_tokens_are_written_back_after_a_401(
    memory_keyring: MemoryKeyring, server: DemoServer
) -> None:
    settings = settings_for(server.base_url)
    access, refresh = server.issue_tokens()
    store_tokens(memory_keyring, settings, TokenSet(access, refresh, time.time() + 3600))
    server.expire_all_access_tokens()
    creds = load_credentials(settings, {}, warn=print)
    async with FlashbackClient(settings.base_url, creds.session) as client:
        await client.get_stats()
    now = stored(memory_keyring, settings)
    assert now is not None and now.refresh_token not in (None, refresh)


# ---------------------------------------------------------------------------- login


def test_login_with_password_stdin_stores_one_entry(
    memory_keyring: MemoryKeyring, server: DemoServer
) -> None:
    settings = settings_for(server.base_url, profile="work")
    code, out, err = run_cmd(
        account.login_command,
        settings,
        email=DEMO_EMAIL,
        password_stdin=True,
        with_token=False,
        stdin=io.StringIO(DEMO_PASSWORD + "\nleft over\n"),
    )
    assert code == 0
    tokens = stored(memory_keyring, settings)
    assert tokens is not None and tokens.refresh_token and tokens.expires_at
    assert list(memory_keyring.entries) == [(SERVICE, f"work@{server.base_url}")]
    assert "Logged in" in out and "MemoryKeyring" in out
    assert "in 60 min" in out or "in 59 min" in out
    assert_no_secrets((*tokens.secrets(), DEMO_PASSWORD), out, err)
    assert_no_secrets_in_files((*tokens.secrets(), DEMO_PASSWORD), *xdg_roots())


def test_login_prompts_on_a_terminal(
    memory_keyring: MemoryKeyring, server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def fake_getpass(prompt: str = "", stream: object = None) -> str:
        asked.append(prompt)
        return DEMO_PASSWORD

    monkeypatch.setattr(account.getpass, "getpass", fake_getpass)
    settings = settings_for(server.base_url)
    code, out, err = run_cmd(
        account.login_command,
        settings,
        email=None,
        password_stdin=False,
        with_token=False,
        stdin=TTYStringIO(DEMO_EMAIL + "\n"),
    )
    assert code == 0
    assert asked == ["Password: "]
    assert "Email: " in err
    assert stored(memory_keyring, settings) is not None
    assert DEMO_PASSWORD not in out + err


def test_login_without_terminal_or_flags_is_a_usage_error(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(UsageError, match="--password-stdin"):
        run_cmd(
            account.login_command,
            settings_for(),
            email=None,
            password_stdin=False,
            with_token=False,
            stdin=io.StringIO(""),
        )


@pytest.mark.parametrize("how", ["password", "token"])
def test_login_checks_the_store_before_prompting(
    how: str,
    use_backend: Callable[[KeyringBackend], KeyringBackend],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_backend(fail.Keyring())

    def no_getpass(*args: object, **kw: object) -> str:
        raise AssertionError("asked for a password before checking the keyring")

    monkeypatch.setattr(account.getpass, "getpass", no_getpass)
    with pytest.raises(CredentialError) as info:
        run_cmd(
            account.login_command,
            settings_for(),
            email=None,
            password_stdin=False,
            with_token=how == "token",
            stdin=UntouchableStdin(),
        )
    assert "--insecure-storage" in str(info.value)


async def _works(base_url: str, tokens: TokenSet) -> int:
    """The tokens open /ai/llm/stats and their refresh token refreshes."""
    async with FlashbackClient(base_url, AuthSession(tokens, source="t")) as client:
        page = await client.get_stats()
        assert tokens.refresh_token is not None
        await client.refresh_tokens(tokens.refresh_token, tokens.access_token)
    return len(page.stats)


@pytest.mark.parametrize("style", ["pending", "refused"])
def test_login_with_mfa_reads_the_code_and_stores_full_tokens(
    memory_keyring: MemoryKeyring, style: str
) -> None:
    """Issue 17: the password is accepted with a partial token and an MFA requirement
    (as a success flag or as a failure code: undocumented, both handled); the code is
    read (the line after the password with --password-stdin, never argv) and sent to
    POST /mfa/verify-login with the partial token as Bearer."""
    with DemoServer(mfa_style=style) as server:
        settings = settings_for(server.base_url)
        code, out, err = run_cmd(
            account.login_command,
            settings,
            email=MFA_EMAIL,
            password_stdin=True,
            with_token=False,
            stdin=io.StringIO(f"{DEMO_PASSWORD}\n{DEMO_MFA_CODE}\n"),
        )
        assert code == 0, err
        tokens = stored(memory_keyring, settings)
        assert tokens is not None and tokens.refresh_token
        assert asyncio.run(_works(server.base_url, tokens)) == 12
        (verify,) = [r for r in server.requests if r.path == "/mfa/verify-login"]
        assert verify.method == "POST" and verify.bearer and verify.status == 200
        assert "Logged in" in out
    assert_no_secrets((*tokens.secrets(), DEMO_PASSWORD, DEMO_MFA_CODE), out, err)
    assert_no_secrets_in_files((*tokens.secrets(), DEMO_PASSWORD, DEMO_MFA_CODE), *xdg_roots())


def test_login_with_mfa_on_a_terminal_asks_for_the_code_without_echo(
    memory_keyring: MemoryKeyring, server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([DEMO_PASSWORD, DEMO_MFA_CODE])
    asked: list[str] = []

    def fake_getpass(prompt: str = "", stream: object = None) -> str:
        asked.append(prompt)
        return next(answers)

    monkeypatch.setattr(account.getpass, "getpass", fake_getpass)
    settings = settings_for(server.base_url)
    code, _out, err = run_cmd(
        account.login_command,
        settings,
        email=MFA_EMAIL,
        password_stdin=False,
        with_token=False,
        stdin=TTYStringIO(""),
    )
    assert code == 0
    assert asked == ["Password: ", "MFA code (authenticator app): "]
    assert "MFA verification required" in err  # the server's words, before the prompt
    assert stored(memory_keyring, settings) is not None


def test_login_with_a_wrong_mfa_code_fails_without_echoing_it(
    memory_keyring: MemoryKeyring, server: DemoServer
) -> None:
    with pytest.raises(AuthError) as info:
        run_cmd(
            account.login_command,
            settings_for(server.base_url),
            email=MFA_EMAIL,
            password_stdin=True,
            with_token=False,
            stdin=io.StringIO(f"{DEMO_PASSWORD}\n987654\n"),
        )
    assert "Invalid MFA code" in str(info.value)
    assert "987654" not in repr(info.value) + str(info.value)
    assert memory_keyring.entries == {}


def test_login_with_mfa_but_no_code_line_is_a_usage_error(
    memory_keyring: MemoryKeyring, server: DemoServer
) -> None:
    with pytest.raises(UsageError, match="MFA code"):
        run_cmd(
            account.login_command,
            settings_for(server.base_url),
            email=MFA_EMAIL,
            password_stdin=True,
            with_token=False,
            stdin=io.StringIO(DEMO_PASSWORD + "\n"),
        )
    assert memory_keyring.entries == {}
    assert server.request_count("/mfa/verify-login") == 0


def test_logout_sends_the_bearer_and_kills_the_refresh_token_even_after_expiry(
    memory_keyring: MemoryKeyring,
) -> None:
    """Issue 17: the demo, like a server that requires it, revokes nothing without the
    Bearer header; `logout` sends it, and when the stored access token has expired it
    refreshes once and revokes the refresh token that the refresh handed out."""
    clock_now = [time.time()]
    with DemoServer(clock=lambda: clock_now[0], token_lifetime=60) as server:
        settings = settings_for(server.base_url)
        assert login(settings) == 0
        tokens = stored(memory_keyring, settings)
        assert tokens is not None and tokens.refresh_token
        clock_now[0] += 3600  # the access token has long expired
        code, out, err = run_cmd(account.logout_command, settings)
        assert code == 0 and "revoked" in out, err
        logouts = [r for r in server.requests if r.path == "/user/logout"]
        assert [r.bearer for r in logouts] == [True, True]
        assert [r.status for r in logouts] == [401, 200]
        # Neither the stored refresh token nor the one the refresh rotated to works.
        assert server.request_count("/user/refresh") == 1
        with pytest.raises(FlashtopError):
            asyncio.run(_refresh(server.base_url, tokens.refresh_token))
        assert not server._refresh  # nothing left alive on the server


def test_login_wrong_password_fails_without_echoing_it(
    memory_keyring: MemoryKeyring, server: DemoServer
) -> None:
    with pytest.raises(AuthError) as info:
        run_cmd(
            account.login_command,
            settings_for(server.base_url),
            email=DEMO_EMAIL,
            password_stdin=True,
            with_token=False,
            stdin=io.StringIO("wrong-secret-pw\n"),
        )
    assert "Invalid email or password" in str(info.value)
    assert "wrong-secret-pw" not in repr(info.value) + str(info.value)
    assert memory_keyring.entries == {}


def test_login_with_token_reads_two_lines(
    memory_keyring: MemoryKeyring, server: DemoServer
) -> None:
    settings = settings_for(server.base_url)
    access, refresh = server.issue_tokens()
    code, out, err = run_cmd(
        account.login_command,
        settings,
        email=None,
        password_stdin=False,
        with_token=True,
        stdin=io.StringIO(f"{access}\n{refresh}\n"),
    )
    assert code == 0
    tokens = stored(memory_keyring, settings)
    assert tokens is not None
    assert (tokens.access_token, tokens.refresh_token) == (access, refresh)
    assert_no_secrets((access, refresh), out, err)

    # Only an access token: stored without refresh, and the output says what that means.
    code, out, _ = run_cmd(
        account.login_command,
        settings,
        email=None,
        password_stdin=False,
        with_token=True,
        stdin=io.StringIO(f"{access}\n"),
    )
    tokens = stored(memory_keyring, settings)
    assert tokens is not None and tokens.refresh_token is None
    assert "without a refresh token" in out


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "tok-a tok-b\n", "tok-1\ntok-2\ntok-3\n", "tok-\x1b[31m\n"],
    ids=["empty", "blank", "space", "three-lines", "control"],
)
def test_login_with_token_rejects_bad_input(memory_keyring: MemoryKeyring, text: str) -> None:
    with pytest.raises(UsageError) as info:
        run_cmd(
            account.login_command,
            settings_for(),
            email=None,
            password_stdin=False,
            with_token=True,
            stdin=io.StringIO(text),
        )
    assert "tok-" not in str(info.value)  # the input is never quoted back
    assert memory_keyring.entries == {}


def test_login_flag_combinations(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(UsageError):
        run_cmd(
            account.login_command,
            settings_for(),
            email="a@b.c",
            password_stdin=False,
            with_token=True,
            stdin=io.StringIO(""),
        )
    with pytest.raises(UsageError, match="--email"):
        run_cmd(
            account.login_command,
            settings_for(),
            email=None,
            password_stdin=True,
            with_token=False,
            stdin=io.StringIO("pw\n"),
        )


# ---------------------------------------------------------------------------- logout


def test_logout_revokes_and_deletes(memory_keyring: MemoryKeyring, server: DemoServer) -> None:
    settings = settings_for(server.base_url)
    assert login(settings) == 0
    tokens = stored(memory_keyring, settings)
    assert tokens is not None and tokens.refresh_token
    code, out, err = run_cmd(account.logout_command, settings)
    assert code == 0
    assert memory_keyring.entries == {}
    assert server.request_count("/user/logout") == 1
    assert server.requests[-1].path == "/user/logout" and server.requests[-1].bearer
    assert "revoked" in out
    # The revoked refresh token no longer works.
    with pytest.raises(FlashtopError):
        asyncio.run(_refresh(server.base_url, tokens.refresh_token))
    assert_no_secrets(tokens.secrets(), out, err)
    assert_no_secrets_in_files(tokens.secrets(), *xdg_roots())

    code, out, _ = run_cmd(account.logout_command, settings)
    assert code == 0 and "Not logged in" in out


async def _refresh(base_url: str, refresh_token: str) -> TokenSet:
    async with FlashbackClient(base_url) as client:
        return await client.refresh_tokens(refresh_token)


def test_logout_offline_still_deletes_and_says_so(memory_keyring: MemoryKeyring) -> None:
    with DemoServer() as srv:
        settings = settings_for(srv.base_url)
        assert login(settings) == 0
    tokens = stored(memory_keyring, settings)
    assert tokens is not None
    code, out, err = run_cmd(account.logout_command, settings)
    assert code == 0
    assert memory_keyring.entries == {}
    assert "could not reach the server" in err and "anyway" in err
    assert_no_secrets(tokens.secrets(), out, err)
    assert_no_secrets_in_files(tokens.secrets(), *xdg_roots())


# ---------------------------------------------------------------------------- status


def test_status_reports_source_backend_reachability_and_expiry(
    memory_keyring: MemoryKeyring, server: DemoServer
) -> None:
    settings = settings_for(server.base_url)
    assert login(settings) == 0
    tokens = stored(memory_keyring, settings)
    assert tokens is not None
    code, out, err = run_cmd(account.status_command, settings)
    assert code == 0
    assert "keyring_fixtures.MemoryKeyring (usable)" in out
    assert f"entry 'default@{server.base_url}'" in out
    assert server.base_url in out
    assert "answers" in out
    assert "in 60 min" in out or "in 59 min" in out
    assert_no_secrets((*tokens.secrets(), DEMO_PASSWORD), out, err)
    assert_no_secrets_in_files((*tokens.secrets(), DEMO_PASSWORD), *xdg_roots())


def test_status_with_env_token(memory_keyring: MemoryKeyring, server: DemoServer) -> None:
    code, out, err = run_cmd(
        account.status_command,
        settings_for(server.base_url),
        env={"FLASHBACK_TOKEN": "env-secret-token"},
    )
    assert code == 0
    assert "FLASHBACK_TOKEN" in out
    assert "access token only" in out
    assert "env-secret-token" not in out + err


def test_status_without_keyring_or_server_still_reports(
    use_backend: Callable[[KeyringBackend], KeyringBackend],
) -> None:
    use_backend(fail.Keyring())
    code, out, _ = run_cmd(account.status_command, settings_for("http://127.0.0.1:9"))
    assert code == EXIT_NETWORK  # the report is whole, and the status says what is wrong
    assert "keyring.backends.fail.Keyring (not usable" in out
    assert "not answering" in out
    assert NO_KEYRING_HELP in out


def test_status_with_hanging_keyring_is_bounded(
    hanging_keyring: HangingKeyring, fast_timeout: float
) -> None:
    started = time.monotonic()
    code, out, _ = run_cmd(account.status_command, settings_for("http://127.0.0.1:9"))
    assert code == EXIT_NETWORK
    assert time.monotonic() - started < 10
    assert "did not answer" in out


def test_relative_times() -> None:
    now = 1_000_000.0
    assert account.relative_time(now + 41 * 60, now) == "in 41 min"
    assert account.relative_time(now - 3 * 60, now) == "expired 3 min ago"
    assert account.relative_time(now + 30, now) == "in 30 s"
    assert account.relative_time(now + 3 * 3600, now) == "in 3 h"
    assert account.relative_time(now + 3 * 86400, now) == "in 3 days"
    assert "(in 41 min)" in account.describe_expiry(now + 41 * 60, now)
    assert account.describe_expiry(None) == "unknown"


# ---------------------------------------------------------------------------- leaks


def test_reprs_never_show_secrets(memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    tokens = TokenSet("repr-access-secret", "repr-refresh-secret", time.time() + 60)
    settings = settings_for()
    store_tokens(memory_keyring, settings, tokens)
    creds = load_credentials(settings, {}, warn=print)
    file_store = FileStore("default", BASE, warn=print, path=tmp_path / "t.json")
    things: list[object] = [
        tokens,
        creds,
        creds.session,
        creds.store,
        file_store,
        KeyringProbe(True, "x", None),
        CredentialError("x"),
    ]
    texts = [repr(t) for t in things] + [str(t) for t in things]
    assert_no_secrets(tokens.secrets(), *texts)
    env_creds = load_credentials(settings, {"FLASHBACK_TOKEN": "repr-env-secret"}, warn=print)
    assert_no_secrets(("repr-env-secret",), repr(env_creds), str(env_creds))


def test_credentials_dataclass_shape(memory_keyring: MemoryKeyring) -> None:
    creds = load_credentials(settings_for(), {}, warn=print)
    assert isinstance(creds, Credentials)
    assert creds.warnings == []


def test_lower_layers_do_not_import_textual() -> None:
    code = (
        "import sys, tui.credentials, tui.account;"
        "assert 'textual' not in sys.modules, 'textual imported'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
