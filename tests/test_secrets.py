"""Secrets: a known access token, refresh token and password never show up anywhere.

A whole session runs with secrets whose values the test knows (every token the demo
server issues is recorded, rotated ones included): login attempts, stats in every
format, a 401 followed by a refresh, failures, status, logout, a server that echoes
secrets back in its errors, and the TUI itself with a debug log and a screenshot.
Then every byte of captured output, every file left under the temporary home (logs,
configuration, data such as a history database, screenshots), every status line and
every exception text is searched. The only file allowed to hold tokens is the token
store the user explicitly chose (``--insecure-storage``, mode 0600).
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_helpers import STATS, ScriptedServer, echo_secrets, terminal_output
from keyring_fixtures import isolated_env, run_flashtop
from ui_helpers import FakeClock, Harness, wait_for

from tui.app import FlashtopApp
from tui.cli import build_parser
from tui.client import FlashbackClient
from tui.demo_server import DEMO_EMAIL, DemoServer
from tui.errors import EXIT_AUTH, EXIT_OK, EXIT_SERVER, FlashtopError
from tui.logsetup import setup_log_file
from tui.poller import ConnState
from tui.settings import Settings
from tui.tokens import AuthSession, TokenSet

PASSWORD = "pw-Correct-Horse-Battery-9f3b7c"
NULL_KEYRING = "keyring.backends.null.Keyring"


class Secrets:
    """Every secret of the run: the password and each token the server ever issued."""

    def __init__(self, server: DemoServer) -> None:
        self.values: list[str] = [PASSWORD]
        issue = server.issue_tokens

        def recording() -> tuple[str, str]:
            access, refresh = issue()
            self.values += [access, refresh]
            return access, refresh

        server.issue_tokens = recording  # type: ignore[method-assign]

    def find_in(self, text: str | bytes, where: str) -> None:
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        for secret in self.values:
            assert secret.encode() not in data, f"a secret ({secret[:4]}…) is in {where}"


def files_under(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path


@pytest.fixture
def flashtop_logger() -> Iterator[None]:
    """Undo what setup_log_file does to the process-wide 'flashtop' logger."""
    logger = logging.getLogger("flashtop")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    for handler in logger.handlers[:]:
        if handler not in handlers:
            handler.close()
            logger.removeHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


# ---------------------------------------------------------------------------- the CLI


def test_a_full_cli_session_never_leaks_a_token_or_the_password(tmp_path: Path) -> None:
    root = tmp_path / "home"
    env = isolated_env(root, PYTHON_KEYRING_BACKEND=NULL_KEYRING, NO_COLOR="1")
    log = root / "debug.log"
    outputs: list[tuple[str, str]] = []

    with DemoServer() as server:
        secrets = Secrets(server)
        common = ["--base-url", server.base_url, "--log-file", str(log), "--insecure-storage"]

        def run(*args: str, stdin: str | None = None, code: int = EXIT_OK, **extra: str) -> str:
            proc = run_flashtop([*args, *common], {**env, **extra}, stdin=stdin)
            outputs.append((" ".join(args), proc.stdout + proc.stderr))
            assert proc.returncode == code, (args, proc.returncode, proc.stderr)
            assert "Traceback" not in proc.stderr
            return proc.stdout + proc.stderr

        # A password login that the server refuses (the password is ours, not the demo's).
        run("login", "--email", DEMO_EMAIL, "--password-stdin", stdin=PASSWORD + "\n", code=3)
        # Tokens given on stdin, never as arguments.
        access, refresh = server.issue_tokens()
        run("login", "--with-token", stdin=f"{access}\n{refresh}\n")
        run("stats")
        server.expire_all_access_tokens()  # the next request gets 401 and refreshes
        run("stats", "--json")
        assert server.request_count("/user/refresh") == 1
        run("stats", "--csv")
        server.set_fault("server_error")
        run("stats", code=EXIT_SERVER)
        server.set_fault("expired", paths=(STATS, "/user/refresh"))
        run("stats", code=EXIT_AUTH)
        server.set_fault(None)
        run("status")
        # An access token from the environment: used, then expired and not refreshable.
        env_access, _ = server.issue_tokens()
        run("stats", FLASHBACK_TOKEN=env_access)
        server.expire_all_access_tokens()
        run("stats", code=EXIT_AUTH, FLASHBACK_TOKEN=env_access)
        run("logout")

    # A hostile server that quotes the Authorization header and the request body back.
    with ScriptedServer(echo_secrets) as echo:
        for args, stdin, code, extra in (
            (["stats"], None, EXIT_SERVER, {"FLASHBACK_TOKEN": secrets.values[1]}),
            (["login", "--email", DEMO_EMAIL, "--password-stdin"], PASSWORD, 3, {}),
        ):
            proc = run_flashtop(
                [*args, "--base-url", echo.base_url, "--log-file", str(log), "--insecure-storage"],
                {**env, **extra},
                stdin=stdin,
            )
            assert proc.returncode == code, proc.stderr
            assert "***" in proc.stderr  # the echo was redacted, not dropped silently
            outputs.append((" ".join(args), proc.stdout + proc.stderr))

    assert len(secrets.values) >= 7  # password, first pair, refreshed pair, env pair
    for what, text in outputs:
        secrets.find_in(text, f"the output of `flashtop {what}`")
    assert log.is_file() and log.stat().st_size > 0
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    searched = 0
    for path in files_under(root):
        secrets.find_in(path.read_bytes(), str(path.relative_to(root)))
        searched += 1
    assert searched >= 1


def test_no_option_takes_a_secret_so_none_reaches_process_arguments() -> None:
    parser = build_parser()
    parsers = [parser]
    for action in parser._actions:
        parsers += list((getattr(action, "choices", None) or {}).values())
    assert len(parsers) >= 6
    risky = ("token", "password", "passwd", "secret", "api-key", "apikey", "refresh")
    for p in parsers:
        for action in p._actions:
            for option in action.option_strings:
                if any(word in option for word in risky):
                    if action.type in (int, float):
                        continue  # a number (the demo's --token-lifetime), not a secret
                    # Only switches that say "read it from stdin", never a value.
                    assert action.nargs == 0, f"{p.prog} {option} takes a value"
                    assert option in ("--password-stdin", "--with-token")
        # The help agrees: no such option is shown with a value placeholder.
        taking_value = re.search(
            r"--[\w-]*(token|password|secret|refresh)[\w-]*[ =][A-Z]", p.format_help()
        )
        assert taking_value is None, (p.prog, taking_value)


@pytest.mark.parametrize("flag", ["--token", "--password", "--refresh-token", "--access-token"])
def test_secret_flags_are_refused_as_usage_errors(flag: str, tmp_path: Path) -> None:
    env = isolated_env(tmp_path, PYTHON_KEYRING_BACKEND=NULL_KEYRING)
    proc = run_flashtop(["login", flag, "hunter2-value"], env)
    assert proc.returncode == 2
    assert "hunter2-value" not in proc.stdout  # not echoed back either


# ---------------------------------------------------------------------------- the log file


def test_log_file_redacts_authorization_headers_and_token_fields(
    tmp_path: Path, flashtop_logger: None
) -> None:
    access, refresh = "eyJhbGciOi.access-Secret_123", "refresh-Secret-456~xyz"
    path = tmp_path / "debug.log"
    setup_log_file(str(path), lambda: ())  # as the CLI does: patterns only, no known secrets
    log = logging.getLogger("flashtop.test")
    log.debug("request headers: {'Authorization': 'Bearer %s'}", access)
    log.debug("Authorization: Bearer %s", access)
    log.debug("authorization=%s", access)
    log.debug("sent %s", f'{{"refreshToken": "{refresh}", "refresh_token": "{refresh}"}}')
    log.info("body access_token=%s&x=1 password=%s", access, PASSWORD)
    log.warning("json %s", {"accessToken": access, "password": PASSWORD})
    try:
        raise RuntimeError(f"failed with Bearer {access}")
    except RuntimeError:
        log.exception("boom")
    for handler in logging.getLogger("flashtop").handlers:
        handler.flush()
    text = path.read_text()
    assert text.count("\n") == 7
    for secret in (access, refresh, PASSWORD):
        assert secret not in text
    assert text.count("***") >= 9
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ---------------------------------------------------------------------------- the TUI


async def test_tui_session_with_faults_and_refresh_never_shows_or_logs_a_secret(
    tmp_path: Path, flashtop_logger: None
) -> None:
    clock = FakeClock()
    server = DemoServer(clock=clock, token_lifetime=3600).start()
    secrets = Secrets(server)
    access, refresh = server.issue_tokens()
    session = AuthSession(TokenSet(access, refresh, obtained_at=clock.now), source="test")
    log = tmp_path / "debug.log"
    setup_log_file(str(log), session.secrets)
    settings = Settings(profile="test", base_url=server.base_url, interval=60.0)
    app = FlashtopApp(settings, session, clock=clock, mark_changes=False)
    h = Harness(app=app, server=server, clock=clock)
    texts: list[str] = []
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            app.monitor.poller._backoff_cap = 0.2
            app.monitor.poller._rng = lambda: 0.0

            def snap() -> None:
                texts.append(terminal_output(app))
                texts.append(str(app.overview.status_bar.content))
                texts.append(repr(app.monitor.poller.status))

            await wait_for(
                pilot, lambda: app.monitor.poller.status.polls >= 1, message="first poll"
            )
            snap()
            for fault in ("server_error", "forbidden", "malformed", "reset"):
                server.set_fault(fault, count=1)
                polls = app.monitor.poller.status.polls
                app.monitor.poll_now()
                await wait_for(
                    pilot, lambda p=polls: app.monitor.poller.status.polls > p, message=fault
                )
                snap()
            # 401 -> refresh -> new tokens; then a refresh that fails -> login needed.
            server.expire_all_access_tokens()
            polls = app.monitor.poller.status.polls
            app.monitor.poll_now()
            await wait_for(
                pilot, lambda: app.monitor.poller.status.polls > polls, message="refresh"
            )
            assert session.refresh_count == 1
            snap()
            server.set_fault("expired", paths=(STATS, "/user/refresh"))
            app.monitor.poll_now()
            await wait_for(
                pilot,
                lambda: app.monitor.poller.status.state is ConnState.LOGIN_NEEDED,
                message="login",
            )
            snap()
            shot = app.save_screenshot(path=str(tmp_path), filename="shot.svg")
            texts += [f"{n.title} {n.message}" for n in app._notifications]
            texts += [repr(session), repr(session.tokens), repr(app.monitor.client.session)]
    finally:
        server.stop()
    for handler in logging.getLogger("flashtop").handlers:
        handler.flush()
    assert Path(shot).is_file() and log.is_file()
    assert len(secrets.values) >= 5
    for i, text in enumerate(texts):
        secrets.find_in(text, f"screen text #{i}")
    for path in files_under(tmp_path):
        secrets.find_in(path.read_bytes(), path.name)
    for var in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        for path in files_under(Path(os.environ[var])):  # e.g. a history database
            secrets.find_in(path.read_bytes(), str(path))


async def test_exception_texts_never_carry_a_secret_even_when_the_server_echoes_it() -> None:
    access, refresh = "echo-access-Token-0123456789", "echo-refresh-Token-9876543210"
    errors: list[BaseException] = []
    with ScriptedServer(echo_secrets) as echo:
        session = AuthSession(TokenSet(access, refresh), source="test")
        async with FlashbackClient(echo.base_url, session) as client:
            for call in (
                client.get_stats,
                client.get_llms,
                lambda: client.refresh_tokens(refresh),
                lambda: client.login(DEMO_EMAIL, PASSWORD),
                lambda: client.logout(refresh),
            ):
                with pytest.raises(FlashtopError) as info:
                    await call()
                errors.append(info.value)
    assert len(errors) == 5
    for exc in errors:
        text = f"{exc} {exc!r} {exc.args}"
        assert "***" in text or "login needed" in text
        for secret in (access, refresh, PASSWORD):
            assert secret not in text, text


def test_repr_of_tokens_and_sessions_is_redacted() -> None:
    tokens = TokenSet("repr-access-abcdef", "repr-refresh-ghijkl", expires_at=1.0)
    session = AuthSession(tokens, source="keyring")
    for text in (repr(tokens), str(tokens), repr(session), f"{tokens!r:>10}"):
        assert "repr-access" not in text and "repr-refresh" not in text


def test_debug_log_redacts_live_session_tokens_by_value(tmp_path: Path) -> None:
    """Tokens that match no pattern are still redacted, because the log knows them."""
    import logging

    from tui.logsetup import known_secrets, setup_log_file, track_secrets
    from tui.tokens import AuthSession, TokenSet

    odd = "zz-odd-shaped-token-7f3a"
    session = AuthSession(TokenSet(odd, "rr-odd-refresh-91c2"), source="test")
    track_secrets(session)
    log_path = tmp_path / "debug.log"
    setup_log_file(str(log_path), known_secrets)
    try:
        logging.getLogger("flashtop.test").info("value seen: %s and %s", odd, "rr-odd-refresh-91c2")
    finally:
        for h in list(logging.getLogger("flashtop").handlers):
            h.close()
            logging.getLogger("flashtop").removeHandler(h)
    text = log_path.read_text()
    assert "value seen" in text
    assert odd not in text and "rr-odd-refresh-91c2" not in text
