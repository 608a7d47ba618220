"""Helpers for the resilience and security tests (faults, hostile input, secrets, TLS, soak).

Everything here talks only to 127.0.0.1: loopback servers, a listener whose accept
queue is full (connect timeouts), a resolver that fails on purpose (DNS), and a
virtual-time event loop for running the poller through hours of simulated time in
milliseconds. The Pilot harness itself (FakeClock, ``running``, ``wait_for``) is
reused from :mod:`ui_helpers`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from ui_helpers import Harness

from tui.app import FlashtopApp
from tui.client import FlashbackClient, Timeouts
from tui.poller import ConnState, PollStatus

STATS = "/ai/llm/stats"

#: C0 controls, DEL and C1 controls: none of these may reach a terminal from a server.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Bidirectional overrides and isolates, which can make text read differently.
BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


# ---------------------------------------------------------------------------- process


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss_kib() -> int:
    """Resident set size of this process now, in KiB."""
    return _status_kib("VmRSS")


def peak_rss_kib() -> int:
    """Peak resident set size (VmHWM) since start or the last :func:`reset_peak_rss`."""
    return _status_kib("VmHWM")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return peak_rss_kib() <= rss_kib() + 1024


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads_named(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


# ---------------------------------------------------------------------------- app


@dataclass(frozen=True)
class Seen:
    """What the screen showed right after one status change of the overview poller."""

    at: float  # time.monotonic()
    status: PollStatus
    text: str  # the status bar's text
    stale: bool  # the status bar has the "-stale" class
    rows: tuple[tuple[str, tuple[int | None, ...]], ...]


def rows_of(app: FlashtopApp) -> tuple[tuple[str, tuple[int | None, ...]], ...]:
    """The rows on screen as (id, values), sorted by id."""
    return tuple(sorted((r.id, r.values) for r in app.overview.rows))


def record_statuses(app: FlashtopApp) -> list[Seen]:
    """Log what the screen shows at every status change of the overview poller."""
    seen: list[Seen] = []
    original = app.monitor.poller._on_status
    bar = app.overview.status_bar

    def on_status(status: PollStatus) -> None:
        original(status)
        seen.append(
            Seen(
                at=time.monotonic(),
                status=status,
                text=str(bar.content),
                stale=bar.has_class("-stale"),
                rows=rows_of(app),
            )
        )

    app.monitor.poller._on_status = on_status
    return seen


def fast_backoff(app: FlashtopApp, cap: float = 0.2) -> None:
    """Make the overview retry after cap/2 seconds (growth is tested at unit level)."""
    app.monitor.poller._backoff_cap = cap
    app.monitor.poller._rng = lambda: 0.0


async def swap_client(
    app: FlashtopApp, base_url: str | None = None, *, timeouts: Timeouts | None = None
) -> None:
    """Give the running app a new client (other timeouts or another URL, same session)."""
    old = app.monitor.client
    app.monitor.client = FlashbackClient(
        base_url or app.monitor.settings.base_url, app.monitor.session, timeouts=timeouts
    )
    await old.aclose()


def failing(seen: list[Seen]) -> list[Seen]:
    return [s for s in seen if s.status.state is ConnState.RETRYING and not s.status.in_flight]


def h_status(h: Harness) -> PollStatus:
    return h.app.monitor.poller.status


# ---------------------------------------------------------------------------- rendering


def terminal_output(app: FlashtopApp) -> str:
    """Exactly what Textual would write to a terminal to draw the current screen."""
    update = app.screen._compositor.render_full_update()
    return update.render_segments(app.console)


_TEXTUAL_OWN = re.compile(
    r"\x1b\[[0-9;?]*[A-Za-z]"  # CSI: cursor moves, colours, modes
    r"|\x1b\]8;[^\x1b\x07]*\x1b\\"  # OSC 8 links made by Textual itself
)


def foreign_controls(output: str) -> list[str]:
    """Control characters in terminal output that Textual's own escape codes do not explain."""
    rest = _TEXTUAL_OWN.sub("", output)
    return sorted({repr(c) for c in CONTROL.findall(rest) if c != "\n"})


# ---------------------------------------------------------------------------- network faults


@contextmanager
def stuck_listener(port: int = 0) -> Iterator[int]:
    """A listener on 127.0.0.1 whose accept queue is full: new connects hang (SYN dropped)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(3):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            with suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
            fillers.append(s)
        time.sleep(0.05)
        yield port
    finally:
        for s in fillers:
            s.close()
        listener.close()


class Resolver:
    """Replaces ``socket.getaddrinfo``: ``host`` resolves to 127.0.0.1 unless ``failing``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, host: str) -> None:
        self.host = host
        self.failing = False
        self.lookups = 0
        real = socket.getaddrinfo

        def getaddrinfo(name: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if name in (host, host.encode()):
                self.lookups += 1
                if self.failing:
                    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
                return real("127.0.0.1", port, socket.AF_INET, socket.SOCK_STREAM)
            return real(name, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# ---------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class Certs:
    """A private CA (trustme) and a server certificate it issued."""

    ca_pem: Path
    server: ssl.SSLContext


def make_certs(directory: Path, *hosts: str) -> Certs:
    ca = trustme.CA()
    cert = ca.issue_cert(*(hosts or ("127.0.0.1", "localhost")))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_pem = directory / "private-ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    return Certs(ca_pem=ca_pem, server=ctx)


# ---------------------------------------------------------------------------- scripted servers


def echo_secrets(
    method: str, path: str, headers: Mapping[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """A hostile API that quotes the caller's secrets back in its error messages.

    ``GET`` answers 500 quoting the Authorization header; ``POST`` answers 401 quoting
    the request body (which holds a password or a refresh token).
    """
    if method == "GET":
        message = f"cannot accept {headers.get('Authorization')}"
        status = 500
    else:
        message = f"rejected request body {body.decode('utf-8', 'replace')}"
        status = 401
    payload = json.dumps({"success": False, "message": message}).encode()
    return status, {"Content-Type": "application/json"}, payload


#: (status, headers, body) for one request, from (method, path, headers, request body).
Script = Callable[[str, str, Mapping[str, str], bytes], tuple[int, dict[str, str], bytes]]


class ScriptedServer:
    """A loopback HTTP/1.1 server whose every answer comes from ``script`` (a test's function)."""

    def __init__(self, script: Script) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = script(self.command, self.path, self.headers, body)
                self.send_response(status)
                for name, value in {"Content-Length": str(len(payload)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


# ---------------------------------------------------------------------------- virtual time


class _VirtualSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Never waits: when nothing is ready, the loop's clock jumps to the next timer."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        events: list[Any] = super().select(0)
        if not events:
            if timeout is None:
                events = super().select(0.01)  # nothing scheduled: let threads answer
            else:
                self.now += timeout
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is simulated: sleeps cost no real time.

    Only for code that does no real I/O (the poller with a fake fetch).
    """

    def __init__(self) -> None:
        self._virtual = _VirtualSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


def run_virtual(main: Callable[[], Any]) -> Any:
    """Run ``main()`` (a coroutine function) to completion on a :class:`VirtualTimeLoop`."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()
