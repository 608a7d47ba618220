"""Keyring fixtures: in-memory backends for unit tests, a private Secret Service for real ones.

Import what you need from here in a test module (``from keyring_fixtures import ...``);
fixtures imported into a module are found by pytest like local ones.

The in-memory backends set ``viable = False`` so keyring's own detection never
picks them: defining a backend class registers it with keyring for the whole
process, and they must only ever be used through ``keyring.set_keyring``.

:class:`SecretServiceSession` starts a private ``dbus-daemon`` (own config, no
service activation, socket in a temporary directory) and a ``gnome-keyring-daemon``
unlocked with a test password fed on stdin, with HOME and the XDG directories
pointed at temporary directories. flashtop then runs in subprocesses with
:attr:`SecretServiceSession.env`. Only the two processes started here are ever
stopped, by their own handles.
"""

from __future__ import annotations

import os
import secrets
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import keyring
import keyring.core
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


# ---------------------------------------------------------------------------- in memory


class MemoryKeyring(KeyringBackend):
    """A keyring held in a dict, counting the calls made to it."""

    viable = False
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.calls: list[tuple[str, str, str]] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.calls.append(("get", service, username))
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls.append(("set", service, username))
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.calls.append(("delete", service, username))
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("no such entry")


class HangingKeyring(MemoryKeyring):
    """A keyring that never answers (like a locked one waiting for a prompt) for 30 s."""

    viable = False

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(30)
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self.release.wait(30)
        super().set_password(service, username, password)


@pytest.fixture
def use_backend(monkeypatch: pytest.MonkeyPatch) -> Callable[[KeyringBackend], KeyringBackend]:
    """Install a keyring backend for one test; the previous one comes back afterwards."""
    # Recording the private global first lets monkeypatch restore it, even when it
    # was None (not yet detected).
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)

    def install(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    return install


@pytest.fixture
def memory_keyring(use_backend: Callable[[KeyringBackend], KeyringBackend]) -> MemoryKeyring:
    """A fresh in-memory keyring installed as keyring's backend."""
    backend = MemoryKeyring()
    use_backend(backend)
    return backend


@pytest.fixture
def hanging_keyring(
    use_backend: Callable[[KeyringBackend], KeyringBackend],
) -> Iterator[HangingKeyring]:
    """A keyring whose reads and writes hang; released at teardown so no thread lingers."""
    backend = HangingKeyring()
    use_backend(backend)
    yield backend
    backend.release.set()


# ---------------------------------------------------------------------------- secret service

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def require_tools(*names: str) -> None:
    """Skip when a tool is missing, except under CI, where a missing tool is a failure."""
    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return
    reason = f"not installed: {', '.join(missing)} (apt-get install gnome-keyring dbus)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so real keyring tests must run: {reason}")
    pytest.skip(reason)


def isolated_env(root: Path, **extra: str) -> dict[str, str]:
    """An environment with HOME and XDG dirs under ``root`` and nothing of the caller's."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": os.environ.get("TZ", "UTC"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for var, sub in (
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_RUNTIME_DIR", "run"),
    ):
        path = root / sub
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        env[var] = str(path)
    env.update(extra)
    return env


def run_flashtop(
    args: list[str],
    env: Mapping[str, str],
    *,
    stdin: str | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """``python -m tui ARGS`` from the repository, with exactly ``env``."""
    return run_python(["-m", "tui", *args], env, stdin=stdin, timeout=timeout)


def run_python(
    args: list[str],
    env: Mapping[str, str],
    *,
    stdin: str | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """The test interpreter in a subprocess, started from the repository root."""
    return subprocess.run(
        [PYTHON, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def _read_address(proc: subprocess.Popen[bytes], deadline: float) -> str:
    assert proc.stdout is not None
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise RuntimeError("dbus-daemon did not print its address")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError("dbus-daemon closed its output without an address")
            line += chunk
    return line.decode().strip()


def _name_has_owner(address: str, name: str) -> bool:
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    with open_dbus_connection(bus=address) as conn:
        reply = conn.send_and_get_reply(message_bus.NameHasOwner(name), timeout=5)
    return bool(reply.body[0])


class SecretServiceSession:
    """A private D-Bus session bus with an unlocked gnome-keyring Secret Service."""

    def __init__(self, root: Path) -> None:
        self.root = root
        #: The keyring's unlock password (a test value, never a user's).
        self.password = secrets.token_urlsafe(12)
        self.env = isolated_env(root)
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> SecretServiceSession:
        socket = Path(self.env["XDG_RUNTIME_DIR"]) / "bus"
        config = self.root / "session-bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=socket), encoding="utf-8")
        deadline = time.monotonic() + 20
        bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=(self.root / "dbus.log").open("wb"),
            env=self.env,
        )
        self._procs.append(bus)
        address = _read_address(bus, deadline)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=(self.root / "gnome-keyring.log").open("wb"),
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        self._procs.append(daemon)
        assert daemon.stdin is not None
        # --unlock reads the password from stdin up to EOF (it creates the login
        # keyring with it on first start).
        daemon.stdin.write(self.password.encode())
        daemon.stdin.close()
        while not _name_has_owner(address, "org.freedesktop.secrets"):
            if daemon.poll() is not None:
                log = (self.root / "gnome-keyring.log").read_text(errors="replace")
                raise RuntimeError(f"gnome-keyring-daemon exited: {log[-500:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("gnome-keyring-daemon did not register on the bus")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self._procs.clear()

    def keyring_get(self, service: str, username: str) -> str | None:
        """Read an entry through the ``keyring`` package in a subprocess of this session."""
        code = (
            "import sys, keyring; v = keyring.get_password(sys.argv[1], sys.argv[2]);"
            "sys.stdout.write('<none>' if v is None else v)"
        )
        done = run_python(["-c", code, service, username], self.env)
        if done.returncode != 0:
            raise RuntimeError(f"keyring read failed: {done.stderr[-500:]}")
        return None if done.stdout == "<none>" else done.stdout

    def backend(self) -> str:
        """The keyring backend a subprocess of this session picks."""
        done = run_python(
            ["-c", "import keyring; k = keyring.get_keyring(); print(type(k).__module__)"],
            self.env,
        )
        return done.stdout.strip()


@pytest.fixture(scope="module")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretServiceSession]:
    """A private, unlocked Secret Service for the tests of one module."""
    require_tools("dbus-daemon", "gnome-keyring-daemon")
    session = SecretServiceSession(tmp_path_factory.mktemp("secret-service"))
    try:
        session.start()
        yield session
    finally:
        session.stop()
