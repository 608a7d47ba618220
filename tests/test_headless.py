"""On a headless server (issue 19 item 9): ways to keep tokens that work end to end.

- The README's recipe, run for real: ``contrib/headless/keyring-session.sh`` starts a
  session bus and an unlocked gnome-keyring that outlive the shell that ran it; a
  tmux server started afterwards gives every pane that keyring, so a login in one
  pane (which then exits) is found by a command started later in another.
- ``credential_store = "file"`` in the profile: the 0600 file, warned about once at
  login and not on every start (``--insecure-storage`` still warns every time).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_fixtures import PYTHON, REPO, isolated_env, require_tools, run_flashtop

from tui.demo_server import DEMO_EMAIL, DEMO_PASSWORD, DemoServer

SCRIPT = REPO / "contrib" / "headless" / "keyring-session.sh"


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    with DemoServer() as server:
        yield server


def _kill_processes_of(marker: str) -> None:
    """Stop this user's processes whose environment mentions ``marker`` (our temp root)."""
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            if needle in (entry / "environ").read_bytes():
                os.kill(int(entry.name), signal.SIGTERM)
        except (OSError, ProcessLookupError):
            continue


def _wait_for_file(path: Path, needle: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in (text := path.read_text()):
            return text
        time.sleep(0.1)
    raise AssertionError(f"{path.name}: no {needle!r} within {timeout} s: {path.read_text()!r}")


def test_the_readme_recipe_gives_every_tmux_pane_the_same_keyring(
    tmp_path: Path, demo: DemoServer
) -> None:
    require_tools("tmux", "dbus-daemon", "gnome-keyring-daemon")
    root = tmp_path / "r"  # short: a unix socket path has a length limit
    env = isolated_env(root, TERM="xterm-256color", PYTHONPATH=str(REPO))
    sock = str(root / "tmux.sock")
    flashtop = f"{PYTHON} -m tui"
    login_out, status_out = root / "login.out", root / "status.out"
    try:
        # A shell that runs the recipe and starts tmux, then goes away.
        recipe = (
            f'eval "$(printf %s keyring-pw | sh {SCRIPT})" && '
            f"tmux -S {sock} new-session -d -s keep -c {REPO} && "
            f"tmux -S {sock} new-session -d -s login -c {REPO} "
            f"'printf %s {DEMO_PASSWORD} | {flashtop} login --base-url {demo.base_url} "
            f"--email {DEMO_EMAIL} --password-stdin >{login_out} 2>&1; "
            f"echo rc=$? >>{login_out}'"
        )
        done = subprocess.run(
            ["sh", "-c", recipe], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        assert "Secret Service ready" in done.stderr
        text = _wait_for_file(login_out, "rc=")
        assert "rc=0" in text and "in the keyring" in text, text
        assert DEMO_PASSWORD not in text

        # Later, from another pane of the same tmux server (the login pane is gone):
        # the tokens are found in the same keyring.
        subprocess.run(
            [
                "tmux", "-S", sock, "new-window", "-t", "keep", "-c", str(REPO),
                f"{flashtop} status --base-url {demo.base_url} >{status_out} 2>&1; "
                f"echo rc=$? >>{status_out}",
            ],
            env={"PATH": env["PATH"]},  # the new pane's environment is the server's
            check=True,
            timeout=30,
        )  # fmt: skip
        text = _wait_for_file(status_out, "rc=")
        assert "rc=0" in text, text
        assert "logged in:     yes" in text and "SecretService" in text, text
    finally:
        if shutil.which("tmux"):
            subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True, check=False)
        _kill_processes_of(str(root))


def _config(root: Path, base_url: str, store: str) -> None:
    path = root / "config" / "flashtop" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[profiles.default]\nbase_url = "{base_url}"\ncredential_store = "{store}"\n',
        encoding="utf-8",
    )


def test_credential_store_file_warns_at_login_only(tmp_path: Path, demo: DemoServer) -> None:
    env = isolated_env(tmp_path)  # no D-Bus: no keyring at all
    _config(tmp_path, demo.base_url, "file")
    login = run_flashtop(
        ["login", "--email", DEMO_EMAIL, "--password-stdin"], env, stdin=DEMO_PASSWORD + "\n"
    )
    assert login.returncode == 0, login.stderr
    assert "plain text" in login.stderr and 'credential_store = "file"' in login.stderr
    tokens = tmp_path / "config" / "flashtop" / "tokens-default.json"
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"
    for _ in range(2):
        stats = run_flashtop(["stats", "--json"], env)
        assert stats.returncode == 0, stats.stderr
        assert "plain text" not in stats.stderr  # chosen once in the file: not said again
    # The flag still warns on every use.
    flagged = run_flashtop(["stats", "--json", "--insecure-storage"], env)
    assert flagged.returncode == 0
    assert "plain text" in flagged.stderr and "--insecure-storage" in flagged.stderr


def test_an_unknown_credential_store_is_a_usage_error(tmp_path: Path, demo: DemoServer) -> None:
    env = isolated_env(tmp_path)
    _config(tmp_path, demo.base_url, "plaintext")
    done = run_flashtop(["stats"], env)
    assert done.returncode == 2
    assert "credential_store" in done.stderr and "keyring, file" in done.stderr


def test_no_keyring_offers_the_ways_that_work(tmp_path: Path, demo: DemoServer) -> None:
    env = isolated_env(tmp_path)
    done = run_flashtop(["login", "--base-url", demo.base_url, "--with-token"], env, stdin="x\n")
    assert done.returncode == 6, done.stderr
    assert "keyring-session.sh" in done.stderr
    assert 'credential_store = "file"' in done.stderr
    assert "dbus-run-session" not in done.stderr  # the way that loses the keyring
