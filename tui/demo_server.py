"""A simulated Flashback backend for demos, tests and benchmarks (standard library only).

:class:`DemoServer` speaks the parts of the Flashback API that flashtop uses (login,
MFA login, refresh, logout, ``/ai/llm``, ``/ai/llm/stats``, ``/aistats/minute``,
``/aistats/daily``, ``/workspace``, ``/health``) over real HTTP/1.1 on a local socket,
with believable, deterministic traffic and switchable faults, so that the client and
the TUI can be exercised without a Flashback account. Its answers follow the official
TypeScript client's types (numeric ``expiresAt`` in epoch ms, ``orgRole`` numbers,
``token`` beside ``accessToken`` on refresh, the client's WorkspaceUser); logout
revokes only with a valid Bearer access token, as a server requiring it would.

``/aistats`` rows are the same simulation seen per bucket and per (model, host): the
rows of a span add up exactly to the growth of the ``/ai/llm/stats`` totals over it.
Traffic starts ``history`` seconds (6 h) before the server does, so the past is there
to be read at once.

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

DEMO_MFA_CODE = "424242"
ORG_OWNER = 0xFF  # the client's OrgRoles.OWNER
EXPIRES_FORMATS = frozenset({"iso", "seconds", "millis", "none"})
#: How the MFA user's login says a code is needed: a success carrying a partial token
#: and ``mfaRequired`` ("pending"), or a failure with error_code MFA_REQUIRED that
#: still carries the partial token ("refused"). Which one Flashback sends is not
#: documented; flashtop handles both.
MFA_STYLES = frozenset({"pending", "refused"})
AUTH_PATHS = frozenset({"/user/login", "/user/refresh", "/user/logout", "/mfa/verify-login"})
PROTECTED = frozenset(
    {"/ai/llm", "/ai/llm/stats", "/workspace", "/aistats/minute", "/aistats/daily"}
)
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


def _mix64(salt: int, n: int) -> int:
    """A 64-bit number fixed by (salt, n): splitmix64, cheap and stateless."""
    x = (salt + (n + 1) * 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _unit(salt: int, n: int) -> float:
    """A uniform number in [0, 1) fixed by (salt, n)."""
    return (_mix64(salt, n) >> 11) / float(1 << 53)


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
    #: An ``Authorization: Bearer`` header was sent (valid or not).
    bearer: bool = False


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
        #: Seconds of traffic before the server started (set by DemoServer).
        self.history = 0

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

    def _raw(self, t: int) -> tuple[int, int, int]:
        """Tokens in, tokens out and policy events of all traffic up to internal second ``t``."""
        bursts = self._bursts(t)
        tin = self._steady(t, self.salts[0], self.rate) + bursts
        tout = self._steady(t, self.salts[1], self.rate * self.ratio) + int(bursts * self.ratio)
        return tin, tout, self._events(t)

    def counters(self, s: int) -> tuple[int, ...]:
        """The eight counters, in :data:`COUNTERS` order, after ``s`` simulated seconds.

        Traffic began ``history`` seconds before the server started (``s`` may be as
        low as ``-history``; earlier, the totals are the starting ones): the running
        totals at ``s = 0`` already hold those hours, and ``/aistats`` can show them.
        """
        t = s + self.history
        if t > 0:  # _raw(t), inline: the snapshot of 10,000 configurations calls this
            bursts = self._bursts(t)
            tin = self._steady(t, self.salts[0], self.rate) + bursts
            tout = self._steady(t, self.salts[1], self.rate * self.ratio) + int(bursts * self.ratio)
            events = self._events(t)
        else:
            tin = tout = events = 0
        base_in, base_out = self.base_in, self.base_out
        viol, alerts, blocks = self.base_viol, self.base_alerts, self.base_blocks
        if self.profile == "reset" and s >= RESET_AT:
            # The server "recreated" it: totals restart from zero and grow again.
            r_in, r_out, r_events = self._raw(RESET_AT + self.history)
            tin, tout, events = tin - r_in, tout - r_out, events - r_events
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

    def growth(self, s0: int, s1: int) -> tuple[int, ...]:
        """What the counters grew by from ``s0`` to ``s1`` (the traffic of that span).

        Across the reset profile's drop, the growth before and after it is added up
        (the second of the drop itself is lost), so it is never negative.
        """
        if self.profile == "reset" and s0 < RESET_AT <= s1:
            a, b = self.growth(s0, RESET_AT - 1), self.growth(RESET_AT, s1)
            return tuple(x + y for x, y in zip(a, b, strict=True))
        before, after = self.counters(s0), self.counters(s1)
        return tuple(y - x for x, y in zip(before, after, strict=True))

    def severities(self, s0: int, s1: int) -> tuple[int, int, int]:
        """The policy events of ``(s0, s1]`` by severity (low, medium, high)."""
        t0, t1 = max(s0 + self.history, 0), max(s1 + self.history, 0)
        if self.profile == "reset" and s0 < RESET_AT <= s1:
            low, med, high = self.severities(s0, RESET_AT - 1)
            l2, m2, h2 = self.severities(RESET_AT, s1)
            return low + l2, med + m2, high + h2
        counts = [0, 0, 0]
        for k in range(self._events(t0) + 1, self._events(t1) + 1):
            u = _unit(self.salts[3] ^ 0x5EE5, k)
            counts[0 if u < 0.55 else 1 if u < 0.87 else 2] += 1
        return counts[0], counts[1], counts[2]


# What /aistats reports per configuration: its provider's models (name, latency of a
# call in ms before output, ms per output token) and the gateway hosts in front of them.
MODELS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "OPENAI": (("gpt-4o", 380.0, 0.9), ("gpt-4o-mini", 240.0, 0.45), ("o3-mini", 900.0, 1.1)),
    "ANTHROPIC": (
        ("claude-sonnet-4-5", 520.0, 1.2),
        ("claude-haiku-4-5", 260.0, 0.5),
        ("claude-opus-4-1", 900.0, 2.1),
    ),
    "GOOGLE": (("gemini-2.5-flash", 230.0, 0.4), ("gemini-2.5-pro", 640.0, 1.3)),
    "AWS": (
        ("amazon.nova-pro-v1:0", 410.0, 0.8),
        ("amazon.nova-lite-v1:0", 200.0, 0.35),
        ("meta.llama3-1-70b-instruct-v1:0", 480.0, 1.0),
    ),
    "OTHER": (("llama-3.1-70b", 450.0, 1.0), ("qwen2.5-coder-32b", 380.0, 0.8)),
}
#: Gateway hosts and the round trip each adds (ms).
HOSTS: tuple[tuple[str, float], ...] = (
    ("gw-eu-west-1.flashback.invalid", 12.0),
    ("gw-us-east-1.flashback.invalid", 48.0),
    ("gw-ap-south-1.flashback.invalid", 135.0),
)
#: Seconds of traffic before a DemoServer starts (the past /aistats can show).
HISTORY = 6 * 3600
#: /aistats refuses a request covering more (configurations x buckets) than this.
MAX_AISTATS_CELLS = 250_000
AISTATS_PATHS = {"/aistats/minute": 60, "/aistats/daily": 86400}


@dataclasses.dataclass(frozen=True)
class _Mix:
    """How one configuration's traffic divides between models and hosts in /aistats."""

    llm_type: str
    #: (model, host, weight, latency before output in ms, ms per output token)
    slices: tuple[tuple[str, str, float, float, float], ...]
    repo_id: str
    key_id: str
    salt: int


_AISTATS_SALT = 0xA157A75_5EED


def _uuid4(salt: int, n: int) -> str:
    return str(uuid.UUID(int=(_mix64(salt, n) << 64) | _mix64(salt ^ 1, n), version=4))


def _repo_id(seed: int, index: int, key: bool = False) -> str:
    """The repository (or its AI API key) of configuration ``index``: cheap, because
    /ai/llm lists the repository of every configuration from the start."""
    salt = _AISTATS_SALT ^ (seed * 0x9E3779B97F4A7C15 & _MASK)
    return _uuid4(salt, 2 * index + key)


def _mix_for(seed: int, index: int, ai_type: str) -> _Mix:
    # A generator of its own, so adding /aistats changed none of the older numbers;
    # built on the first /aistats request only.
    rng = random.Random(f"aistats:{seed}:{index}")
    models = list(MODELS.get(ai_type, MODELS["OTHER"]))
    rng.shuffle(models)
    models = models[: rng.choice((2, 3)) if len(models) > 2 else 2]
    hosts = rng.sample(HOSTS, rng.choice((2, 3)))
    slices: list[tuple[str, str, float, float, float]] = []
    model_weights = sorted((rng.uniform(0.2, 1.0) for _ in models), reverse=True)
    for i, ((model, first, per_token), weight) in enumerate(
        zip(models, model_weights, strict=True)
    ):
        # The main model runs on two hosts, the others on one each.
        served = hosts[:2] if i == 0 else [hosts[i % len(hosts)]]
        split = rng.uniform(0.55, 0.8) if len(served) == 2 else 1.0
        for j, (host, rtt) in enumerate(served):
            share = split if j == 0 else 1.0 - split
            slices.append((model, host, weight * share, first + rtt, per_token))
    repo_id, key_id = _repo_id(seed, index), _repo_id(seed, index, key=True)
    return _Mix(ai_type, tuple(slices), repo_id, key_id, rng.getrandbits(64))


def _deal(total: int, caps: list[int]) -> list[int]:
    """``total`` given out in order, each part at most its cap (any excess to the last)."""
    parts = []
    for cap in caps:
        take = min(cap, total)
        parts.append(take)
        total -= take
    if parts and total:
        parts[-1] += total
    return parts


def _split(total: int, weights: list[float]) -> list[int]:
    """``total`` in exact integer parts proportional to ``weights`` (largest remainder)."""
    if total == 0:
        return [0] * len(weights)
    scaled = [max(int(w * 1_000_000), 1) for w in weights]  # integers: exact arithmetic
    whole = sum(scaled)
    parts = [total * w // whole for w in scaled]
    rests = [total * w % whole for w in scaled]
    for i in sorted(range(len(parts)), key=lambda i: -rests[i])[: total - sum(parts)]:
        parts[i] += 1
    return parts


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
        expires_format: str = "millis",
        extra_stats: list[object] | None = None,
        extra_llms: list[object] | None = None,
        tls: ssl.SSLContext | None = None,
        changing: int | None = None,
        epoch: float | None = None,
        rotate: float | None = None,
        history: float = HISTORY,
        aistats_timestamps: str = "ms",
        aistats_tokens: str = "string",
        extra_aistats: list[object] | None = None,
        mfa_style: str = "pending",
    ) -> None:
        if expires_format not in EXPIRES_FORMATS:
            raise ValueError(f"expires_format must be one of {sorted(EXPIRES_FORMATS)}")
        if aistats_timestamps not in ("ms", "s") or aistats_tokens not in ("string", "number"):
            raise ValueError(
                "aistats_timestamps is 'ms' or 's'; aistats_tokens 'string' or 'number'"
            )
        if mfa_style not in MFA_STYLES:
            raise ValueError(f"mfa_style must be one of {sorted(MFA_STYLES)}")
        self.seed = seed
        self.history = max(int(history), 0)
        self.aistats_timestamps, self.aistats_tokens = aistats_timestamps, aistats_tokens
        self.mfa_style = mfa_style
        self.extra_aistats = list(extra_aistats or [])
        json.dumps(self.extra_aistats)
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
        self._partial: dict[str, float] = {}  # MFA-pending token -> expiry
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
        # The official client's LoginResponse.user; orgRole is a number (OrgRoles.OWNER).
        self.user = {
            "id": user_id,
            "email": DEMO_EMAIL,
            "name": "Demo User",
            "orgId": self.org_id,
            "orgRole": ORG_OWNER,
        }
        member = {  # the client's WorkspaceUser
            "userId": user_id,
            "role": "ADMIN",
            "user": {
                "id": user_id,
                "name": "Demo",
                "lastName": "User",
                "email": DEMO_EMAIL,
                "orgRole": ORG_OWNER,
            },
        }
        self.workspaces: list[dict[str, Any]] = [
            {"id": uid(), "name": name, "orgId": self.org_id, "users": [member]}
            for name in ("Production", "Research")
        ]
        created0 = 1_735_689_600  # 2025-01-01: fixed so /ai/llm is deterministic too
        self.llms: list[dict[str, Any]] = []
        self.sims: list[tuple[str, _Sim]] = []
        self._mixes: list[_Mix] | None = None
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
            sim.history = self.history
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
            # The repository its /aistats rows name (AiLlmDTO.repos).
            repo_id = _repo_id(self.seed, i)
            self.llms[-1]["repos"] = [
                {"id": repo_id, "name": f"{name}-app", "createdAt": self.llms[-1]["createdAt"]}
            ]
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

    def revoke_all_refresh_tokens(self) -> None:
        """Make every refresh token invalid, as a logout elsewhere would."""
        with self._lock:
            self._refresh.clear()

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
        self,
        method: str,
        path: str,
        query: dict[str, str],
        authorized: bool,
        status: int,
        bearer: bool = False,
    ) -> None:
        rec = RequestRecord(method, path, query, authorized, status, self.clock(), bearer)
        with self._lock:
            self.requests.append(rec)
            if len(self.requests) > MAX_RECORDS:
                del self.requests[: MAX_RECORDS // 2]

    @staticmethod
    def _bearer(header: str | None) -> str | None:
        """The token of an ``Authorization: Bearer`` header, or None."""
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    def _valid_access(self, token: str | None) -> bool:
        if token is None:
            return False
        with self._lock:
            expiry = self._access.get(token)
        return expiry is not None and self.clock() < expiry

    def _authorized(self, header: str | None) -> bool:
        return self._valid_access(self._bearer(header))

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
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes,
        authorized: bool,
        bearer: str | None = None,
    ) -> tuple[int, dict[str, object]]:
        """Answer one un-faulted request: ``(status, JSON object)`` (``bearer``: the
        token of the Authorization header, if any)."""
        if (method, path) == ("GET", "/health"):
            return 200, {"status": "ok", "timestamp": iso_utc(self.clock()), "error": None}
        if method == "POST" and path in AUTH_PATHS:
            try:
                data = json.loads(body or b"null")
            except ValueError:
                data = None
            data = data if isinstance(data, dict) else {}
            return self._auth_endpoint(path, data, bearer)
        if method != "GET" or path not in PROTECTED:
            return 404, {"success": False, "message": "Not found"}
        if not authorized:
            return 401, {"success": False, "message": "Invalid or expired token"}
        if path in AISTATS_PATHS:
            return self._aistats(path, query)
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

    # -- /aistats ----------------------------------------------------------------

    @property
    def mixes(self) -> list[_Mix]:
        """How each configuration's traffic divides between models and hosts."""
        if self._mixes is None:
            # Racing handler threads compute the same list; one assignment wins.
            self._mixes = [_mix_for(self.seed, i, llm["aiType"]) for i, llm in enumerate(self.llms)]
        return self._mixes

    def totals_at(self, when: float) -> dict[str, dict[str, int]]:
        """Every configuration's counters at clock time ``when`` (for tests: the
        ``/aistats`` rows of a span add up to the growth of these between its ends)."""
        s = math.floor(when - self._start)
        return {
            llm_id: dict(zip(COUNTERS, sim.counters(s), strict=True)) for llm_id, sim in self.sims
        }

    def _aistats(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, object]]:
        """``/aistats/minute`` or ``/daily``: the simulation's growth per bucket, per
        (model, host). Buckets are aligned to the epoch; those starting in
        ``[startDate, endDate]`` are answered (up to now: the current one is partial).
        The benchmark modes (``changing``, ``rotate``) are not reflected here."""
        size = AISTATS_PATHS[path]
        now = self.clock()
        try:
            end = _parse_iso(query["endDate"]) if "endDate" in query else now
            # Undocumented defaults: the last hour of minutes, the last week of days.
            default = end - (3600 if size == 60 else 7 * 86400)
            start = _parse_iso(query["startDate"]) if "startDate" in query else default
        except ValueError:
            return 400, {"success": False, "message": "Invalid date: expected ISO 8601"}
        if start > end:
            return 400, {"success": False, "message": "startDate must not be after endDate"}

        def wanted(name: str) -> frozenset[str] | None:
            return frozenset(query[name].split(",")) if name in query else None

        ids, repos, keys = wanted("aiLlmId"), wanted("repoId"), wanted("repoAiApiKeyId")
        chosen = [
            i
            for i, (llm_id, _sim) in enumerate(self.sims)
            if (ids is None and repos is None and keys is None)
            or (ids is not None and llm_id in ids)
            or (repos is not None and self.mixes[i].repo_id in repos)
            or (keys is not None and self.mixes[i].key_id in keys)
        ]
        first = math.ceil(start / size) * size
        last = min(end, now)
        count = max((math.floor(last) - first) // size + 1, 0)
        if len(chosen) * count > MAX_AISTATS_CELLS:
            message = "Requested range too large: narrow startDate/endDate or filter by aiLlmId"
            return 400, {"success": False, "message": message}
        buckets = [float(first + k * size) for k in range(count)]
        rows: list[dict[str, object]] = []
        for i in chosen:
            if buckets:
                rows += self._config_rows(i, buckets, size, now)
        ands = {
            "host": wanted("hosts"),
            "llmType": wanted("llmType"),
            "llmModel": wanted("llmModel"),
            "userUuid": wanted("userUuid"),
            "conversationUuid": wanted("conversationUuid"),
        }
        for key, allowed in ands.items():
            if allowed is not None:
                rows = [r for r in rows if r[key] in allowed]
        extras: list[object] = self.extra_aistats
        if ids is not None:
            extras = [x for x in extras if isinstance(x, dict) and x.get("aiLlmId") in ids]
        return 200, {"success": True, "data": [*rows, *extras]}

    def _config_rows(
        self, i: int, buckets: list[float], size: int, now: float
    ) -> list[dict[str, object]]:
        llm_id, sim = self.sims[i]
        mix = self.mixes[i]
        edges = [math.floor(b - self._start) for b in buckets]
        edges.append(math.floor(min(buckets[-1] + size, now) - self._start))
        if sim.profile != "reset" and sim.counters(edges[0]) == sim.counters(edges[-1]):
            return []  # no traffic in the whole range
        out: list[dict[str, object]] = []
        for k, at in enumerate(buckets):
            s0, s1 = edges[k], edges[k + 1]
            if s1 <= s0:
                continue
            grown = sim.growth(s0, s1)
            if not any(grown):
                continue
            out += self._bucket_rows(llm_id, mix, at, size, (*grown, *sim.severities(s0, s1)))
        return out

    def _bucket_rows(
        self, llm_id: str, mix: _Mix, at: float, size: int, values: tuple[int, ...]
    ) -> list[dict[str, object]]:
        n = int(at // size)
        weights = [
            w * (0.7 + 0.6 * _unit(mix.salt, n * 8 + j))
            for j, (_, _, w, _, _) in enumerate(mix.slices)
        ]
        parts = [_split(v, weights) for v in values[:6]]
        # Policy events follow the violations row by row: no row has more alerts or
        # blocks than violations, and each row's severities add up to its violations.
        violations = parts[5]
        parts += [_deal(values[6], violations), _deal(values[7], violations)]
        labels = [k for k, n in enumerate(values[8:11]) for _ in range(n)]
        severities = [[0, 0, 0] for _ in violations]
        at_label = 0
        for j, v in enumerate(violations):
            for k in labels[at_label : at_label + v]:
                severities[j][k] += 1
            at_label += v
        parts += [[sev[k] for sev in severities] for k in range(3)]
        as_text = self.aistats_tokens == "string"
        stamp = int(at * 1000) if self.aistats_timestamps == "ms" else int(at)
        rows: list[dict[str, object]] = []
        for j, (model, host, _w, first, per_token) in enumerate(mix.slices):
            calls, tin, tout, llm_in, llm_out, viol, alerts, blocks, low, med, high = (
                p[j] for p in parts
            )
            if not (calls or tin or tout or viol):
                continue
            out_per_call = tout / calls if calls else float(tout)
            jitter = 0.85 + 0.3 * _unit(mix.salt ^ 0x1A7, n * 8 + j)
            latency = (first + per_token * min(out_per_call, 4000.0)) * jitter
            conv = (_mix64(mix.salt, n * 8 + j) << 64) | _mix64(mix.salt ^ 1, n * 8 + j)
            rows.append(
                {
                    "timestamp": stamp,
                    "repoId": mix.repo_id,
                    "aiLlmId": llm_id,
                    "repoAiApiKeyId": mix.key_id,
                    "tokensIn": str(tin) if as_text else tin,
                    "tokensOut": str(tout) if as_text else tout,
                    "llmTokensIn": str(llm_in) if as_text else llm_in,
                    "llmTokensOut": str(llm_out) if as_text else llm_out,
                    "activeConversations": min(calls, 1 + int(4 * _unit(mix.salt, n))),
                    "apiCalls": calls,
                    "policyViolations": viol,
                    "numAlerts": alerts,
                    "numBlocks": blocks,
                    "numSeverityLow": low,
                    "numSeverityMedium": med,
                    "numSeverityHigh": high,
                    "latency_ms": round(latency, 1),
                    "llmType": mix.llm_type,
                    "llmModel": model,
                    "host": host,
                    "userUuid": self.user["id"],
                    "conversationUuid": str(uuid.UUID(int=conv, version=4)),
                }
            )
        return rows

    def _auth_endpoint(
        self, path: str, data: dict[str, Any], bearer: str | None
    ) -> tuple[int, dict[str, object]]:
        if path == "/user/login":
            return self._login(data)
        if path == "/mfa/verify-login":
            return self._verify_login(data, bearer)
        tokens = [
            t for t in (data.get("refreshToken"), data.get("refresh_token")) if isinstance(t, str)
        ]
        if path == "/user/logout":
            # Like a server that requires the Bearer header here (the official client
            # sends it): without a valid access token nothing is revoked.
            if not self._valid_access(bearer):
                return 401, {"success": False, "message": "Invalid or expired token"}
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
        # The client's RefreshTokenResponse: `token` and `accessToken` are the same.
        return 200, {
            "success": True,
            "token": access,
            "accessToken": access,
            "refreshToken": refresh,
            **self._expires(self.clock() + self.token_lifetime),
        }

    def _login(self, data: dict[str, Any]) -> tuple[int, dict[str, object]]:
        email, password = data.get("email"), data.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            return 400, {"success": False, "message": "Email and password are required"}
        address = email.strip().lower()
        if address not in (DEMO_EMAIL, MFA_EMAIL) or password != DEMO_PASSWORD:
            return 401, {"success": False, "message": "Invalid email or password"}
        expires = self._expires(self.clock() + self.token_lifetime)
        if address == MFA_EMAIL:
            partial = secrets.token_urlsafe(24)
            with self._lock:
                self._partial[partial] = self.clock() + 600.0
            signal: dict[str, object] = (
                {"success": True, "mfaRequired": True}
                if self.mfa_style == "pending"
                else {"success": False, "error_code": "MFA_REQUIRED"}
            )
            return 200, {
                **signal,
                "message": "MFA verification required: complete login with /mfa/verify-login",
                "accessToken": partial,
                "tokenId": str(uuid.uuid4()),
                "user": {**self.user, "email": MFA_EMAIL},
                **expires,
            }
        access, refresh = self.issue_tokens()
        return 200, {
            "success": True,
            "accessToken": access,
            "refreshToken": refresh,
            "tokenId": str(uuid.uuid4()),
            "user": dict(self.user),
            **expires,
        }

    def _verify_login(
        self, data: dict[str, Any], bearer: str | None
    ) -> tuple[int, dict[str, object]]:
        with self._lock:
            expiry = self._partial.get(bearer or "")
        if expiry is None or self.clock() >= expiry:
            return 401, {"success": False, "message": "Invalid or expired token"}
        if data.get("mfaType") != "GOOGLE_AUTH":
            return 400, {"success": False, "message": "Unsupported MFA type"}
        if data.get("code") != DEMO_MFA_CODE:
            return 401, {"success": False, "message": "Invalid MFA code"}
        with self._lock:
            self._partial.pop(bearer or "", None)  # a partial token works once
        access, refresh = self.issue_tokens()
        return 200, {
            "success": True,
            "message": "MFA verification successful",
            "fullAccessToken": access,
            "refreshToken": refresh,
        }


def _parse_iso(text: str) -> float:
    """An ISO 8601 date-time (``Z`` or an offset; naive means UTC) as epoch seconds."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


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
        bearer = demo._bearer(self.headers.get("Authorization"))
        authorized = demo._valid_access(bearer)

        def record(status: int) -> None:
            demo._record(self.command, path, query, authorized, status, bearer is not None)

        fault = demo._take_fault(path, authorized)
        if fault is not None and fault.name != "slow":
            self._fault(fault, record)
            return
        if fault is not None and demo._stopping.wait(fault.delay):
            return
        status, payload = demo.route(self.command, path, query, body, authorized, bearer)
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
            f"(email {DEMO_EMAIL}, password {DEMO_PASSWORD}; Ctrl-C stops)\n"
            f"an account with MFA: email {MFA_EMAIL}, the same password, code {DEMO_MFA_CODE}",
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
