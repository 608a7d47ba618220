"""A simulated Flashback backend for demos, tests and benchmarks (standard library only).

:class:`DemoServer` speaks the parts of the Flashback API that flashtop uses (login,
refresh, logout, ``/ai/llm``, ``/ai/llm/stats``, ``/workspace``, ``/health``) over real
HTTP/1.1 on a local socket, with believable, deterministic traffic and switchable
faults, so that the client and the TUI can be exercised without a Flashback account.

Traffic: every configuration has a profile (steady, bursty, idle, violator, reset).
Its counters are closed-form functions of the whole simulated seconds elapsed since
the server was created (``clock() - start``), built from seeded per-config per-second
noise, so the same seed and elapsed time always give the same numbers and a request
costs O(configurations) however far the clock jumps. The last snapshot is cached, so
polls within the same simulated second cost only the JSON encoding.

Faults (:meth:`DemoServer.set_fault`) apply only to requests whose path is listed.
For "slow" the access token is checked first (an unauthorised request gets its 401
at once, undelayed, and does not use up the fault's count); for every other fault the
fault wins over authentication and routing, so tests need no token to provoke it.
Every request, faulted or not, is logged in ``DemoServer.requests`` (status 0 for
"reset"; the oldest half is dropped past 100,000 records so a long demo stays small).

Run ``python -m tui.demo_server [--port N] [--host H]`` and log in with
:data:`DEMO_EMAIL` / :data:`DEMO_PASSWORD`. Tokens are never logged or printed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import random
import secrets
import socket
import ssl
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tui.models import COUNTERS

DEMO_EMAIL = "demo@flashtop.invalid"
DEMO_PASSWORD = "demo-password"
MFA_EMAIL = "mfa@flashtop.invalid"

EXPIRES_FORMATS = frozenset({"iso", "seconds", "millis", "none"})
PROTECTED = frozenset({"/ai/llm", "/ai/llm/stats", "/workspace"})
RESET_AT = 45  # simulated seconds after start when the "reset" profile drops to zero


def day_epoch(now: float | None = None) -> float:
    """Midnight UTC of the current day: the epoch interactive demos count from."""
    t = time.time() if now is None else now
    return float(int(t) - int(t) % 86400)


HUGE_BYTES = 50 * 1024 * 1024
MAX_RECORDS = 100_000  # the log of a long-running demo must not grow without bound

# (name, aiType, profile, workspace index, mean tokens in per second)
CURATED: tuple[tuple[str, str, str, int, float], ...] = (
    ("support-bot", "OPENAI", "steady", 0, 1200.0),
    ("code-review", "ANTHROPIC", "steady", 0, 400.0),
    ("search-rerank", "GOOGLE", "steady", 0, 2500.0),
    ("nightly-batch", "AWS", "bursty", 0, 2.0),
    ("doc-summarizer", "ANTHROPIC", "bursty", 1, 1.0),
    ("legacy-chat", "OPENAI", "idle", 1, 0.0),
    ("prompt-playground", "OTHER", "violator", 1, 60.0),
    ("analytics-agent", "GOOGLE", "reset", 1, 300.0),
    ("translation", "AWS", "steady", 0, 80.0),
    ("sandbox-llama", "OTHER", "idle", 1, 0.0),
    ("email-triage", "OPENAI", "bursty", 0, 0.5),
    ("sql-assistant", "ANTHROPIC", "steady", 1, 30.0),
)
ENDPOINTS = {
    "OPENAI": "https://api.openai.com/v1",
    "GOOGLE": "https://generativelanguage.googleapis.com/v1beta",
    "ANTHROPIC": "https://api.anthropic.com/v1",
    "AWS": "https://bedrock-runtime.us-east-1.amazonaws.com",
    "OTHER": "http://llm-gateway.flashtop.invalid:8000/v1",
}
_MASK = (1 << 64) - 1
_JSON = "application/json"
_HTML = "text/html; charset=utf-8"


def _msg(text: str) -> bytes:
    return json.dumps({"success": False, "message": text}).encode()


def _page(status: int, title: str) -> bytes:
    # What a proxy in front of the API would answer: HTML, not JSON.
    return f"<html><head><title>{title}</title></head><h1>{status} {title}</h1></html>".encode()


# Faults answered with a fixed response: name -> (status, Content-Type, body).
_CANNED: dict[str, tuple[int, str, bytes]] = {
    "expired": (401, _JSON, _msg("Token expired")),
    "forbidden": (403, _JSON, _msg("Insufficient permissions to view AI LLM statistics")),
    "rate_limit": (429, _JSON, _msg("Too many requests")),
    "server_error": (500, _JSON, _msg("Failed to retrieve statistics")),
    "unsuccessful": (200, _JSON, _msg("Statistics temporarily unavailable")),
    "not_found": (404, _JSON, _msg("Not found")),
    "wrong_shape": (200, _JSON, b'{"success":true,"stats":{"not":"a list"}}'),
    "malformed": (200, _JSON, b'{"success":true,"stats":[{"aiLlmId":"abc","totalApiCalls":'),
    "bad_gateway": (502, _HTML, _page(502, "Bad Gateway")),
    "unavailable": (503, _HTML, _page(503, "Service Unavailable")),
}
#: "flap" fails every other matching request (the 1st, 3rd, ...) with the 500 of
#: "server_error" and answers the others normally; its ``count`` counts failures.
#: "reset_mid" sends the headers and half the body, then resets the connection.
FAULTS = frozenset([*_CANNED, "slow", "reset", "reset_mid", "truncated", "huge", "flap"])


def _unit(salt: int, n: int) -> float:
    """A uniform number in [0, 1) fixed by (salt, n): splitmix64, cheap and stateless."""
    x = (salt + (n + 1) * 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((x ^ (x >> 31)) >> 11) / float(1 << 53)


def iso_utc(ts: float) -> str:
    """Format an epoch time as ISO 8601 UTC with milliseconds, like JavaScript's toISOString."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it; ``status`` is 0 when the connection was reset."""

    method: str
    path: str
    query: dict[str, str]
    authorized: bool
    status: int
    at: float


@dataclasses.dataclass(frozen=True)
class _Fault:
    """The fault switched on by :meth:`DemoServer.set_fault` (count = uses left)."""

    name: str
    count: int | None
    retry_after: int | None
    delay: float
    paths: tuple[str, ...]


class _Sim:
    """One configuration's traffic model: its counters as closed-form functions of time.

    Growth is ``rate * (s + J * u(s))`` with ``u`` seeded per second and ``J < 1``: each
    second adds between ``(1 - J)`` and ``(1 + J)`` times the mean, the total never
    decreases, and no history needs summing. Bursts and policy events are placed by the
    same kind of per-period noise, so they are closed-form too.
    """

    JITTER = 0.8

    def __init__(self, rng: random.Random, profile: str, rate: float, big: bool) -> None:
        self.profile = profile
        self.rate = rate
        self.salts = [rng.getrandbits(64) for _ in range(4)]  # in, out, bursts, events
        self.ratio = rng.uniform(1.0, 3.0)  # tokens out per token in
        self.llm_in = rng.uniform(0.93, 0.995)
        self.llm_out = rng.uniform(0.95, 1.04)
        self.per_call = rng.uniform(350.0, 700.0)  # tokens per API call, so calls ~ tokens/500
        # Running totals since the configuration was created: thousands to millions.
        self.base_in = int(10 ** rng.uniform(6.0 if big else 4.0, 7.5 if big else 6.5))
        self.base_out = int(self.base_in * self.ratio)
        self.base_viol = rng.randint(0, 40) + (12 if profile == "violator" else 0)
        self.base_alerts = self.base_viol * rng.randint(4, 8) // 10
        self.base_blocks = self.base_alerts * rng.randint(2, 6) // 10
        self.burst_period = rng.randint(45, 150)
        self.burst_len = rng.randint(4, 12)
        self.burst_rate = rng.uniform(800.0, 8000.0) if profile == "bursty" else 0.0
        events = {"violator": 30, "steady": rng.choice((0, 0, 600, 1800))}
        self.event_period = events.get(profile, 0)  # 0 = no new policy events

    def _steady(self, s: int, salt: int, rate: float) -> int:
        if rate <= 0.0 or s <= 0:
            return 0
        return int(rate * (s + self.JITTER * _unit(salt, s)))

    def _bursts(self, s: int) -> int:
        if self.burst_rate <= 0.0 or s <= 0:
            return 0
        period, length = self.burst_period, self.burst_len
        done, within = divmod(s, period)
        # offset <= period - length - 1, so each burst ends inside its own period.
        offset = int(_unit(self.salts[2], done) * (period - length))
        return int(self.burst_rate * (done * length + min(max(within - offset, 0), length)))

    def _events(self, s: int) -> int:
        # Event k (k >= 1) happens at V*k + (V/3)*u(k): gaps between 2V/3 and 4V/3.
        v = self.event_period
        m = s // v if v else 0
        if m <= 0:
            return 0
        return m - 1 + (v * m + v / 3 * _unit(self.salts[3], m) <= s)

    def counters(self, s: int) -> tuple[int, ...]:
        """The eight counters, in :data:`COUNTERS` order, after ``s`` simulated seconds."""
        bursts = self._bursts(s)
        tin = self._steady(s, self.salts[0], self.rate) + bursts
        tout = self._steady(s, self.salts[1], self.rate * self.ratio) + int(bursts * self.ratio)
        events = self._events(s)
        base_in, base_out = self.base_in, self.base_out
        viol, alerts, blocks = self.base_viol, self.base_alerts, self.base_blocks
        if self.profile == "reset" and s >= RESET_AT:
            # The server "recreated" it: totals restart from zero and grow again.
            tin -= self._steady(RESET_AT, self.salts[0], self.rate)
            tout -= self._steady(RESET_AT, self.salts[1], self.rate * self.ratio)
            events -= self._events(RESET_AT)
            base_in = base_out = viol = alerts = blocks = 0
        tin += base_in
        tout += base_out
        return (
            int(tin / self.per_call),
            tin,
            tout,
            int(tin * self.llm_in),
            int(tout * self.llm_out),
            viol + events,
            alerts + events,
            blocks + events // 2,
        )


class DemoServer:
    """A local fake Flashback backend with deterministic traffic and switchable faults.

    Use as a context manager (``with DemoServer() as srv: srv.base_url``) or call
    :meth:`start` / :meth:`stop`. ``clock`` drives both token expiry and the traffic
    simulation, so tests can inject a fake one. ``extra_stats`` / ``extra_llms`` are
    appended verbatim to the stats / configuration lists to feed hostile input to
    clients. ``requests`` logs every request (faulted ones too), newest last. With
    ``tls`` (a server-side :class:`ssl.SSLContext`) it serves ``https://``. With
    ``changing`` (for benchmarks) only that many configurations have traffic, steady
    ones first, and every other one keeps its starting values for good; with
    ``rotate`` as well, the ones with traffic change every ``rotate`` seconds (a window
    sliding over the configurations that have any), so rates rise and fall all the
    time, as in an organization whose activity moves around.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token_lifetime: float = 3600.0,
        seed: int = 7,
        n_configs: int = 12,
        clock: Callable[[], float] = time.time,
        expires_format: str = "iso",
        extra_stats: list[object] | None = None,
        extra_llms: list[object] | None = None,
        tls: ssl.SSLContext | None = None,
        changing: int | None = None,
        epoch: float | None = None,
        rotate: float | None = None,
    ) -> None:
        if expires_format not in EXPIRES_FORMATS:
            raise ValueError(f"expires_format must be one of {sorted(EXPIRES_FORMATS)}")
        self.host, self.port, self.clock = host, port, clock
        self.token_lifetime = token_lifetime
        self.expires_format = expires_format
        # Fail now, not inside a request thread, if the extras cannot be sent as JSON.
        self.extra_stats, self.extra_llms = list(extra_stats or []), list(extra_llms or [])
        json.dumps([self.extra_stats, self.extra_llms])
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._access: dict[str, float] = {}  # access token -> expiry (clock time)
        self._refresh: set[str] = set()
        self._fault: _Fault | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._cache: tuple[int, list[dict[str, str]]] | None = None
        self._flaps = 0  # matching requests seen by the current "flap" fault
        #: Server-side TLS context: serve https:// (tests use it with trustme certificates).
        self.tls = tls
        # Simulated time counts from ``epoch`` when given: a demo restarted later
        # the same day then continues its counters instead of starting over
        # (which would look like a counter reset in the stored history).
        self._start = clock() if epoch is None else epoch
        self._build(random.Random(seed), n_configs)
        #: Benchmarks: indices of the only configurations with traffic (None: all of them).
        self._active: frozenset[int] | None = None
        if changing is not None:
            self._active = self._pick_active(max(changing, 0))
        self._frozen: list[dict[str, str]] | None = None
        #: Benchmarks: seconds between moves of the active window (None: it stays).
        self._rotate = rotate if changing is not None and rotate and rotate > 0 else None
        self._changing = max(changing or 0, 0)
        #: With rotation: each configuration's seconds of traffic so far, up to _upto.
        self._active_seconds = [0] * len(self.sims)
        self._upto = 0

    def _build(self, rng: random.Random, n: int) -> None:
        # The curated configurations are drawn first, so their ids and numbers do not
        # depend on n_configs.
        def uid() -> str:
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))

        self.org_id, user_id = uid(), uid()
        self.user = {"id": user_id, "email": DEMO_EMAIL, "name": "Demo User", "orgId": self.org_id}
        self.workspaces: list[dict[str, Any]] = [
            {
                "id": uid(),
                "name": name,
                "orgId": self.org_id,
                "users": [{**self.user, "role": "ADMIN"}],
            }
            for name in ("Production", "Research")
        ]
        created0 = 1_735_689_600  # 2025-01-01: fixed so /ai/llm is deterministic too
        self.llms: list[dict[str, Any]] = []
        self.sims: list[tuple[str, _Sim]] = []
        for i in range(n):
            if i < len(CURATED):
                name, ai_type, profile, ws, rate = CURATED[i]
            else:
                name, ws = f"llm-{i + 1:05d}", rng.randrange(2)
                ai_type = rng.choice(sorted(ENDPOINTS))
                profile = rng.choices(("steady", "bursty", "idle"), (5, 3, 2))[0]
                rate = {"steady": 10 ** rng.uniform(0.5, 3.3), "bursty": rng.uniform(0, 3)}.get(
                    profile, 0.0
                )
            llm_id = uid()
            sim = _Sim(rng, profile, rate, big=rate >= 300)
            key = f"sk-****{rng.getrandbits(16):04x}" if rng.random() < 0.8 else None
            self.llms.append(
                {
                    "id": llm_id,
                    "orgId": self.org_id,
                    "workspaceId": self.workspaces[ws]["id"],
                    "userId": user_id,
                    "name": name,
                    "aiType": ai_type,
                    "endpoint": ENDPOINTS[ai_type],
                    "key": key,
                    "createdAt": iso_utc(created0 + rng.randrange(270 * 86400)),
                }
            )
            self.sims.append((llm_id, sim))

    def _rotating(self, s: int) -> list[dict[str, str]]:
        """Stats at ``s`` simulated seconds when the active window slides."""
        assert self._rotate is not None
        pool = self._pool()
        k = min(self._changing, len(pool))
        counts = self._active_seconds
        for t in range(self._upto, s):
            start = int(t // self._rotate) * k
            for j in range(k):
                counts[pool[(start + j) % len(pool)]] += 1
        self._upto = max(self._upto, s)
        return [_stats_object(llm_id, sim, counts[i]) for i, (llm_id, sim) in enumerate(self.sims)]

    def _pool(self) -> list[int]:
        """Configurations that can have traffic (not idle), steady ones first."""
        active = self._pick_active(len(self.sims))  # every one, ranked
        ranked = sorted(active, key=lambda i: (self.sims[i][1].profile == "idle", i))
        return [i for i in ranked if self.sims[i][1].profile != "idle"] or ranked

    def _pick_active(self, count: int) -> frozenset[int]:
        # Steady traffic without policy events first (every poll changes them, and
        # no alert toast disturbs a measurement), then any other non-idle profile.
        def rank(i: int) -> int:
            sim = self.sims[i][1]
            if sim.profile == "steady":
                return 0 if sim.event_period == 0 else 1
            return 3 if sim.profile == "idle" else 2

        ranked = sorted(range(len(self.sims)), key=lambda i: (rank(i), i))
        return frozenset(ranked[:count])

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> DemoServer:
        """Bind (port 0 picks a free port) and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        server_cls = _Server6 if ":" in self.host else _Server
        httpd = server_cls((self.host, self.port), _Handler)
        httpd.demo = self
        if self.tls is not None:
            # The handshake happens on each handler thread's first read, not in accept().
            httpd.socket = self.tls.wrap_socket(
                httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._stopping.clear()
        self._httpd, self.port = httpd, httpd.server_address[1]
        # A short poll interval keeps stop() fast; it is only a select() timeout.
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"demo-server:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open keep-alive connections and close the socket."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes "slow" requests and stops "huge" streams
        httpd.shutdown()
        self.drop_connections()  # otherwise idle keep-alive threads would block in recv()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def drop_connections(self) -> None:
        """Close every open (keep-alive) connection; clients must connect afresh."""
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` (``https://`` with ``tls``), no trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    # -- test controls -----------------------------------------------------------

    def issue_tokens(self) -> tuple[str, str]:
        """Mint ``(access_token, refresh_token)`` as a successful login would."""
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        with self._lock:
            self._access[access] = self.clock() + self.token_lifetime
            self._refresh.add(refresh)
        return access, refresh

    def expire_all_access_tokens(self) -> None:
        """Make every access token invalid (refresh tokens stay valid)."""
        with self._lock:
            self._access.clear()

    def set_fault(
        self,
        name: str | None,
        *,
        count: int | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        paths: tuple[str, ...] = ("/ai/llm/stats",),
    ) -> None:
        """Switch a fault on for requests to ``paths``; ``None`` clears it.

        ``count`` is how many matching requests get the fault before it clears itself
        (``None``: until cleared). See the module docstring for "slow" and auth.
        """
        if name is not None and name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {sorted(FAULTS)}")
        with self._lock:
            self._flaps = 0
            self._fault = (
                None
                if name is None or count == 0
                else _Fault(name, count, retry_after, delay, tuple(paths))
            )

    def request_count(self, path: str, **query: str) -> int:
        """How many logged requests went to ``path`` with all the given query items."""
        with self._lock:
            records = list(self.requests)
        return sum(
            1
            for r in records
            if r.path == path and all(r.query.get(k) == v for k, v in query.items())
        )

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self.requests.clear()

    # -- internals used by the handler ------------------------------------------

    def _record(
        self, method: str, path: str, query: dict[str, str], authorized: bool, status: int
    ) -> None:
        rec = RequestRecord(method, path, query, authorized, status, self.clock())
        with self._lock:
            self.requests.append(rec)
            if len(self.requests) > MAX_RECORDS:
                del self.requests[: MAX_RECORDS // 2]

    def _authorized(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        with self._lock:
            expiry = self._access.get(token.strip())
        return expiry is not None and self.clock() < expiry

    def _take_fault(self, path: str, authorized: bool) -> _Fault | None:
        with self._lock:
            fault = self._fault
            if fault is None or path not in fault.paths:
                return None
            if fault.name == "slow" and path in PROTECTED and not authorized:
                return None  # auth first for "slow": the 401 comes at once
            if fault.name == "flap":
                self._flaps += 1
                if self._flaps % 2 == 0:
                    return None  # every other request is answered normally
            if fault.count is not None:
                left = fault.count - 1
                self._fault = dataclasses.replace(fault, count=left) if left > 0 else None
            return fault

    def _expires(self, ts: float) -> dict[str, object]:
        fmt = self.expires_format
        if fmt == "none":
            return {}
        value = {"iso": iso_utc(ts), "seconds": int(ts), "millis": int(ts * 1000)}[fmt]
        return {"expiresAt": value}

    def snapshot(self) -> list[dict[str, str]]:
        """The current stats objects (counters as decimal strings), without extras."""
        elapsed = self.clock() - self._start
        s = math.floor(elapsed) if elapsed > 0 else 0
        cache = self._cache
        if cache is not None and cache[0] == s:
            return cache[1]
        if self._rotate is not None:
            with self._lock:
                stats = self._rotating(s)
        elif self._active is None:
            stats = [_stats_object(llm_id, sim, s) for llm_id, sim in self.sims]
        else:
            # Benchmark mode: the idle configurations keep their values from the start.
            if self._frozen is None:
                self._frozen = [_stats_object(llm_id, sim, 0) for llm_id, sim in self.sims]
            active = self._active
            stats = [
                _stats_object(llm_id, sim, s) if i in active else self._frozen[i]
                for i, (llm_id, sim) in enumerate(self.sims)
            ]
        self._cache = (s, stats)  # a plain tuple swap: racing threads compute the same thing
        return stats

    def route(
        self, method: str, path: str, query: dict[str, str], body: bytes, authorized: bool
    ) -> tuple[int, dict[str, object]]:
        """Answer one un-faulted request: ``(status, JSON object)``."""
        if (method, path) == ("GET", "/health"):
            return 200, {"status": "ok", "timestamp": iso_utc(self.clock()), "error": None}
        if method == "POST" and path in ("/user/login", "/user/refresh", "/user/logout"):
            try:
                data = json.loads(body or b"null")
            except ValueError:
                data = None
            data = data if isinstance(data, dict) else {}
            return self._auth_endpoint(path, data)
        if method != "GET" or path not in PROTECTED:
            return 404, {"success": False, "message": "Not found"}
        if not authorized:
            return 401, {"success": False, "message": "Invalid or expired token"}
        if path == "/workspace":
            return 200, {"success": True, "workspaces": self.workspaces}
        if path == "/ai/llm":
            llms: list[object] = list(self.llms) + self.extra_llms
            return 200, {
                "success": True,
                "aiLlms": _filtered(llms, "workspaceId", query.get("workspaceId")),
            }
        stats: list[object] = [*self.snapshot(), *self.extra_stats]
        return 200, {"success": True, "stats": _filtered(stats, "aiLlmId", query.get("aiLlmId"))}

    def _auth_endpoint(self, path: str, data: dict[str, Any]) -> tuple[int, dict[str, object]]:
        if path == "/user/login":
            email, password = data.get("email"), data.get("password")
            if not isinstance(email, str) or not isinstance(password, str):
                return 400, {"success": False, "message": "Email and password are required"}
            if email.strip().lower() == MFA_EMAIL:
                return 200, {
                    "success": False,
                    "error_code": "MFA_REQUIRED",
                    "message": "MFA verification required: complete login with /mfa/verify-login",
                }
            if email.strip().lower() != DEMO_EMAIL or password != DEMO_PASSWORD:
                return 401, {"success": False, "message": "Invalid email or password"}
            access, refresh = self.issue_tokens()
            user = {**self.user, "orgRole": "ADMIN"}
            return 200, {
                "success": True,
                "accessToken": access,
                "refreshToken": refresh,
                "tokenId": str(uuid.uuid4()),
                "user": user,
                **self._expires(self.clock() + self.token_lifetime),
            }
        tokens = [
            t for t in (data.get("refreshToken"), data.get("refresh_token")) if isinstance(t, str)
        ]
        if path == "/user/logout":
            with self._lock:
                self._refresh.difference_update(tokens)
            return 200, {"success": True}
        with self._lock:
            old = next((t for t in tokens if t in self._refresh), None)
            if old is not None:
                self._refresh.discard(old)  # rotation: a refresh token works once
        if old is None:
            return 401, {"success": False, "message": "Invalid refresh token"}
        access, refresh = self.issue_tokens()
        return 200, {
            "success": True,
            "accessToken": access,
            "refreshToken": refresh,
            **self._expires(self.clock() + self.token_lifetime),
        }


def _stats_object(llm_id: str, sim: _Sim, s: int) -> dict[str, str]:
    return dict(zip(("aiLlmId", *COUNTERS), (llm_id, *map(str, sim.counters(s))), strict=True))


def _filtered(items: list[object], key: str, want: str | None) -> list[object]:
    # Non-dict extras cannot match a filter, so they only appear in unfiltered answers.
    if not want:
        return items
    return [i for i in items if isinstance(i, dict) and i.get(key) == want]


class _Server(ThreadingHTTPServer):
    """The HTTP server: daemon handler threads and no tracebacks on client hang-ups."""

    daemon_threads = True
    demo: DemoServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-response (the "huge" fault, Ctrl-C) are expected here.
        pass


class _Server6(_Server):
    """The same server for an IPv6 host such as ``::1``."""

    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    """Parses one request, logs it, and answers it through a fault or DemoServer.route."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle
        # and delayed ACK add ~40 ms to every loopback request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.demo._lock:
            self.server.demo._conns.add(self.connection)

    def finish(self) -> None:
        with self.server.demo._lock:
            self.server.demo._conns.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines would be noise in tests and in the demo terminal

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        demo = self.server.demo
        split = urlsplit(self.path)
        path, query = split.path, dict(parse_qsl(split.query, keep_blank_values=True))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True  # unsupported; never misread the next request
        try:
            length = max(int(self.headers.get("Content-Length") or 0), 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length else b""
        authorized = demo._authorized(self.headers.get("Authorization"))

        def record(status: int) -> None:
            demo._record(self.command, path, query, authorized, status)

        fault = demo._take_fault(path, authorized)
        if fault is not None and fault.name != "slow":
            self._fault(fault, record)
            return
        if fault is not None and demo._stopping.wait(fault.delay):
            return
        status, payload = demo.route(self.command, path, query, body, authorized)
        record(status)
        self._send(status, json.dumps(payload).encode())

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str = _JSON,
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def _fault(self, fault: _Fault, record: Callable[[int], None]) -> None:
        name = "server_error" if fault.name == "flap" else fault.name
        if name in _CANNED:
            status, ctype, body = _CANNED[name]
            retry = name == "rate_limit" and fault.retry_after is not None
            record(status)
            self._send(
                status, body, ctype, {"Retry-After": str(fault.retry_after)} if retry else None
            )
        elif name == "truncated":
            record(200)
            body = json.dumps({"success": True, "stats": self.server.demo.snapshot()}).encode()
            self.close_connection = True
            self._send(200, body[: len(body) // 2], length=len(body) + 1024)
        elif name == "reset":
            record(0)
            self._reset()
        elif name == "reset_mid":
            record(200)
            body = json.dumps({"success": True, "stats": self.server.demo.snapshot()}).encode()
            self.close_connection = True
            self._send(200, body[: len(body) // 2], length=len(body))
            # Let the client read the headers and the first half before the reset.
            self.server.demo._stopping.wait(0.05)
            self._reset()
        elif name == "huge":
            record(200)
            self._stream_huge()

    def _reset(self) -> None:
        self.close_connection = True
        # Linger 0 makes close() send RST, so the client sees a reset, not a clean EOF.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the socket really closes only when its last file does
        self.connection.close()

    def _stream_huge(self) -> None:
        head, tail = b'{"success":true,"stats":[],"padding":"', b'"}'
        pad = HUGE_BYTES - len(head) - len(tail)
        chunk = b"x" * 65536
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", _JSON)
            self.send_header("Content-Length", str(HUGE_BYTES))
            self.end_headers()
            self.wfile.write(head)
            while pad > 0 and not self.server.demo._stopping.is_set():
                self.wfile.write(chunk[: min(pad, len(chunk))])
                pad -= len(chunk)
            self.wfile.write(tail)
        except OSError:
            pass  # the client stopped reading: that is what this fault is for


def main(argv: list[str] | None = None) -> int:
    """Run the demo server in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m tui.demo_server", description="Serve a simulated Flashback backend."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--configs", type=int, default=12, help="number of configurations")
    parser.add_argument(
        "--changing",
        type=int,
        default=None,
        help="only this many configurations have traffic; the rest stay idle (benchmarks)",
    )
    parser.add_argument(
        "--rotate",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --changing: move the configurations with traffic every SECONDS",
    )
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="seconds")
    args = parser.parse_args(argv)
    server = DemoServer(
        host=args.host,
        port=args.port,
        seed=args.seed,
        n_configs=args.configs,
        token_lifetime=args.token_lifetime,
        changing=args.changing,
        epoch=day_epoch(),
        rotate=args.rotate,
    )
    try:
        server.start()
    except OSError as exc:
        print(f"demo server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        print(
            f"flashtop demo server at {server.base_url}  "
            f"(email {DEMO_EMAIL}, password {DEMO_PASSWORD}; Ctrl-C stops)",
            flush=True,
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
