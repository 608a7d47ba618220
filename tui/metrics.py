"""Prometheus metrics of a headless monitor: what the last poll said, never a new request.

:class:`MonitorMetrics` keeps what a scrape reports and is a prometheus-client custom
collector. The daemon feeds it from the :class:`~tui.monitor.Monitor`'s callbacks on
the event loop (:meth:`MonitorMetrics.record_poll`, ``record_fetch``, ``record_status``,
``record_alerts``); scrapes read it on the HTTP server's threads. Each poll builds one
immutable snapshot that is swapped in under a lock, so a scrape never sees half a poll
and never calls the Flashback API: scraping every second costs the account nothing.

Exported (labels of the per-configuration series: exactly ``ai_llm_id``, ``name``,
``provider``, ``workspace``, ``profile``; nothing unbounded):

- ``flashback_ai_llm_<counter>_total``: the API's running totals as counters, one
  per :data:`tui.counters.REGISTRY` entry (api_calls, tokens_in, tokens_out,
  llm_tokens_in, llm_tokens_out, policy_violations, alerts, blocks). Values are the
  exact integers converted to float64, so above 2**53 they lose precision; an unknown
  or invalid value is left out (never reported as 0).
- ``flashback_ai_llm_cost_usd_total``: USD of the LLM tokens so far, for priced
  configurations only.
- Where ``/ai/llm/stats`` answers 404 (a production host; see :mod:`tui.windowed`),
  the monitor has only sums over the last 24 h: those go down as the window slides,
  so they are exported as gauges ``flashback_ai_llm_<counter>_last_24h`` and the
  counters above (and the cost) are left out rather than reported with false resets.
- ``flashtop_up``, ``flashtop_last_success_timestamp_seconds``,
  ``flashtop_poll_duration_seconds`` (histogram), ``flashtop_poll_errors_total{kind}``,
  ``flashtop_alerts_firing{rule}``, ``flashtop_build_info{version}``.

Also here: the exposition by content negotiation (:func:`exposition`), ``/healthz``'s
verdict (:meth:`MonitorMetrics.health`), a small threaded HTTP server
(:class:`MetricsServer`) and the atomic ``--textfile`` writer (:func:`write_textfile`).
No Textual, no asyncio: the server threads only read snapshots.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.registry import CollectorRegistry

from tui import __version__
from tui.counters import METRIC_NAMES, REGISTRY, id_label
from tui.errors import (
    ApiError,
    ApiTimeoutError,
    AuthError,
    BadResponseError,
    ForbiddenError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TLSError,
    UnsuccessfulError,
    UsageError,
    one_line,
)
from tui.logsetup import known_secrets, redact
from tui.poller import ConnState, PollStatus
from tui.windowed import WindowedPage

if TYPE_CHECKING:
    from tui.monitor import Monitor, PollUpdate
    from tui.rules import RuleEngine

#: Labels of every per-configuration series, in this order.
LABELS = ("ai_llm_id", "name", "provider", "workspace", "profile")
#: Metric names (without ``_total``) of the API's counters, in COUNTERS order.
COUNTER_METRICS: dict[str, str] = METRIC_NAMES
COST_METRIC = "flashback_ai_llm_cost_usd"
#: Suffix of the gauges of sums over the last 24 h (where /ai/llm/stats is missing).
WINDOW_SUFFIX = "_last_24h"
PRECISION = "Exact integers as float64: values above 2^53 lose precision."
#: Upper bounds (seconds) of the poll duration histogram's buckets.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Every ``kind`` of ``flashtop_poll_errors_total``, exported from the start at 0 so
#: that ``rate()`` and ``increase()`` see the first error.
ERROR_KINDS = (
    "auth",
    "timeout",
    "tls",
    "network",
    "rate_limited",
    "server",
    "not_found",
    "unsuccessful",
    "bad_response",
    "api",
    "internal",
)
#: Label values longer than this are cut (a 10,000-character name costs every sample).
LABEL_MAX = 256
#: ``/healthz`` fails once the last successful poll is older than this many intervals.
HEALTHY_INTERVALS = 3.0

_ERROR_CLASSES: tuple[tuple[type[Exception], str], ...] = (
    (AuthError, "auth"),
    (ForbiddenError, "auth"),
    (ApiTimeoutError, "timeout"),
    (TLSError, "tls"),
    (NetworkError, "network"),
    (RateLimitedError, "rate_limited"),
    (ServerError, "server"),
    (NotFoundError, "not_found"),
    (UnsuccessfulError, "unsuccessful"),
    (BadResponseError, "bad_response"),
    (ApiError, "api"),
)


def error_kind(exc: BaseException) -> str:
    """The ``kind`` label of a failed poll: one of :data:`ERROR_KINDS`."""
    for cls, kind in _ERROR_CLASSES:
        if isinstance(exc, cls):
            return kind
    return "internal"


def label_value(text: str | None) -> str:
    """A label value from untrusted text: valid UTF-8 (a lone surrogate from JSON would
    make the whole scrape fail to encode), at most :data:`LABEL_MAX` characters.
    Quotes, backslashes and newlines are escaped by the exposition itself."""
    if not text:
        return ""
    clean = text.encode("utf-8", "replace").decode("utf-8")
    if len(clean) > LABEL_MAX:
        clean = clean[: LABEL_MAX - 1] + "…"
    return clean


def exact_float(value: int | None) -> float | None:
    """An exact counter as float64 (rounded above 2**53); None when unknown or too large
    for a float at all."""
    if value is None:
        return None
    try:
        return float(value)
    except OverflowError:
        return None


@dataclass(frozen=True, slots=True)
class _Row:
    """One configuration of the last poll, ready to report."""

    labels: tuple[str, ...]
    values: tuple[float | None, ...]
    cost: float | None


class MonitorMetrics:
    """What a scrape reports: the last poll and flashtop's own health.

    Written from one thread (the daemon's event loop), read from any (the server's).
    ``profile`` is the value of the ``profile`` label; ``interval`` the poll interval
    that ``/healthz`` allows three of.
    """

    def __init__(
        self,
        profile: str,
        interval: float,
        *,
        version: str = __version__,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile = profile
        self.interval = interval
        self.version = version
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._rows: tuple[_Row, ...] = ()
        #: The rows are sums over the last 24 h, not running totals (see the docstring).
        self._windowed = False
        self._up = False
        self._last_ok: float | None = None
        self._last_ok_mono: float | None = None
        self._last_error: str | None = None
        self._buckets = [0] * (len(DURATION_BUCKETS) + 1)
        self._duration_sum = 0.0
        self._errors = dict.fromkeys(ERROR_KINDS, 0)
        self._firing: dict[str, int] = {}
        self._started = monotonic()
        #: Bumped by every change; the rendered exposition is kept per content type
        #: until it moves (scrapes between polls, or from several Prometheus
        #: servers, cost a dictionary lookup instead of 60 ms at 1,000 configurations).
        self._version = 0
        self._rendered: dict[str, tuple[int, bytes]] = {}
        self._render_lock = threading.Lock()
        self._registry: CollectorRegistry | None = None

    # ------------------------------------------------------------------ recording

    def record_poll(self, update: PollUpdate, monitor: Monitor) -> None:
        """Take a recorded overview poll as what scrapes report from now on."""
        names = monitor.names
        workspaces = monitor.workspaces
        costs = monitor.costs
        windowed = isinstance(update.page, WindowedPage)
        profile = label_value(self.profile)
        rows = []
        for s in update.page.stats:
            cfg = names.get(s.ai_llm_id)
            ws = cfg.workspace_id if cfg else None
            labels = (
                id_label(s.ai_llm_id),
                label_value(cfg.name if cfg else None),
                label_value(cfg.ai_type if cfg else None),
                label_value(workspaces.get(ws, ws) if ws else None),
                profile,
            )
            cost = costs.all_time(s.ai_llm_id, s.values) if costs.enabled and not windowed else None
            rows.append(
                _Row(
                    labels,
                    tuple(exact_float(v) for v in s.values),
                    None if cost is None else float(cost),
                )
            )
        with self._lock:
            self._version += 1
            self._rows = tuple(rows)
            self._windowed = windowed
            self._up = True
            self._last_ok = update.at
            self._last_ok_mono = self._monotonic()
            self._last_error = None

    def record_fetch(self, seconds: float, error: BaseException | None) -> None:
        """One overview fetch took ``seconds`` and raised ``error`` (None: succeeded)."""
        with self._lock:
            self._version += 1
            self._duration_sum += seconds
            for i, bound in enumerate(DURATION_BUCKETS):
                if seconds <= bound:
                    self._buckets[i] += 1
                    break
            else:
                self._buckets[-1] += 1
            if error is not None:
                self._errors[error_kind(error)] += 1
                self._up = False

    def record_stopped(self) -> None:
        """The daemon stopped: ``flashtop_up`` 0 (what a textfile left behind says)."""
        with self._lock:
            self._version += 1
            self._up = False
            self._last_error = "stopped"

    def record_status(self, status: PollStatus) -> None:
        """The poller's state changed: a failure makes ``flashtop_up`` 0."""
        failed = status.state in (ConnState.RETRYING, ConnState.LOGIN_NEEDED)
        with self._lock:
            self._version += 1
            if failed and not status.in_flight:
                self._up = False
                if status.last_error:
                    self._last_error = status.last_error

    def record_alerts(self, rules: RuleEngine) -> None:
        """How many entities each rule fires for now (every rule listed, 0 included)."""
        firing = {rule.name: 0 for rule in rules.rules}
        for active in rules.active():
            if active.state == "firing":
                firing[active.rule.name] = firing.get(active.rule.name, 0) + 1
        with self._lock:
            self._version += 1
            self._firing = firing

    # ------------------------------------------------------------------ asking

    @property
    def up(self) -> bool:
        with self._lock:
            return self._up

    def health(self) -> tuple[bool, str]:
        """``/healthz``: healthy while the last successful poll is younger than
        :data:`HEALTHY_INTERVALS` intervals; and one line saying why (no secrets)."""
        limit = HEALTHY_INTERVALS * self.interval
        with self._lock:
            last, error = self._last_ok_mono, self._last_error
        now = self._monotonic()
        why = f"; last error: {error}" if error else ""
        if last is None:
            return False, f"no successful poll yet ({now - self._started:.0f} s since start){why}"
        age = now - last
        if age > limit:
            return False, f"last successful poll {age:.0f} s ago (limit {limit:.0f} s){why}"
        return True, f"ok: last successful poll {age:.1f} s ago"

    def describe(self) -> Iterable[Metric]:
        """Nothing to describe ahead: the registry then never collects to learn names."""
        return ()

    def collect(self) -> Iterator[Metric]:
        """The metric families of the last poll (prometheus-client's Collector protocol)."""
        with self._lock:
            rows, windowed = self._rows, self._windowed
            up, last_ok = self._up, self._last_ok
            buckets, duration_sum = list(self._buckets), self._duration_sum
            errors, firing = dict(self._errors), dict(self._firing)
        for i, counter in enumerate(REGISTRY):
            family = CounterMetricFamily(
                COUNTER_METRICS[counter.api],
                f"{counter.long} so far (the API's {counter.api}). {PRECISION}",
                labels=LABELS,
            )
            window = GaugeMetricFamily(
                COUNTER_METRICS[counter.api] + WINDOW_SUFFIX,
                f"{counter.long} in the last 24 h, from /aistats/minute (only where "
                f"/ai/llm/stats answers 404). {PRECISION}",
                labels=LABELS,
            )
            add = (window if windowed else family).add_metric
            for row in rows:
                value = row.values[i]
                if value is not None:
                    add(row.labels, value)
            yield family
            if windowed:
                yield window
        cost = CounterMetricFamily(
            COST_METRIC,
            "USD of the LLM tokens so far at the profile's prices (priced configurations only).",
            labels=LABELS,
        )
        for row in rows:
            if row.cost is not None:
                cost.add_metric(row.labels, row.cost)
        yield cost
        yield GaugeMetricFamily(
            "flashtop_up", "1 while the last poll of the Flashback API succeeded.", value=up
        )
        if last_ok is not None:
            yield GaugeMetricFamily(
                "flashtop_last_success_timestamp_seconds",
                "Unix time of the last successful poll.",
                value=last_ok,
            )
        cumulative, total = [], 0
        for bound, count in zip((*DURATION_BUCKETS, math.inf), buckets, strict=True):
            total += count
            cumulative.append(("+Inf" if bound == math.inf else repr(bound), float(total)))
        yield HistogramMetricFamily(
            "flashtop_poll_duration_seconds",
            "Seconds each poll's requests took (failed polls included).",
            buckets=cumulative,
            sum_value=duration_sum,
        )
        failures = CounterMetricFamily(
            "flashtop_poll_errors", "Failed polls, by kind of failure.", labels=("kind",)
        )
        for kind, count in errors.items():
            failures.add_metric((kind,), float(count))
        yield failures
        alerts = GaugeMetricFamily(
            "flashtop_alerts_firing",
            "Entities each alert rule fires for now.",
            labels=("rule",),
        )
        for rule, count in firing.items():
            alerts.add_metric((label_value(rule),), float(count))
        yield alerts
        info = GaugeMetricFamily(
            "flashtop_build_info", "flashtop's version (always 1).", labels=("version",)
        )
        info.add_metric((self.version,), 1.0)
        yield info

    def registry(self) -> CollectorRegistry:
        """A registry holding this collector alone (no process or platform metrics)."""
        if self._registry is None:
            registry = CollectorRegistry()
            registry.register(self)
            self._registry = registry
        return self._registry

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """(body, content type) for a scrape with this ``Accept`` header, rendered once
        per change of what is reported (see :func:`exposition`)."""
        encoder, content_type = choose_encoder(accept or "")
        with self._render_lock:
            with self._lock:
                version = self._version
            kept = self._rendered.get(content_type)
            if kept is not None and kept[0] == version:
                return kept[1], content_type
            body = encoder(self.registry())
            self._rendered[content_type] = (version, body)
            return body, content_type


# ---------------------------------------------------------------------------- exposition


def exposition(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """(body, content type): OpenMetrics when ``accept`` asks for it, else the text format."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


def text_exposition(registry: CollectorRegistry) -> bytes:
    """The text format (what node_exporter's textfile collector reads)."""
    return generate_latest(registry)


def write_textfile(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: a temporary file in the same directory
    (hidden, not ``*.prom``, so the textfile collector ignores it), flushed to disk,
    then :func:`os.replace`. A reader sees the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        # mkstemp makes it 0600; node_exporter usually runs as another user.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------- serving


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``PORT`` (loopback) -> (host, port).

    Raises :class:`~tui.errors.UsageError` with a one-line reason."""
    raw = text.strip()
    host, sep, port_text = raw.rpartition(":")
    if not sep:
        host, port_text = "", raw
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UsageError(f"--metrics wants HOST:PORT (e.g. 127.0.0.1:9464), not {raw!r}")
    return host or "127.0.0.1", port


def is_loopback(host: str) -> bool:
    """The address is this machine only (127.0.0.0/8, ::1 or ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    metrics: MonitorMetrics


class _Handler(BaseHTTPRequestHandler):
    """``/metrics``, ``/healthz`` and a one-line index; nothing else."""

    server: _Server
    #: A client that stalls mid-request loses its thread after this many seconds.
    timeout = 10.0
    server_version = "flashtop"
    sys_version = ""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            body, content_type = self.server.metrics.render(self.headers.get("Accept"))
            self._send(200, body, content_type)
        elif path == "/healthz":
            ok, why = self.server.metrics.health()
            line = one_line(redact(why, known_secrets()), 500)
            self._send(200 if ok else 503, (line + "\n").encode(), "text/plain; charset=utf-8")
        elif path == "/":
            self._send(200, b"flashtop daemon: /metrics /healthz\n", "text/plain; charset=utf-8")
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def do_HEAD(self) -> None:
        """As GET without the body (load balancers check health with HEAD)."""
        self._head_only = True
        self.do_GET()

    def _refuse(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not getattr(self, "_head_only", False):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a scrape every 15 s is not an event worth a log line."""


class MetricsServer:
    """``/metrics`` and ``/healthz`` on a small threaded HTTP server (its own threads)."""

    def __init__(self, metrics: MonitorMetrics, host: str = "127.0.0.1", port: int = 0) -> None:
        self.metrics = metrics
        family = _Server.address_family
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host).version == 6:
                family = socket.AF_INET6
        server_class = type("_BoundServer", (_Server,), {"address_family": family})
        self._httpd: _Server = server_class((host, port), _Handler)
        self._httpd.metrics = metrics
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def start(self) -> MetricsServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="flashtop-metrics", daemon=True
        )
        self._thread.start()
        return self

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
