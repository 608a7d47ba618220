"""flashtop on a pseudo-terminal: what a user's terminal would receive, byte for byte."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def pty_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A child's environment: its own config and data dirs, an xterm, no credentials."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLASHBACK_", "FLASHTOP_")) and k not in ("NO_COLOR", "TEXTUAL")
    }
    env.update(
        TERM="xterm-256color",
        LANG="C.UTF-8",
        XDG_CONFIG_HOME=str(tmp / "config"),
        XDG_DATA_HOME=str(tmp / "data"),
        XDG_STATE_HOME=str(tmp / "state"),
        XDG_CACHE_HOME=str(tmp / "cache"),
    )
    env.update(extra)
    return env


class PtyProcess:
    """``python -m tui ARGS`` with a pseudo-terminal as stdin, stdout and stderr."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        size: tuple[int, int] = (80, 24),
        ignore_sighup: bool = False,
    ) -> None:
        master, slave = os.openpty()
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master: int | None = master
        self._lock = threading.Lock()
        self._out = bytearray()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=dict(env),
            cwd=REPO,
            preexec_fn=_session_with_tty(ignore_sighup),
            close_fds=True,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            fd = self.master
            if fd is None:
                return
            try:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(fd, 65536)
            except (OSError, ValueError):
                return
            if not data:
                return
            with self._lock:
                self._out += data

    def output(self) -> bytes:
        with self._lock:
            return bytes(self._out)

    def wait_for(self, needle: bytes, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return True
            if self.proc.poll() is not None:
                return needle in self.output()
            time.sleep(0.02)
        return False

    def write(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)

    def hang_up(self) -> None:
        """Close the terminal's master side: the child reads EIO, as when SSH drops."""
        fd, self.master = self.master, None
        if fd is not None:
            time.sleep(0.1)  # let the reader thread leave select()
            os.close(fd)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._reader.join(1)
        if self.master is not None:
            os.close(self.master)
            self.master = None


def _session_with_tty(ignore_sighup: bool) -> Callable[[], None]:
    def setup() -> None:
        # A new session whose controlling terminal is the pty, as a login shell has.
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if ignore_sighup:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # `nohup`, or a careless shell

    return setup
