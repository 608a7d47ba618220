"""The TUI and its terminal: signals restore it, no terminal means no start, a lost one
ends it, and the input thread sleeps while no key comes yet answers keys and quit at once.

Most tests run the real entry point (``python -m tui``) on a pseudo-terminal and read
the bytes a terminal would receive.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

import pytest
from textual import constants
from textual.app import App
from textual.events import Key
from textual.message import Message

from tests.pty_helpers import REPO, PtyProcess, pty_env
from tui.demo_server import DemoServer
from tui.errors import UsageError
from tui.terminal import NEEDS_TERMINAL, TerminalDriver, _QuietOutput, check_terminal

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


# ------------------------------------------------------------------- the input thread


def _wakeups(pid: int) -> dict[int, int]:
    """Each thread of ``pid``: how many times it has slept and been woken (its voluntary
    context switches), by thread id."""
    counts = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:
            continue  # the thread ended
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                counts[int(task.name)] = int(line.split()[1])
    return counts


def _seconds_until(run: PtyProcess, mark: int, needle: bytes, timeout: float) -> float | None:
    """Seconds until ``needle`` is written to the terminal after byte ``mark``; None if
    it is not within ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if needle in run.output()[mark:]:
            return time.monotonic() - start
        time.sleep(0.005)
    return None


def test_an_idle_monitor_sleeps_yet_escape_goes_back_and_q_quits_at_once(tmp_path: Path) -> None:
    # Its own server (not --demo, whose in-process server wakes 20 times a second) and
    # a poll a minute: between polls nothing of flashtop's but its event loop may run.
    server = DemoServer(n_configs=20, changing=2).start()
    try:
        token, _refresh = server.issue_tokens()
        env = pty_env(tmp_path, FLASHBACK_TOKEN=token)
        args = ["--base-url", server.base_url, "--interval", "60"]
        run = PtyProcess(args, env, size=(120, 40))
        try:
            assert run.wait_for(FIRST_FRAME, 60), f"no data on the pty: {run.output()[-400:]!r}"
            time.sleep(1.5)  # the first poll's work done
            pid = run.proc.pid
            before = _wakeups(pid)
            time.sleep(2.5)
            after = _wakeups(pid)
            woke = {tid: n - before[tid] for tid, n in after.items() if tid in before}
            busy = {tid: n for tid, n in woke.items() if tid != pid and n > 3}
            # Textual's own input thread wakes 25 times in 2.5 s.
            assert not busy, f"threads woken while idle, times in 2.5 s: {busy} (all: {woke})"

            mark = len(run.output())
            run.write(b"\r")
            assert _seconds_until(run, mark, b"Back", 10) is not None, "no drill-down"
            time.sleep(0.5)
            mark = len(run.output())
            run.write(b"\x1b")  # a lone ESC: the escape key once ESCDELAY (0.1 s) passed
            took = _seconds_until(run, mark, b"Filter", 5)  # the overview's footer again
            assert took is not None, "escape did not close the drill-down"
            assert took < 1.0, f"escape took {took:.2f} s to close the drill-down"

            sent = time.monotonic()
            run.write(b"q")
            code = run.wait(5)
            took = time.monotonic() - sent
            assert code == 0
            assert took < 1.0, f"the process was still there {took:.2f} s after q"
        finally:
            run.close()
    finally:
        server.stop()


def test_the_input_thread_sleeps_when_idle_yet_reads_escape_and_stops_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # flashtop's driver on a real pseudo-terminal in raw mode, as in the app; only its
    # input thread runs, and the messages it would post to the app are kept here.
    master, slave = os.openpty()
    tty.setraw(slave)
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTSTP, signal.SIGCONT)}
    keys: list[str] = []

    def keep(message: Message) -> None:
        if isinstance(message, Key):
            keys.append(message.key)

    async def make_driver() -> TerminalDriver:  # a driver wants a running event loop
        return TerminalDriver(App())

    with open(slave, closefd=False) as terminal:
        monkeypatch.setattr(sys, "__stdin__", terminal)  # where the driver finds its tty
        monkeypatch.setattr(sys, "__stderr__", terminal)
        driver = asyncio.run(make_driver())
        monkeypatch.undo()
    assert driver.fileno == slave
    driver.process_message = keep  # type: ignore[method-assign]
    thread = threading.Thread(target=driver.run_input_thread, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)  # into its first select()
        assert thread.native_id is not None
        tid = thread.native_id
        before = _wakeups(os.getpid())[tid]
        time.sleep(2.0)
        woke = _wakeups(os.getpid())[tid] - before
        assert woke <= 2, f"the idle input thread woke {woke} times in 2 s (Textual's: 20)"

        os.write(master, b"\x1b")
        sent = time.monotonic()
        while not keys and time.monotonic() - sent < 5:
            time.sleep(0.002)
        took = time.monotonic() - sent
        assert keys == ["escape"], keys
        assert took < constants.ESCAPE_DELAY + 0.4, f"a lone ESC took {took:.2f} s"

        os.write(master, b"a")
        while keys == ["escape"] and time.monotonic() - sent < 5:
            time.sleep(0.002)
        assert keys == ["escape", "a"]

        # Quitting (disable_input: set, then join) wakes it; it reads nothing more, or
        # it would block on a terminal with nothing to read.
        asked = time.monotonic()
        driver.exit_event.set()
        thread.join(5)
        took = time.monotonic() - asked
        assert not thread.is_alive(), "the input thread did not stop"
        assert took < 0.5, f"the input thread took {took:.2f} s to stop"
    finally:
        os.close(master)  # a thread still reading gets EIO and ends
        thread.join(5)
        os.close(slave)
        for signum, handler in saved.items():
            signal.signal(signum, handler)
