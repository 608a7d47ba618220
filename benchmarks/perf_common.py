"""Helpers shared by the issue-8 performance benchmarks (not a benchmark itself).

Machine description, percentiles, a demo server in its own process, and a
pseudo-terminal runner that drains a child's output, counting bytes with their
arrival times, and reads its CPU time from ``/proc/<pid>/stat``.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine() -> str:
    """Cores, CPU, Python and Textual versions, one line."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        textual = version("textual")
    except Exception:  # only a label
        textual = "?"
    return (
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}, Textual {textual}"
    )


def pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` (not its children), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size (VmRSS) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class DemoProcess:
    """``python -m tui.demo_server`` in its own process, so its work never shares our GIL."""

    def __init__(
        self, configs: int, changing: int | None = None, rotate: float | None = None
    ) -> None:
        cmd = [PYTHON, "-m", "tui.demo_server", "--port", "0", "--configs", str(configs)]
        if changing is not None:
            cmd += ["--changing", str(changing)]
        if rotate is not None:
            cmd += ["--rotate", str(rotate)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if match is None:
            self.stop()
            raise RuntimeError(f"demo server did not start: {line!r}")
        self.base_url = match.group(1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class PtyRun:
    """A child process on its own pseudo-terminal, its output drained by a thread."""

    argv: list[str]
    env: Mapping[str, str]
    cols: int = 120
    rows: int = 40
    cwd: Path = ROOT
    #: (wall-clock time, bytes) per read of the terminal's output.
    chunks: list[tuple[float, int]] = field(default_factory=list)
    #: The whole output is kept only until ``keep`` bytes (for finding text in frames).
    keep: int = 4 * 1024 * 1024
    text: bytearray = field(default_factory=bytearray)
    started: float = 0.0

    def start(self) -> PtyRun:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.rows, self.cols, 0, 0))
        self.master = master
        self.started = time.time()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=dict(self.env),
            cwd=self.cwd,
            preexec_fn=_controlling_tty,  # setsid + TIOCSCTTY: C calls only
            close_fds=True,
        )
        os.close(slave)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()
        return self

    def _drain(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            now = time.time()
            with self._lock:
                self.chunks.append((now, len(data)))
                if len(self.text) < self.keep:
                    self.text += data

    def resize(self, cols: int, rows: int) -> None:
        """Set the window size; the kernel sends SIGWINCH to the child."""
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def wait_for_text(self, needle: bytes, timeout: float) -> float | None:
        """Wall-clock time of the read that completed ``needle`` in the output, or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                at = bytes(self.text).find(needle)
                if at >= 0:
                    end, seen = at + len(needle), 0
                    for t, n in self.chunks:
                        seen += n
                        if seen >= end:
                            return t
            time.sleep(0.005)
        return None

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def total_bytes(self, start: float = 0.0, end: float = float("inf")) -> int:
        with self._lock:
            return sum(n for t, n in self.chunks if start <= t < end)

    def output(self) -> bytes:
        with self._lock:
            return bytes(self.text)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self, keys: bytes = b"") -> None:
        if keys and self.proc.poll() is None:
            try:
                self.write(keys)
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)


def _controlling_tty() -> None:
    # A new session whose controlling terminal is the pty (stdin): resizes then
    # deliver SIGWINCH, as in a real terminal.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def base_env(tmp: Path) -> dict[str, str]:
    """An environment for a child flashtop: its own config and data dirs, a real terminal."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FLASHBACK_TOKEN", "FLASHBACK_BASE_URL", "NO_COLOR", "TEXTUAL", "COLORTERM")
    }
    env.update(
        TERM="xterm-256color",
        LANG="C.UTF-8",
        XDG_CONFIG_HOME=str(tmp / "config"),
        XDG_DATA_HOME=str(tmp / "data"),
        XDG_STATE_HOME=str(tmp / "state"),
        XDG_CACHE_HOME=str(tmp / "cache"),
        COLUMNS="120",
        LINES="40",
    )
    return env


DESIGNS = ("today", "compact")


def print_designs(
    title: str,
    rows: Sequence[tuple[str, Callable[[dict[str, Any]], str]]],
    results: dict[str, dict[str, Any]],
    *,
    label: int = 36,
    column: int = 12,
) -> None:
    """The designs' figures side by side: a title line naming the designs, then one
    line a row (its label, and the row's text for each design's results)."""
    print()
    print(f"{title:<{label}}" + "".join(f"{d:>{column}}" for d in DESIGNS))
    for name, fmt in rows:
        print(f"{name:<{label}}" + "".join(f"{fmt(results[d]):>{column}}" for d in DESIGNS))


def run_designs(script: str, argv: list[str]) -> dict[str, dict[str, Any]] | int:
    """Run ``script`` once per history design, each in its own process (``--design``),
    echo what it prints and collect its ``RESULT {json}`` line. Returns the results
    by design, or the exit status to leave with when one run failed (its stderr's end
    printed)."""
    results: dict[str, dict[str, Any]] = {}
    for design in DESIGNS:
        cmd = [sys.executable, script, *argv, "--design", design]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                results[design] = json.loads(line[7:])
            else:
                print(f"  {design}: {line}")
        if proc.returncode != 0 or design not in results:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode or 1
    return results
