"""flashtop against a real Secret Service (gnome-keyring on a private D-Bus session).

Every flashtop run here is a subprocess (``python -m tui ...``) with an environment
built from scratch, so nothing of the developer's own session or keyring is used.
Skipped only when gnome-keyring/dbus are not installed and CI is not set; under CI
a missing tool fails the run. The test without any D-Bus needs neither tool.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import keyring_fixtures
import pytest
from keyring_fixtures import (
    SecretServiceSession,
    isolated_env,
    require_tools,
    run_flashtop,
    run_python,
)

from tui.credentials import SERVICE, entry_name
from tui.demo_server import DEMO_EMAIL, DEMO_PASSWORD, DemoServer
from tui.errors import EXIT_AUTH, EXIT_KEYRING

secret_service = keyring_fixtures.secret_service


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer() as srv:
        yield srv


@pytest.fixture
def short_server() -> Iterator[DemoServer]:
    """Access tokens live 2 s, so the next run after a short sleep must refresh."""
    with DemoServer(token_lifetime=2) as srv:
        yield srv


def stored_tokens(session: SecretServiceSession, profile: str, base_url: str) -> dict[str, str]:
    text = session.keyring_get(SERVICE, entry_name(profile, base_url))
    assert text is not None, "nothing stored in the Secret Service"
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


def secrets_of(tokens: dict[str, str]) -> tuple[str, ...]:
    return tuple(t for t in (tokens.get("accessToken"), tokens.get("refreshToken")) if t)


def assert_clean(secrets: tuple[str, ...], *texts: str) -> None:
    for secret in secrets:
        assert secret
        for text in texts:
            assert secret not in text
    for text in texts:
        assert "Traceback" not in text


def assert_no_secrets_in_files(secrets: tuple[str, ...], root: Path) -> None:
    """No secret in any file under ``root`` except gnome-keyring's own encrypted store."""
    keyrings = root / "data" / "keyrings"
    for path in root.rglob("*"):
        if not path.is_file() or path.is_socket() or keyrings in path.parents:
            continue
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"a secret was written to {path}"


def define_profile(env: Mapping[str, str], profile: str) -> None:
    """Add ``[profiles.<profile>]`` to the config file of ``env`` (a named profile
    must be defined: `--profile typo` is an error, issue 19)."""
    config = Path(env["XDG_CONFIG_HOME"]) / "flashtop" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    text = config.read_text() if config.exists() else ""
    if f"[profiles.{profile}]" not in text:
        config.write_text(f"{text}[profiles.{profile}]\n")


def login(
    session: SecretServiceSession, base_url: str, profile: str = "default"
) -> tuple[str, str]:
    define_profile(session.env, profile)
    done = run_flashtop(
        [
            "login",
            "--base-url",
            base_url,
            "--profile",
            profile,
            "--email",
            DEMO_EMAIL,
            "--password-stdin",
        ],
        session.env,
        stdin=DEMO_PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_keyring_is_the_secret_service(secret_service: SecretServiceSession) -> None:
    assert secret_service.backend() == "keyring.backends.SecretService"


def test_login_status_stats_logout(
    secret_service: SecretServiceSession, server: DemoServer
) -> None:
    url = server.base_url
    env = secret_service.env
    out, err = login(secret_service, url, "real")
    assert "SecretService" in out
    tokens = stored_tokens(secret_service, "real", url)
    secrets = (*secrets_of(tokens), DEMO_PASSWORD)
    assert len(secrets) == 3

    status = run_flashtop(["status", "--base-url", url, "--profile", "real"], env)
    assert status.returncode == 0, status.stderr
    assert "keyring.backends.SecretService.Keyring (usable)" in status.stdout
    assert f"entry 'real@{url}'" in status.stdout
    assert "answers" in status.stdout
    assert "(in 60 min)" in status.stdout or "(in 59 min)" in status.stdout

    stats = run_flashtop(["stats", "--base-url", url, "--profile", "real"], env)
    assert stats.returncode == 0, stats.stderr
    assert "support-bot" in stats.stdout

    logout = run_flashtop(["logout", "--base-url", url, "--profile", "real"], env)
    assert logout.returncode == 0, logout.stderr
    assert "revoked" in logout.stdout
    assert server.request_count("/user/logout") >= 1
    assert secret_service.keyring_get(SERVICE, entry_name("real", url)) is None

    after = run_flashtop(["status", "--base-url", url, "--profile", "real"], env)
    assert after.returncode == EXIT_AUTH  # logged out: no credential
    assert "nothing stored" in after.stdout
    again = run_flashtop(["stats", "--base-url", url, "--profile", "real"], env)
    assert again.returncode != 0
    assert "flashtop login" in again.stderr

    assert_clean(
        secrets,
        out,
        err,
        *(p.stdout + p.stderr for p in (status, stats, logout, after, again)),
    )
    assert_no_secrets_in_files(secrets, secret_service.root)


def test_refresh_writes_rotated_tokens_back_to_the_keyring(
    secret_service: SecretServiceSession, short_server: DemoServer
) -> None:
    url = short_server.base_url
    env = secret_service.env
    out, err = login(secret_service, url, "rotate")
    first = stored_tokens(secret_service, "rotate", url)
    outputs = [out, err]

    for _ in range(2):
        time.sleep(2.3)  # past the 2 s lifetime: this run has to refresh
        stats = run_flashtop(["stats", "--base-url", url, "--profile", "rotate"], env)
        assert stats.returncode == 0, stats.stderr
        outputs += [stats.stdout, stats.stderr]
    # Two runs refreshed in turn; the second could only do so with the refresh token
    # the first one wrote back (the server rotates refresh tokens: each works once).
    assert short_server.request_count("/user/refresh") == 2
    last = stored_tokens(secret_service, "rotate", url)
    assert last["refreshToken"] != first["refreshToken"]
    assert last["accessToken"] != first["accessToken"]

    logout = run_flashtop(["logout", "--base-url", url, "--profile", "rotate"], env)
    assert logout.returncode == 0
    outputs += [logout.stdout, logout.stderr]
    secrets = (*secrets_of(first), *secrets_of(last), DEMO_PASSWORD)
    assert_clean(secrets, *outputs)
    assert_no_secrets_in_files(secrets, secret_service.root)


def test_login_with_token_on_stdin(
    secret_service: SecretServiceSession, server: DemoServer
) -> None:
    url = server.base_url
    access, refresh = server.issue_tokens()
    define_profile(secret_service.env, "piped")
    done = run_flashtop(
        ["login", "--base-url", url, "--profile", "piped", "--with-token"],
        secret_service.env,
        stdin=f"{access}\n{refresh}\n",
    )
    assert done.returncode == 0, done.stderr
    tokens = stored_tokens(secret_service, "piped", url)
    assert (tokens["accessToken"], tokens["refreshToken"]) == (access, refresh)
    stats = run_flashtop(["stats", "--base-url", url, "--profile", "piped"], secret_service.env)
    assert stats.returncode == 0, stats.stderr
    logout = run_flashtop(["logout", "--base-url", url, "--profile", "piped"], secret_service.env)
    assert logout.returncode == 0
    outputs = [p.stdout + p.stderr for p in (done, stats, logout)]
    assert_clean((access, refresh), *outputs)
    assert_no_secrets_in_files((access, refresh), secret_service.root)


def test_without_any_dbus(tmp_path: Path, server: DemoServer) -> None:
    # No DBUS_SESSION_BUS_ADDRESS, no PYTHON_KEYRING_BACKEND, an empty runtime dir:
    # keyring can only pick its "fail" backend.
    env = isolated_env(tmp_path)
    url = server.base_url
    login = run_flashtop(
        ["login", "--base-url", url, "--email", DEMO_EMAIL, "--password-stdin"],
        env,
        stdin=DEMO_PASSWORD + "\n",
    )
    assert login.returncode == EXIT_KEYRING
    assert "keyring-session.sh" in login.stderr
    assert "FLASHBACK_TOKEN" in login.stderr
    assert "--insecure-storage" in login.stderr
    assert "Traceback" not in login.stderr

    status = run_flashtop(["status", "--base-url", url], env)
    assert status.returncode == EXIT_KEYRING, status.stderr
    assert "keyring.backends.fail.Keyring" in status.stdout
    assert "answers" in status.stdout

    # The two ways forward that need no keyring both work.
    access, refresh = server.issue_tokens()
    with_env = run_flashtop(["stats", "--base-url", url], {**env, "FLASHBACK_TOKEN": access})
    assert with_env.returncode == 0, with_env.stderr
    insecure = run_flashtop(
        ["login", "--base-url", url, "--insecure-storage", "--with-token"],
        env,
        stdin=f"{access}\n{refresh}\n",
    )
    assert insecure.returncode == 0, insecure.stderr
    assert "plain text" in insecure.stderr
    token_file = Path(env["XDG_CONFIG_HOME"]) / "flashtop" / "tokens-default.json"
    assert token_file.stat().st_mode & 0o777 == 0o600
    stats = run_flashtop(["stats", "--base-url", url, "--insecure-storage"], env)
    assert stats.returncode == 0, stats.stderr
    assert "plain text" in stats.stderr  # warned on every use
    logout = run_flashtop(["logout", "--base-url", url, "--insecure-storage"], env)
    assert logout.returncode == 0, logout.stderr
    assert not token_file.exists()

    outputs = [p.stdout + p.stderr for p in (login, status, with_env, insecure, stats, logout)]
    assert_clean((access, refresh, DEMO_PASSWORD), *outputs)
    assert_no_secrets_in_files((access, refresh, DEMO_PASSWORD), tmp_path)


def test_locked_keyring_is_reported_not_waited_for(tmp_path: Path, server: DemoServer) -> None:
    require_tools("dbus-daemon", "gnome-keyring-daemon")
    session = SecretServiceSession(tmp_path).start()
    try:
        lock = run_python(
            [
                "-c",
                "import secretstorage; c = secretstorage.dbus_init();"
                "col = secretstorage.get_default_collection(c); col.lock();"
                "assert col.is_locked()",
            ],
            session.env,
        )
        assert lock.returncode == 0, lock.stderr
        started = time.monotonic()
        login = run_flashtop(
            ["login", "--base-url", server.base_url, "--email", DEMO_EMAIL, "--password-stdin"],
            session.env,
            stdin=DEMO_PASSWORD + "\n",
        )
        assert time.monotonic() - started < 30
        assert login.returncode == EXIT_KEYRING
        assert "locked" in login.stderr
        assert "--insecure-storage" in login.stderr
        status = run_flashtop(["status", "--base-url", server.base_url], session.env)
        assert status.returncode == EXIT_KEYRING  # the report is whole; the status says why
        assert "locked" in status.stdout
        assert_clean((DEMO_PASSWORD,), login.stdout + login.stderr, status.stdout)
    finally:
        session.stop()
