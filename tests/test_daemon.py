"""`flashtop daemon` as a real process: signals, history, logs, reloads, the warning."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tui.daemon import Daemon as HeadlessDaemon
from tui.daemon import DaemonOptions, JsonFormatter, TextFormatter, emit, safe_url
from tui.demo_server import DemoServer
from tui.logsetup import RedactingFilter
from tui.settings import Settings
from tui.store import TIER_RAW
from tui.tokens import AuthSession, TokenSet

REPO = Path(__file__).resolve().parent.parent


class Daemon:
    """A ``flashtop daemon`` subprocess whose stderr lines are read as they come."""

    def __init__(self, *args: str, env: Mapping[str, str] | None = None) -> None:
        full_env = {
            **os.environ,  # isolated XDG dirs from conftest
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "NO_COLOR": "1",
            **(env or {}),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui", "daemon", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            cwd=REPO,
            env=full_env,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        """The first line (from now on, or already read) containing ``text``."""
        for line in self.lines:
            if text in line:
                return line
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line with {text!r} in: {self.lines}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"exited ({self.proc.wait()}) before {text!r}: {self.lines}")
            self.lines.append(line)
            if text in line:
                return line

    def signal(self, sig: int) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=20)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def daemon(*args: str, env: Mapping[str, str] | None = None) -> Iterator[Daemon]:
    d = Daemon(*args, env=env)
    try:
        yield d
    finally:
        d.kill()


def history_polls(profile: str) -> int:
    """How many polls (distinct raw times) the profile's history file holds."""
    path = Path(os.environ["XDG_DATA_HOME"]) / "flashtop" / f"history-{profile}.sqlite3"
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT at) FROM poll WHERE tier = ?", (TIER_RAW,)
        ).fetchone()
    return int(row[0])


def scrape(url: str) -> dict[str, Any]:
    body = httpx.get(url, timeout=5).text
    return {f.name: f for f in text_string_to_metric_families(body)}


def last_success(fams: dict[str, Any]) -> float:
    return float(fams["flashtop_last_success_timestamp_seconds"].samples[0].value)


def metrics_url(start_line: str) -> str:
    fields = json.loads(start_line)
    return str(fields["metrics"])


def test_sigterm_exits_0_with_the_polls_in_the_history_file() -> None:
    with daemon(
        "--demo", "--interval", "1", "--metrics", "127.0.0.1:0", "--log-format", "json"
    ) as d:
        url = metrics_url(d.wait_for('"event": "start"'))
        d.wait_for('"event": "first_poll"')
        fams = scrape(url)
        assert len(fams["flashback_ai_llm_tokens_in"].samples) == 12
        assert fams["flashtop_up"].samples[0].value == 1.0
        time.sleep(2.0)  # a few more polls
        # Stop right after a poll is recorded, while its write is still queued (the
        # writer waits a moment before writing): only the flush at the stop saves it.
        last = last_success(scrape(url))
        while last_success(scrape(url)) == last:
            time.sleep(0.005)
        assert d.signal(signal.SIGTERM) == 0
    stopped = json.loads(next(line for line in d.lines if '"event": "stopped"' in line))
    assert stopped["polls"] >= 3
    # Every poll the daemon recorded is in the file: none lost at the stop.
    assert history_polls("demo") == stopped["polls"]
    assert d.proc.stdout is not None and d.proc.stdout.read() == ""  # stdout stays clean


async def test_stop_flushes_the_poll_still_queued_for_the_history_file() -> None:
    """In process: stopped right after the first poll (whose write waits a moment),
    the daemon's stop writes it before returning."""
    with DemoServer() as server:
        access, refresh = server.issue_tokens()
        session = AuthSession(TokenSet(access, refresh, obtained_at=time.time()), source="t")
        settings = Settings(profile="inproc", base_url=server.base_url, interval=60.0)
        headless = HeadlessDaemon(
            settings,
            session,
            DaemonOptions(),
            load_settings=lambda: settings,
            load_session=lambda _s: session,
        )
        task = asyncio.ensure_future(headless.run(install_signals=False))
        deadline = time.monotonic() + 10
        while headless.metrics.health()[0] is False:
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.01)
        headless.stop("test")
        assert await task == 0
        assert history_polls("inproc") == 1


def test_sigint_also_exits_0_and_a_non_loopback_bind_warns() -> None:
    with daemon("--demo", "--metrics", "0.0.0.0:0") as d:
        warning = d.wait_for("unauthenticated_endpoint")
        assert "no authentication" in warning and "warning" in warning
        d.wait_for("first_poll")
        assert d.signal(signal.SIGINT) == 0
    assert any("stopping (SIGINT)" in line for line in d.lines)


def test_a_loopback_bind_does_not_warn() -> None:
    with daemon("--demo", "--metrics", "127.0.0.1:0") as d:
        d.wait_for("first_poll")
        assert d.signal(signal.SIGTERM) == 0
    assert not any("no authentication" in line for line in d.lines)


def test_json_log_lines_parse_and_never_hold_the_token() -> None:
    with DemoServer() as server:
        access, _refresh = server.issue_tokens()
        env = {"FLASHBACK_TOKEN": access}
        config = Path(os.environ["XDG_CONFIG_HOME"]) / "flashtop" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text("[profiles.ops]\n")  # a named profile must be defined
        with daemon(
            "--base-url", server.base_url, "--interval", "1", "--log-format", "json",
            "--profile", "ops", env=env,
        ) as d:  # fmt: skip
            d.wait_for('"event": "first_poll"')
            server.set_fault("server_error")
            failed = json.loads(d.wait_for('"event": "poll_failed"'))
            assert failed["level"] == "warning" and failed["failures"] >= 1
            server.set_fault(None)
            d.wait_for('"event": "poll_recovered"', timeout=30)
            assert d.signal(signal.SIGTERM) == 0
    assert len(d.lines) >= 5
    for line in d.lines:
        record = json.loads(line)  # every line is one JSON object
        assert {"ts", "level", "event", "msg"} <= set(record)
        assert access not in line and "Bearer" not in line
    start = json.loads(d.lines[0])
    assert start["event"] == "start" and start["base_url"] == server.base_url
    assert start["profile"] == "ops"


def test_sighup_reloads_the_config_and_keeps_the_old_one_when_bad(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[profiles.default]\ninterval = 1\n", encoding="utf-8")
    with daemon("--demo", "--config", str(config), "--log-format", "json") as d:
        start = json.loads(d.wait_for('"event": "start"'))
        assert start["interval"] == 1.0 and start["rules"] == 3
        d.wait_for('"event": "first_poll"')

        config.write_text("[profiles.default]\ninterval = 1\nbogus = 1\n", encoding="utf-8")
        d.proc.send_signal(signal.SIGHUP)
        failed = json.loads(d.wait_for('"event": "reload_failed"'))
        assert "bogus" in failed["msg"] and "running one is kept" in failed["msg"]
        assert d.proc.poll() is None  # still running

        config.write_text(
            "[profiles.default]\ninterval = 2\n"
            '[[profiles.default.rules]]\nname = "hook"\nmetric = "blocks"\n'
            'notify = ["json://127.0.0.1:9/x?token=s3cret"]\n',
            encoding="utf-8",
        )
        d.proc.send_signal(signal.SIGHUP)
        reloaded = json.loads(d.wait_for('"event": "reloaded"'))
        assert reloaded["interval"] == 2.0 and reloaded["rules"] == 4
        assert reloaded["profile"] == "demo"
        assert d.signal(signal.SIGTERM) == 0
    assert not any("s3cret" in line for line in d.lines)


def test_textfile_is_written_after_polls(tmp_path: Path) -> None:
    target = tmp_path / "flashtop.prom"
    with daemon("--demo", "--interval", "1", "--textfile", str(target)) as d:
        d.wait_for("first_poll")
        deadline = time.monotonic() + 10
        while not target.exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        fams = {f.name: f for f in text_string_to_metric_families(target.read_text("utf-8"))}
        assert len(fams["flashback_ai_llm_api_calls"].samples) == 12
        assert fams["flashtop_up"].samples[0].value == 1
        assert d.signal(signal.SIGTERM) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flashtop.prom"]
    # The file outlives the daemon: its last word is that flashtop is down.
    fams = {f.name: f for f in text_string_to_metric_families(target.read_text("utf-8"))}
    assert fams["flashtop_up"].samples[0].value == 0
    assert len(fams["flashback_ai_llm_api_calls"].samples) == 12  # the last values stay


def test_bad_options_are_one_line_usage_errors(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy_port = taken.getsockname()[1]
    for args, text in (
        (["--metrics", "nonsense"], "HOST:PORT"),
        (["--textfile", str(tmp_path / "no" / "dir.prom")], "does not exist"),
        (["--textfile", str(tmp_path)], "cannot write"),  # a directory
        (["--log-format", "xml"], "invalid choice"),
        (["--metrics", f"127.0.0.1:{busy_port}"], "cannot listen there"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "tui", "daemon", "--demo", *args],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 2, proc.stderr
        assert text in proc.stderr and "Traceback" not in proc.stderr
    taken.close()


# ---------------------------------------------------------------------------- log lines


def _record(message: str, **fields: Any) -> logging.LogRecord:
    record = logging.LogRecord("flashtop.daemon", logging.WARNING, __file__, 1, message, (), None)
    record.event = "poll_failed"
    record.fields = fields
    return record


def test_formatters_redact_and_keep_one_line() -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.payload.sig"
    record = _record(
        f"failed with Authorization: Bearer {secret}\nsecond line", why=f"token={secret}"
    )
    RedactingFilter(lambda: (secret,)).filter(record)
    line = JsonFormatter().format(record)
    parsed = json.loads(line)
    assert secret not in line and "\n" not in line
    assert parsed["event"] == "poll_failed" and parsed["level"] == "warning"
    assert parsed["why"] == "token=***"
    text = TextFormatter().format(_record("name\x1b[31m\nx", rule="r\nx"))
    assert "\n" not in text and "\x1b" not in text and " warning poll_failed: " in text


def test_emit_goes_through_the_daemon_logger() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("flashtop.daemon")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        emit(logging.INFO, "start", "hello", profile="p")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert json.loads(stream.getvalue()) | {"ts": 0} == {
        "ts": 0,
        "level": "info",
        "event": "start",
        "msg": "hello",
        "profile": "p",
    }


def test_safe_url_drops_credentials_and_query() -> None:
    assert (
        safe_url("https://u:pw@host.example:8443/api?token=x#f") == "https://host.example:8443/api"
    )
    assert safe_url("http://[::1]:80/") == "http://[::1]:80/"


@pytest.mark.parametrize("flag", ["--help"])
def test_daemon_is_in_the_help(flag: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tui", "daemon", flag],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert proc.returncode == 0
    for word in ("--metrics", "--textfile", "--log-format", "--profile", "--demo"):
        assert word in proc.stdout
