"""Notifications: message text, OSC desktop sequences, secrets, and real Apprise delivery.

Delivery tests post through Apprise's ``json://`` plugin to a real HTTP server on
127.0.0.1 (one thread, bounded requests, stopped by the fixture): no fakes between
the notifier and the socket.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tui import notify
from tui.notify import (
    Notifier,
    apprise_urls,
    config_warning,
    desktop_sequence,
    format_value,
    in_tmux,
    message,
    payload,
    redact,
)
from tui.rules import Event, Rule

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

ESC = "\x1b"
BEL = "\x07"


def event(
    rule: str = "any block",
    *,
    entity: str = "llm-123",
    name: str = "prod-gpt",
    state: str = "firing",
    value: float = 3,
    threshold: float = 0,
    metric: str = "blocks",
    notify_: tuple[str, ...] = ("toast",),
) -> Event:
    return Event(
        rule=rule,
        entity=entity,
        entity_name=name,
        state=state,
        value=value,
        threshold=threshold,
        metric=metric,
        at=1_700_000_000.0,
        notify=notify_,
    )


# ------------------------------------------------------------------------------ sink


class Sink:
    """A real webhook receiver on 127.0.0.1 that can fail, then recover, or hang."""

    def __init__(self, fail_first: int = 0, hang: threading.Event | None = None) -> None:
        self.fail_first = fail_first
        self.hang = hang
        self.attempts = 0
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if sink.hang is not None:
                    sink.hang.wait(30)
                with sink.lock:
                    sink.attempts += 1
                    failing = sink.attempts <= sink.fail_first
                    if not failing:
                        sink.received.append((self.path, json.loads(body)))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        if self.hang is not None:
            self.hang.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests honours proxy variables; loopback deliveries must go straight there."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def sinks() -> Iterator[list[Sink]]:
    made: list[Sink] = []
    yield made
    for sink in made:
        sink.close()


@pytest.fixture
def notifier() -> Iterator[Notifier]:
    n = Notifier(backoff=0.05, backoff_cap=0.2)
    yield n
    n.close(2)


def wait_until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# ---------------------------------------------------------------------------- messages


def test_message_names_rule_configuration_value_and_threshold() -> None:
    title, body = message(event())
    assert title == "flashtop: any block firing"
    assert body == "prod-gpt (llm-123): blocks 3, above 0"
    title, body = message(event(state="resolved", value=0))
    assert title == "flashtop: any block resolved"
    assert body == "prod-gpt (llm-123): blocks 0, no longer above 0"
    assert message(event(state="repeat"))[0] == "flashtop: any block still firing"
    summed = event(entity="", name="all matching", metric="tokens_per_minute", value=1_234_567)
    assert message(summed)[1] == "all matching: tokens per minute 1.2M, above 0"
    budget = event(entity="budget:team-a", name="team-a", metric="budget_percent", value=91)
    assert message(budget)[1] == "budget team-a: budget used 91%, above 0%"
    stale = event(entity="", name="polling", metric="no_data", value=300, threshold=120)
    assert message(stale)[1] == "polling: no data for 5 min"
    assert message(event(entity="", name="polling", metric="no_data", state="resolved"))[1] == (
        "polling: data again"
    )


def test_numbers_are_readable() -> None:
    assert format_value("cost_per_hour", 12.5) == "$12.5"
    assert format_value("cost_per_hour", 0.004) == "$0.004"
    assert format_value("cost_per_hour", 45_678) == "$45.7k"
    assert format_value("budget_percent", 91.25) == "91.2%"
    assert format_value("calls_per_minute", 1.5) == "1.5"
    assert format_value("calls_per_minute", 456.7) == "457"
    assert format_value("no_data", 300) == "5 min"
    assert format_value("blocks", float("nan")) == "?"


def test_hostile_names_are_sanitized_for_people_but_exact_in_json() -> None:
    hostile = "evil\x1b]0;owned\x07\x1b[2J\u202ename\n"
    ev = event(name=hostile, rule="r\x9b1")
    title, body = message(ev)
    for text in (title, body):
        assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in text)
        assert "\u202e" not in text
    data = payload(ev)
    assert data["configuration"] == {"name": hostile, "id": "llm-123"}
    assert data["rule"] == "r\x9b1"
    encoded = json.dumps(data)
    assert "\x1b" not in encoded and "\\u001b" in encoded
    assert json.loads(encoded)["configuration"]["name"] == hostile


def test_payload_fields() -> None:
    data = payload(event(value=2.5, threshold=1))
    assert data["rule"] == "any block"
    assert data["state"] == "firing"
    assert data["metric"] == "blocks"
    assert data["value"] == 2.5 and data["threshold"] == 1
    assert data["time"] == "2023-11-14T22:13:20+00:00"
    # Apprise's own JSON keys would be read as renames, not additions.
    assert not {"version", "title", "message", "attachments", "type"} & data.keys()
    assert payload(event(value=float("inf")))["value"] is None
    json.dumps(payload(event(value=float("nan"))), allow_nan=False)


# ----------------------------------------------------------------------------- desktop


def test_desktop_sequence_bytes() -> None:
    assert desktop_sequence("T", "B", tmux=False) == f"{ESC}]777;notify;T;B{BEL}{ESC}]9;T: B{BEL}"
    assert desktop_sequence("T", "B", tmux=False, osc=(9,)) == f"{ESC}]9;T: B{BEL}"


def test_desktop_sequence_wrapped_for_tmux() -> None:
    assert desktop_sequence("T", "B", tmux=True) == (
        f"{ESC}Ptmux;{ESC}{ESC}]777;notify;T;B{BEL}{ESC}\\{ESC}Ptmux;{ESC}{ESC}]9;T: B{BEL}{ESC}\\"
    )


@pytest.mark.parametrize("tmux", [False, True])
def test_hostile_desktop_text_is_neutralised(tmux: bool) -> None:
    title = f"a;b{ESC}]0;pwned{BEL}{ESC}\\\x9c\x9d;c"
    body = f"x{BEL}y;z{ESC}[31mred\x00" + "w" * 500
    seq = desktop_sequence(title, body, tmux=tmux)
    # Only the framing's own ESC, BEL and separators remain.
    assert seq.count(BEL) == 2
    assert "\x9c" not in seq and "\x9d" not in seq and "\x00" not in seq
    if tmux:
        assert seq.count(ESC) == 2 * 4  # per sequence: ESC P, doubled ESC ], ESC \
        inner = seq.split(f"{ESC}Ptmux;")[1].split(f"{ESC}\\")[0].replace(ESC + ESC, ESC)
    else:
        assert seq.count(ESC) == 2
        inner = seq.split(BEL)[0] + BEL
    assert inner.startswith(f"{ESC}]777;notify;")
    assert inner.count(";") == 3  # 777 ; notify ; title ; body
    assert "pwned" not in inner  # an embedded escape sequence goes whole
    assert len(inner) < 300  # capped


def test_in_tmux() -> None:
    assert in_tmux({"TMUX": "/tmp/tmux-0/default,123,0"})
    assert not in_tmux({"TERM": "xterm"})
    assert not in_tmux({"TMUX": ""})


# ----------------------------------------------------------------------------- secrets


def test_redact_keeps_only_the_scheme() -> None:
    assert redact("slack://T0/B0/SECRET") == "slack://…"
    assert redact("JSONS://user:pw@host/p") == "jsons://…"
    assert redact("no scheme secret") == "…"
    assert apprise_urls(["toast", "bell", "desktop", "ntfy://t", "ntfy://t", ""]) == ("ntfy://t",)


def test_config_warning_on_a_file_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[profiles.prod]\n")
    with_url = [Rule(name="r", metric="blocks", notify=("toast", "slack://a/b/c"))]
    os.chmod(path, 0o644)
    warning = config_warning(path, with_url)
    assert warning is not None
    assert "chmod 600" in warning and "0644" in warning and str(path) in warning
    assert "slack" not in warning
    assert config_warning(path, [Rule(name="r", metric="blocks")]) is None
    os.chmod(path, 0o640)  # group-readable is open too
    assert config_warning(path, with_url) is not None
    os.chmod(path, 0o600)
    assert config_warning(path, with_url) is None
    assert config_warning(tmp_path / "missing.toml", with_url) is None


# ---------------------------------------------------------------------------- delivery


def test_json_url_posts_the_payload(sinks: list[Sink], notifier: Notifier) -> None:
    sink = Sink()
    sinks.append(sink)
    hostile = "prod\x1b[31m-gpt"
    notifier.send(event(name=hostile), ["toast", sink.url("/flashtop")])
    assert notifier.flush(10)
    assert notifier.delivered == 1 and notifier.failed == 0
    [(path, body)] = sink.received
    assert path == "/flashtop"
    assert body["rule"] == "any block"
    assert body["configuration"] == {"name": hostile, "id": "llm-123"}
    assert body["value"] == 3 and body["threshold"] == 0
    assert body["state"] == "firing" and body["metric"] == "blocks"
    # Apprise's own fields are there too: a human-readable summary.
    assert body["title"] == "flashtop: any block firing"
    assert body["message"] == "prod-gpt (llm-123): blocks 3, above 0"
    assert body["type"] == "failure"
    assert notifier.problem is None


def test_url_payload_extras_still_apply(sinks: list[Sink], notifier: Notifier) -> None:
    """A URL's own ``:key=value`` arguments keep working (and win over ours)."""
    sink = Sink()
    sinks.append(sink)
    notifier.send(event(), [sink.url("/h?:team=ops&:source=prod-box")])
    assert notifier.flush(10)
    [(_, body)] = sink.received
    assert body["team"] == "ops" and body["source"] == "prod-box" and body["rule"] == "any block"


def test_failing_sink_is_retried_and_nothing_is_lost(sinks: list[Sink], notifier: Notifier) -> None:
    sink = Sink(fail_first=3)
    sinks.append(sink)
    url = sink.url()
    for i in range(3):
        notifier.send(event(f"rule {i}"), [url])
    wait_until(lambda: notifier.problem is not None)
    problem = notifier.problem
    assert problem is not None and "json://…" in problem and "retrying" in problem
    assert notifier.flush(10)
    assert [body["rule"] for _, body in sink.received] == ["rule 0", "rule 1", "rule 2"]
    assert notifier.delivered == 3 and notifier.failed == 0 and notifier.retries == 3
    assert sink.attempts == 6
    assert notifier.problem is None


def test_send_never_blocks_and_a_hanging_url_does_not_stall_others(
    sinks: list[Sink], notifier: Notifier
) -> None:
    hang = threading.Event()
    stuck, good = Sink(hang=hang), Sink()
    sinks.extend([stuck, good])
    urls = [stuck.url(), good.url()]
    notifier.send(event("warm-up"), urls)  # starts the threads, imports Apprise
    wait_until(lambda: len(good.received) == 1)
    times = []
    for i in range(50):
        started = time.perf_counter()
        notifier.send(event(f"rule {i}"), urls)
        times.append(time.perf_counter() - started)
    assert statistics.median(times) < 0.0005, times
    assert max(times) < 0.01, times
    # The hanging sink holds its own thread, not the other URL's.
    wait_until(lambda: len(good.received) == 51)
    assert stuck.received == []
    hang.set()
    assert notifier.flush(20)
    assert len(stuck.received) == 51


def test_long_outage_drops_the_oldest_with_a_count(sinks: list[Sink]) -> None:
    hang = threading.Event()
    sink = Sink(hang=hang)
    sinks.append(sink)
    notifier = Notifier(backoff=0.05, max_pending=3)
    try:
        notifier.send(event("first"), [sink.url()])
        wait_until(
            lambda: notifier.status()[0].pending == 1 and not notifier._targets[sink.url()].queue
        )
        for i in range(10):
            notifier.send(event(f"rule {i}"), [sink.url()])
        assert notifier.dropped == 7
        problem = notifier.problem
        assert problem is not None and "7 dropped" in problem
        hang.set()
        assert notifier.flush(10)
        assert [b["rule"] for _, b in sink.received] == ["first", "rule 7", "rule 8", "rule 9"]
    finally:
        notifier.close(2)


def test_gives_up_after_the_last_attempt(sinks: list[Sink]) -> None:
    sink = Sink(fail_first=1000)
    sinks.append(sink)
    notifier = Notifier(attempts=3, backoff=0.01)
    try:
        notifier.send(event(), [sink.url()])
        assert notifier.flush(10)
        assert sink.attempts == 3
        assert notifier.failed == 1 and notifier.delivered == 0
        [status] = notifier.status()
        assert status.url == "json://…" and status.given_up == 1
        assert status.last_error is not None and "500" in status.last_error
        assert notifier.problem == "notifications: 1 undelivered to json://… (gave up)"
    finally:
        notifier.close(2)


def test_close_is_bounded_by_its_timeout(sinks: list[Sink]) -> None:
    hang = threading.Event()
    sink = Sink(hang=hang)
    sinks.append(sink)
    notifier = Notifier()
    notifier.send(event(), [sink.url()])
    notifier.send(event("second"), [sink.url()])
    wait_until(lambda: sink.server is not None and notifier.pending == 2)
    started = time.monotonic()
    assert notifier.close(0.3) is False
    assert time.monotonic() - started < 2
    notifier.send(event("after close"), [sink.url()])  # ignored, never raises


def test_muted_events_are_not_sent(sinks: list[Sink], notifier: Notifier) -> None:
    sink = Sink()
    sinks.append(sink)
    notifier.send(dataclasses.replace(event(), muted=True), [sink.url()])
    notifier.send(event("loud"), [sink.url()])
    assert notifier.flush(10)
    assert [b["rule"] for _, b in sink.received] == ["loud"]


def test_send_never_raises() -> None:
    notifier = Notifier()
    try:
        notifier.send(event(), None)  # event.notify: only "toast"
        notifier.send(event(), [None, 3, "toast"])  # type: ignore[list-item]
        notifier.send(None, ["json://127.0.0.1:9/x"])  # type: ignore[arg-type]
    finally:
        notifier.close(1)


SECRETS = ("PASSWORD-S3CRET", "T0KEN-IN-PATH", "REFUSED-T0KEN", "UNKNOWN-SCHEME-T0KEN")


def test_secret_urls_never_reach_problem_logs_or_repr(
    sinks: list[Sink], caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink(fail_first=2)
    sinks.append(sink)
    urls = [
        f"json://alice:PASSWORD-S3CRET@127.0.0.1:{sink.port}/hook/T0KEN-IN-PATH?:x=1",
        "json://127.0.0.1:1/REFUSED-T0KEN",  # connection refused: the URL is in the error
        "xyzzy://UNKNOWN-SCHEME-T0KEN/x",  # not an Apprise URL at all
    ]
    # Everything Apprise and the HTTP stack say, at every level, reaches our handlers:
    # one on the root (pytest's) and one straight on Apprise's logger.
    direct: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            direct.append(self.format(record))

    direct_handler = Collect(level=1)
    apprise_logger = logging.getLogger("apprise")
    apprise_logger.addHandler(direct_handler)
    caplog.set_level(1)
    for name in ("apprise", "urllib3", "urllib3.connectionpool", "requests", "flashtop"):
        caplog.set_level(1, logger=name)
    notifier = Notifier(attempts=3, backoff=0.05)
    seen: list[str] = []
    try:
        notifier.send(event(), urls)
        deadline = time.monotonic() + 15
        while notifier.pending and time.monotonic() < deadline:
            seen.append(str(notifier.problem))
            time.sleep(0.01)
        assert notifier.flush(10)
        seen.append(str(notifier.problem))
        seen.extend(repr(s) for s in notifier.status())
        seen.append(repr(notifier))
    finally:
        notifier.close(2)
        apprise_logger.removeHandler(direct_handler)
    assert sink.received and sink.received[0][0] == "/hook/T0KEN-IN-PATH"  # it was delivered
    assert notifier.failed == 2  # refused, and the unknown scheme
    assert any("json://…" in s for s in seen)
    logs = caplog.text + "\n".join(direct) + "\n".join(r.getMessage() for r in caplog.records)
    assert "127.0.0.1" in caplog.text or "Sent JSON" in caplog.text  # logging did happen
    assert len(caplog.records) > 5
    for secret in SECRETS:
        for text in [*seen, logs]:
            assert secret not in text, (secret, text)


def test_apprise_import_time_is_measured(sinks: list[Sink], notifier: Notifier) -> None:
    sink = Sink()
    sinks.append(sink)
    notifier.send(event(), [sink.url()])
    assert notifier.flush(10)
    assert notify.import_seconds is not None and notify.import_seconds < 10
