"""Issue 19, items 5-8 and 10: what a new user (or a script) meets on the command line.

Each test runs ``python -m tui`` in a fresh process (the helpers of test_cli.py), so
exit statuses, stderr lines and stdout are exactly what a shell sees.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import REPO, assert_one_line_failure, free_port, run_cli, token_env

from tui import cli, errors
from tui.demo_server import DEMO_EMAIL, DEMO_PASSWORD, DemoServer
from tui.errors import (
    EXIT_AUTH,
    EXIT_INTERNAL,
    EXIT_KEYRING,
    EXIT_NETWORK,
    EXIT_NO_MATCH,
    EXIT_OK,
    EXIT_USAGE,
)
from tui.store import HistoryStore, store_path

STATS = "/ai/llm/stats"


def config_home() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"])


def fill_history(profile: str, polls: int, ids: tuple[str, ...] = ("cfg-a",)) -> Path:
    """A real history file for ``profile``: ``polls`` polls a second apart, ending now."""
    path = store_path(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    with HistoryStore.open(path) as store:
        for i in range(polls):
            store.write_poll(now - polls + i, [(cid, (i,) * 8) for cid in ids])
    return path


# ---------------------------------------------------------------- item 5: typos


@pytest.mark.parametrize("how", ["flag", "env"])
def test_undefined_profile_without_a_config_file_exits_2_naming_it(how: str) -> None:
    args = ["stats", "--base-url", f"http://127.0.0.1:{free_port()}"]
    env = {"FLASHBACK_TOKEN": "tok-0123456789abcdef"}
    if how == "flag":
        args += ["--profile", "typo-prod"]
    else:
        env["FLASHTOP_PROFILE"] = "typo-prod"
    proc = run_cli(*args, env=env)
    line = assert_one_line_failure(proc, EXIT_USAGE, env["FLASHBACK_TOKEN"])
    assert "'typo-prod'" in line and "no config file" in line
    assert proc.stdout == ""


def test_the_default_profile_needs_no_config_file() -> None:
    assert not (config_home() / "flashtop" / "config.toml").exists()
    for args in (["export"], ["export", "--profile", "default"]):
        proc = run_cli(*args)
        assert proc.returncode == EXIT_OK, proc.stderr
        assert proc.stdout.startswith("at,aiLlmId,")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_explicit_config_path_that_does_not_exist_exits_2_naming_it(
    tmp_path: Path, how: str
) -> None:
    missing = tmp_path / "nonexistent.toml"
    if how == "flag":
        proc = run_cli("stats", "--demo", "--config", str(missing))
    else:
        proc = run_cli("stats", "--demo", env={"FLASHTOP_CONFIG": str(missing)})
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert str(missing) in line and "does not exist" in line
    assert proc.stdout == ""


@pytest.mark.parametrize("flag", ["--config", "--profile"])
def test_empty_config_or_profile_flag_is_a_usage_error(flag: str) -> None:
    proc = run_cli("stats", "--demo", flag, "")
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert flag in line and "empty" in line


# ---------------------------------------------------------------- item 6: bad values


@pytest.mark.parametrize("port", ["99999", "abc", "0", "-1"])
def test_base_url_with_an_invalid_port_is_a_usage_error(port: str) -> None:
    env = {"FLASHBACK_TOKEN": "tok-0123456789abcdef"}
    for args, extra in (
        (["stats", "--base-url", f"http://127.0.0.1:{port}"], {}),
        (["stats"], {"FLASHBACK_BASE_URL": f"http://127.0.0.1:{port}/api"}),
    ):
        proc = run_cli(*args, env={**env, **extra})
        line = assert_one_line_failure(proc, EXIT_USAGE, env["FLASHBACK_TOKEN"])
        assert f"invalid port '{port}'" in line and "1 to 65535" in line


def test_serve_demo_with_an_invalid_port_is_a_usage_error() -> None:
    for port in ("99999", "abc"):
        proc = run_cli("serve-demo", "--port", port, timeout=20)
        line = assert_one_line_failure(proc, EXIT_USAGE)
        assert f"invalid port '{port}'" in line


def test_export_since_beyond_ten_years_is_a_usage_error_that_says_the_limit() -> None:
    fill_history("default", 3)
    proc = run_cli("export", "--since", "999999999999d")
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert "999999999999d" in line and "at most 3650d" in line
    assert proc.stdout == ""
    assert run_cli("export", "--since", "3650d").returncode == EXIT_OK


def test_log_file_in_a_missing_directory_is_a_usage_error_before_any_work(
    tmp_path: Path,
) -> None:
    log = tmp_path / "no-such-dir" / "flashtop.log"
    proc = run_cli("stats", "--demo", "--log-file", str(log))
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert str(log) in line and "No such file or directory" in line
    assert proc.stdout == ""  # nothing was fetched or printed


def test_stats_to_a_full_disk_exits_1_with_the_reason_in_one_line() -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "tui", "stats", "--demo"],
            stdout=full,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=30,
            cwd=REPO,
            env={**os.environ, "NO_COLOR": "1"},
        )
    assert proc.returncode == EXIT_INTERNAL, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    errors_ = [line for line in proc.stderr.splitlines() if "error" in line]
    assert errors_ == ["flashtop: error: cannot write the output: No space left on device"]


def test_internal_error_goes_with_its_traceback_to_the_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("something unexpected, Authorization: Bearer sk-secret-123")

    monkeypatch.setattr(cli, "export_command", broken, raising=False)
    monkeypatch.setattr("tui.export.export_command", broken)
    log = tmp_path / "flashtop.log"
    assert cli.main(["export", "--log-file", str(log)]) == EXIT_INTERNAL
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error (RuntimeError)" in err and str(log) in err
    text = log.read_text()
    assert "Traceback (most recent call last)" in text
    assert "in broken" in text and "something unexpected" in text
    assert "sk-secret-123" not in text  # redacted like every log line


# ---------------------------------------------------------------- item 7: quiet failures


def test_stats_id_that_matches_nothing_exits_7(demo_server: DemoServer) -> None:
    env = token_env(demo_server)
    for fmt in ([], ["--json"], ["--csv"]):
        proc = run_cli("stats", "--base-url", demo_server.base_url, "--id", "nosuch", *fmt, env=env)
        line = assert_one_line_failure(proc, EXIT_NO_MATCH, env["FLASHBACK_TOKEN"])
        assert "'nosuch'" in line
        assert proc.stdout == ""
    assert demo_server.request_count(STATS, aiLlmId="nosuch") == 3


def test_export_id_that_matches_nothing_exits_7() -> None:
    fill_history("default", 5, ids=("cfg-a", "cfg-b"))
    for fmt in ("csv", "json"):
        proc = run_cli("export", "--id", "nosuch", "--format", fmt)
        line = assert_one_line_failure(proc, EXIT_NO_MATCH)
        assert "'nosuch'" in line
        assert proc.stdout == ""
    ok = run_cli("export", "--id", "cfg-b")
    assert ok.returncode == EXIT_OK and len(ok.stdout.splitlines()) == 1 + 5


@pytest.mark.parametrize("command", ["stats", "export"])
@pytest.mark.parametrize("value", ["", "  "])
def test_empty_id_is_a_usage_error(command: str, value: str) -> None:
    fill_history("demo", 2)
    proc = run_cli(command, "--demo", "--id", value)
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert "--id" in line
    assert proc.stdout == ""


def test_status_exit_says_what_is_wrong(demo_server: DemoServer) -> None:
    token = token_env(demo_server)
    url = ["--base-url", demo_server.base_url]
    # All well: the API answers and there is a credential.
    assert run_cli("status", *url, env=token).returncode == EXIT_OK
    # Nobody logged in (the file store is empty).
    nobody = run_cli("status", *url, "--insecure-storage")
    assert nobody.returncode == EXIT_AUTH, nobody.stderr
    assert "logged in:" in nobody.stdout and "no (run `flashtop login`)" in nobody.stdout
    # No keyring, no token: the credential storage is the problem.
    assert run_cli("status", *url).returncode == EXIT_KEYRING
    # The API cannot be reached: that comes first, and the report is still whole.
    down = run_cli("status", "--base-url", f"http://127.0.0.1:{free_port()}", env=token)
    assert down.returncode == EXIT_NETWORK, down.stderr
    assert "not answering" in down.stdout and "logged in:" in down.stdout


def test_status_help_documents_its_exit_statuses() -> None:
    proc = run_cli("status", "--help")
    assert proc.returncode == EXIT_OK
    section = proc.stdout.split("exit status", 1)[1]
    for code in (EXIT_OK, EXIT_USAGE, EXIT_NETWORK, errors.EXIT_SERVER, EXIT_KEYRING, EXIT_AUTH):
        assert re.search(rf"^\s+{code}\s+\S", section, re.MULTILINE), code


# ---------------------------------------------------------------- item 8: unbounded reads


@pytest.mark.parametrize("how", ["flag", "env"])
def test_config_that_is_a_device_is_refused_without_reading_it(how: str) -> None:
    started = time.monotonic()
    if how == "flag":
        proc = run_cli("stats", "--demo", "--config", "/dev/zero", timeout=20)
    else:
        proc = run_cli("stats", "--demo", env={"FLASHTOP_CONFIG": "/dev/zero"}, timeout=20)
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert "/dev/zero" in line and "not a regular file" in line
    assert time.monotonic() - started < 15


def test_config_over_one_mib_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * (2 * 1024 * 1024 // 10))
    proc = run_cli("stats", "--demo", "--config", str(big))
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert str(big) in line and "too large" in line and "1024 KiB" in line


def test_default_config_path_that_is_a_directory_is_refused() -> None:
    (config_home() / "flashtop" / "config.toml").mkdir(parents=True)
    proc = run_cli("stats", "--demo")
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert "config.toml" in line and "not a regular file" in line


# ---------------------------------------------------------------- item 10: smaller ones


@pytest.mark.parametrize("command", ["login", "logout", "status"])
def test_demo_flag_before_an_account_command_is_a_usage_error(command: str) -> None:
    proc = run_cli("--demo", command)
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert f"`{command}` does not apply to --demo" in line


def test_login_with_a_rejected_token_says_so_and_stores_nothing(
    demo_server: DemoServer,
) -> None:
    token_file = config_home() / "flashtop" / "tokens-default.json"
    bogus = "not-a-token-the-server-issued-0123456789"
    proc = subprocess.run(
        [sys.executable, "-m", "tui", "login", "--with-token", "--insecure-storage",
         "--base-url", demo_server.base_url],
        input=f"{bogus}\n", capture_output=True, text=True, timeout=30, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == EXIT_AUTH, proc.stderr
    assert "rejected the token" in proc.stderr and "nothing stored" in proc.stderr
    assert bogus not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
    assert not token_file.exists()
    assert demo_server.request_count(STATS) == 1  # one request checked it

    access, refresh = demo_server.issue_tokens()
    good = subprocess.run(
        [sys.executable, "-m", "tui", "login", "--with-token", "--insecure-storage",
         "--base-url", demo_server.base_url],
        input=f"{access}\n{refresh}\n", capture_output=True, text=True, timeout=30, cwd=REPO,
    )  # fmt: skip
    assert good.returncode == EXIT_OK, good.stderr
    assert json.loads(token_file.read_text())  # stored


def test_login_to_an_unwritable_file_store_fails_before_logging_in(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    # The token file's directory cannot be created: a file stands where it would go
    # (a read-only HOME, also for root, who may write into a mode 0500 directory).
    blocked = tmp_path / "config"
    blocked.write_text("not a directory\n")
    config = tmp_path / "config.toml"
    config.write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "tui", "login", "--insecure-storage", "--email", DEMO_EMAIL,
         "--password-stdin", "--base-url", demo_server.base_url, "--config", str(config)],
        input=f"{DEMO_PASSWORD}\n", capture_output=True, text=True, timeout=30, cwd=REPO,
        env={**os.environ, "XDG_CONFIG_HOME": str(blocked / "sub")},
    )  # fmt: skip
    assert proc.returncode == EXIT_KEYRING, proc.stderr
    assert "Traceback" not in proc.stderr and DEMO_PASSWORD not in proc.stdout + proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("flashtop: error:")]
    assert "Not a directory" in line
    # The server was never asked for tokens: no live refresh token is left behind.
    assert demo_server.request_count("/user/login") == 0


def test_export_json_of_a_file_damaged_midway_is_valid_json_and_an_error() -> None:
    path = fill_history("default", 3000, ids=("cfg-0", "cfg-1", "cfg-2"))
    data = bytearray(path.read_bytes())
    start = len(data) // 2 // 4096 * 4096  # pages of samples, past the schema
    data[start : start + 8 * 4096] = b"\x55" * 8 * 4096
    path.write_bytes(bytes(data))
    proc = run_cli("export", "--format", "json")
    line = assert_one_line_failure(proc, EXIT_INTERNAL)
    assert "cannot read history file" in line and "damaged" in line
    assert proc.stdout == "" or isinstance(json.loads(proc.stdout), list)  # never a dangling [


# ---------------------------------------------------------------- documentation


def test_readme_exit_status_table_lists_every_code_as_help_does() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    help_text = run_cli("--help").stdout.split("exit status", 1)[1]
    codes = sorted(v for k, v in vars(errors).items() if k.startswith("EXIT_"))
    assert codes == list(range(8))
    table = readme.split("### Exit status", 1)[1].split("\n#", 1)[0]
    for code in codes:
        assert re.search(rf"^\|\s*`?{code}`?\s*\|", table, re.MULTILINE), code
        assert re.search(rf"^\s+{code}\s+\S", help_text, re.MULTILINE), code


def test_login_revokes_a_new_refresh_token_it_cannot_store(
    demo_server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should saving fail after all (the store passed its check), the fresh refresh
    token is revoked on the server rather than left live and unstored."""
    from tui import account, credentials
    from tui.settings import Settings

    def failing_save(self: credentials.FileStore, tokens: object) -> None:
        raise errors.CredentialError("cannot write the token file: disk full")

    monkeypatch.setattr(credentials.FileStore, "save", failing_save)
    settings = Settings(base_url=demo_server.base_url, insecure_storage=True)
    stderr = io.StringIO()
    with pytest.raises(errors.CredentialError, match="disk full"):
        account.login_command(
            settings,
            email=DEMO_EMAIL,
            password_stdin=True,
            with_token=False,
            stdin=io.StringIO(DEMO_PASSWORD + "\n"),
            stdout=io.StringIO(),
            stderr=stderr,
            env={},
        )
    assert demo_server.request_count("/user/login") == 1
    assert demo_server.request_count("/user/logout") == 1
    assert "revoked" in stderr.getvalue()


def test_stats_with_stdout_closed_exits_1_in_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tui", "stats", "--demo"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=30,
        cwd=REPO,
        preexec_fn=lambda: os.close(1),  # `flashtop stats >&-`
    )
    assert proc.returncode == EXIT_INTERNAL, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert "flashtop: error: cannot write the output: standard output is closed" in proc.stderr
