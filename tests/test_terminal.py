"""The TUI and its terminal: signals restore it, no terminal means no start, a lost one ends it.

Each test runs the real entry point (``python -m tui --demo``) on a pseudo-terminal
and reads the bytes a terminal would receive.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pty_helpers import REPO, PtyProcess, pty_env
from tui.errors import UsageError
from tui.terminal import NEEDS_TERMINAL, _QuietOutput, check_terminal

#: What leaving the TUI must send: main screen back, cursor shown, mouse reporting off.
RESTORE = (b"\x1b[?1049l", b"\x1b[?25h", b"\x1b[?1003l", b"\x1b[?1000l")
FIRST_FRAME = b"support-bot"  # a demo configuration's name: data is on screen


def started(tmp_path: Path, **kwargs: object) -> PtyProcess:
    run = PtyProcess(["--demo"], pty_env(tmp_path), **kwargs)  # type: ignore[arg-type]
    if not run.wait_for(FIRST_FRAME, 60):
        out = run.output()[-400:]
        run.close()
        pytest.fail(f"flashtop --demo drew no data on the pty: {out!r}")
    return run


@pytest.mark.parametrize(
    ("signum", "expected"), [(signal.SIGTERM, 143), (signal.SIGHUP, 0), (signal.SIGINT, 130)]
)
def test_a_signal_quits_like_q_and_restores_the_terminal(
    tmp_path: Path, signum: int, expected: int
) -> None:
    run = started(tmp_path)
    try:
        mark = len(run.output())
        os.kill(run.proc.pid, signum)
        code = run.wait(10)
        time.sleep(0.2)  # the last bytes through the pty
        tail = run.output()[mark:]
        assert code == expected
        for sequence in RESTORE:
            assert sequence in tail, f"{sequence!r} not sent after {signal.Signals(signum).name}"
        assert b"Traceback" not in run.output()
    finally:
        run.close()


def test_a_signal_ignored_at_start_stays_ignored(tmp_path: Path) -> None:
    run = started(tmp_path, ignore_sighup=True)
    try:
        os.kill(run.proc.pid, signal.SIGHUP)
        assert run.wait(1.5) is None, "nohup's SIGHUP ended the monitor"
        mark = len(run.output())
        run.write(b"q")
        assert run.wait(10) == 0
        time.sleep(0.2)
        assert b"\x1b[?1049l" in run.output()[mark:]
    finally:
        run.close()


def test_a_vanished_terminal_ends_the_monitor_within_seconds(tmp_path: Path) -> None:
    # SIGHUP ignored (as under nohup): only the terminal's EIO can tell it the user left.
    run = started(tmp_path, ignore_sighup=True)
    try:
        run.hang_up()
        hung_up = time.monotonic()
        code = run.wait(10)
        took = time.monotonic() - hung_up
        assert code == 0, "the monitor kept running without its terminal"
        assert took < 3.0, f"took {took:.1f} s to notice the terminal was gone"
    finally:
        run.close()


# ---------------------------------------------------------------------------- no terminal


def test_no_terminal_on_stdin_is_refused_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with out.open("wb") as sink:
        proc = subprocess.run(
            [sys.executable, "-m", "tui", "--demo"],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            env=pty_env(tmp_path),
            cwd=REPO,
            timeout=30,
            check=False,
        )
    text = out.read_bytes()
    assert proc.returncode == 2
    assert text.decode() == f"flashtop: error: {NEEDS_TERMINAL}\n"
    assert b"\x1b" not in text  # no screen drawn into the file


def test_output_that_is_not_a_terminal_is_refused_even_with_keys_from_one(tmp_path: Path) -> None:
    # stdin is a terminal, the screen would go to a file: `flashtop --demo 2>log`.
    master, slave = os.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tui", "--demo"],
            stdin=slave,
            capture_output=True,
            env=pty_env(tmp_path),
            cwd=REPO,
            timeout=30,
            check=False,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 2
    assert NEEDS_TERMINAL in proc.stderr.decode()
    assert b"\x1b[" not in proc.stderr


def test_a_dumb_terminal_is_refused(tmp_path: Path) -> None:
    run = PtyProcess(["--demo"], pty_env(tmp_path, TERM="dumb"))
    try:
        assert run.wait(30) == 2
        time.sleep(0.1)
        out = run.output()
        assert b"TERM=dumb" in out
        assert b"\x1b[?1049h" not in out  # never entered the alternate screen
    finally:
        run.close()


def test_check_terminal_accepts_terminals_and_refuses_the_rest() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    check_terminal(Tty(), Tty(), {"TERM": "xterm-256color"})
    for stdin, output in ((io.StringIO(), Tty()), (Tty(), io.StringIO()), (None, Tty())):
        with pytest.raises(UsageError, match="needs a terminal"):
            check_terminal(stdin, output, {"TERM": "xterm"})
    with pytest.raises(UsageError, match="TERM=dumb"):
        check_terminal(Tty(), Tty(), {"TERM": "dumb"})


def test_quiet_output_stops_writing_after_the_first_error_and_says_so_once() -> None:
    calls: list[str] = []

    class Broken(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError(5, "Input/output error")

    out = _QuietOutput(Broken(), lambda: calls.append("lost"))
    out.write("frame")
    out.write("frame")
    out.flush()
    assert out.lost
    assert calls == ["lost"]
