"""``flashtop daemon``: the Monitor without a screen, for services and Prometheus.

It runs one :class:`~tui.monitor.Monitor` for a profile with its history file kept:
polls at the profile's interval, records, evaluates the alert rules and sends their
URL notifications (the screen's channels, toast, bell and desktop, have nobody to
tell). What happens is logged to stderr one line per event: start and stop, a poll
failing and polls recovering, rule events, problems with names or the history file,
config reloads; as text, or JSON lines with ``--log-format json``. Every line goes
through :mod:`tui.logsetup`'s redaction, and untrusted text is made one line.

Signals: SIGTERM and SIGINT stop it cleanly (the history is flushed, exit status 0);
SIGHUP reads the config again and replaces the Monitor (a bad config is logged and
the running one kept).

``--metrics HOST:PORT`` serves ``/metrics`` and ``/healthz`` (:mod:`tui.metrics`);
``--textfile PATH`` writes the same metrics atomically after every poll for
node_exporter's textfile collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from tui import __version__
from tui.errors import EXIT_INTERNAL, EXIT_OK, FlashtopError, UsageError, one_line
from tui.logsetup import RedactingFilter, known_secrets, redact
from tui.metrics import MetricsServer, MonitorMetrics, is_loopback, write_textfile
from tui.monitor import Monitor, PollUpdate
from tui.poller import ConnState, PollStatus
from tui.rules import Event
from tui.settings import Settings
from tui.tokens import AuthSession

LOGGER = "flashtop.daemon"
LOG_FORMATS = ("text", "json")
#: Fields of a log line that are free text (made one line and redacted).
_TEXT_LIMIT = 300

log = logging.getLogger(LOGGER)


# ---------------------------------------------------------------------------- logging


def safe_url(url: str) -> str:
    """A URL fit for a log line: no user, password, query or fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _clean(value: object) -> object:
    if isinstance(value, str):
        return one_line(redact(value, known_secrets()), _TEXT_LIMIT)
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, event, msg and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields: Mapping[str, object] = getattr(record, "fields", {})
        line: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": getattr(record, "event", record.name),
            "msg": _clean(record.getMessage()),
        }
        for key, value in fields.items():
            line.setdefault(key, _clean(value))
        return json.dumps(line, ensure_ascii=True, default=str)


class TextFormatter(logging.Formatter):
    """``2026-01-02T03:04:05Z info poll_failed: message key=value ...``: one line."""

    def format(self, record: logging.LogRecord) -> str:
        fields: Mapping[str, object] = getattr(record, "fields", {})
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        event = getattr(record, "event", record.name)
        text = f"{ts} {record.levelname.lower()} {event}: {_clean(record.getMessage())}"
        extra = " ".join(
            f"{k}={json.dumps(_clean(v), ensure_ascii=True)}" for k, v in fields.items()
        )
        return f"{text} {extra}" if extra else text


def setup_logging(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """Log the daemon's events (INFO and up) and any warning of the core modules to
    ``stream`` (stderr), redacted, in ``log_format``; return the handler."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RedactingFilter(known_secrets))
    handler.setLevel(logging.INFO)
    daemon_log = logging.getLogger(LOGGER)
    daemon_log.setLevel(logging.INFO)
    daemon_log.addHandler(handler)
    # The core's own warnings (tui.*): redacted on stderr rather than through
    # logging's bare last-resort handler.
    core = logging.getLogger("tui")
    core.addHandler(handler)
    core.propagate = False
    return handler


def emit(level: int, event: str, message: str, **fields: object) -> None:
    """Log one event line with structured fields."""
    log.log(level, message, extra={"event": event, "fields": fields})


# ---------------------------------------------------------------------------- the daemon


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    """What ``flashtop daemon`` was asked to serve."""

    #: (host, port) of the metrics endpoint, or None.
    metrics: tuple[str, int] | None = None
    #: node_exporter textfile to write after each poll, or None.
    textfile: Path | None = None


#: Settings (again) for a reload: reads the config file; raises FlashtopError.
SettingsLoader = Callable[[], Settings]
#: The session for settings: loads credentials; raises FlashtopError.
SessionLoader = Callable[[Settings], AuthSession]


class Daemon:
    """Runs a Monitor headless until stopped, serving metrics; reloads on request.

    ``load_settings`` and ``load_session`` are called again on every reload (SIGHUP
    or :meth:`reload`), off the event loop.
    """

    def __init__(
        self,
        settings: Settings,
        session: AuthSession,
        options: DaemonOptions,
        *,
        load_settings: SettingsLoader,
        load_session: SessionLoader,
    ) -> None:
        self.settings = settings
        self.session = session
        self.options = options
        self._load_settings = load_settings
        self._load_session = load_session
        self.metrics = MonitorMetrics(settings.profile, settings.interval)
        self.server: MetricsServer | None = None
        self.monitor: Monitor | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()
        self._stop_reason = "stop"
        self._notes: list[str] = []
        self._polls = 0
        #: The last poll failed (the next success is a recovery worth a line).
        self._failing = False
        self._textfile_lock = asyncio.Lock()
        self._textfile_error: str | None = None
        #: Textfile writes started from a status change (kept until done).
        self._background: set[asyncio.Future[None]] = set()

    # ------------------------------------------------------------------ control

    def stop(self, reason: str = "stop") -> None:
        """Stop at the next chance (signal-safe: called on the event loop)."""
        self._stop_reason = reason
        self._stop.set()

    def reload(self) -> None:
        """Read the config again at the next chance."""
        self._reload.set()

    # ------------------------------------------------------------------ running

    def _build(self, settings: Settings, session: AuthSession) -> Monitor:
        """A Monitor for ``settings`` wired to the metrics and the log (not started)."""
        monitor = Monitor(settings, session, keep_history=True)
        monitor.on_update = self._on_update
        monitor.on_status = self._on_status
        monitor.on_events = self._on_events
        monitor.on_poll = self.metrics.record_fetch
        return monitor

    def _start(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.metrics.interval = monitor.poller.interval
        self.metrics.record_alerts(monitor.rules)
        self._task = asyncio.ensure_future(monitor.run())

    async def _stop_monitor(self) -> None:
        monitor, task = self.monitor, self._task
        self.monitor, self._task = None, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if monitor is not None:
            await monitor.aclose()  # flushes the history file

    async def run(self, *, install_signals: bool = True) -> int:
        """Run until stopped; the exit status."""
        loop = asyncio.get_running_loop()
        if install_signals:
            loop.add_signal_handler(signal.SIGTERM, self.stop, "SIGTERM")
            loop.add_signal_handler(signal.SIGINT, self.stop, "SIGINT")
            loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            if self.options.metrics is not None:
                host, port = self.options.metrics
                try:
                    self.server = MetricsServer(self.metrics, host, port).start()
                except OSError as exc:
                    raise UsageError(
                        f"--metrics {host}:{port}: cannot listen there "
                        f"({exc.strerror or type(exc).__name__})"
                    ) from None
            self._start(self._build(self.settings, self.session))
            self._log_start()
            return await self._loop()
        finally:
            await self._stop_monitor()
            if self.server is not None:
                await asyncio.to_thread(self.server.stop)
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    loop.remove_signal_handler(sig)

    async def _loop(self) -> int:
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                reload = asyncio.ensure_future(self._reload.wait())
                assert self._task is not None
                done, _ = await asyncio.wait(
                    {stop, reload, self._task}, return_when=asyncio.FIRST_COMPLETED
                )
                if stop in done:
                    reload.cancel()
                    emit(logging.INFO, "stop", f"stopping ({self._stop_reason})")
                    await self._stop_monitor()
                    # A textfile outlives the daemon: node_exporter would go on
                    # reporting flashtop_up 1 from it. Its last word is "down".
                    self.metrics.record_stopped()
                    await self._write_textfile()
                    emit(logging.INFO, "stopped", "history flushed; bye", polls=self._polls)
                    return EXIT_OK
                if reload in done:
                    self._reload.clear()
                    await self._do_reload()
                    continue
                reload.cancel()
                # The monitor's loop ended by itself: a bug (it polls until cancelled).
                task = self._task
                exc = task.exception() if not task.cancelled() else None
                emit(
                    logging.ERROR,
                    "crashed",
                    f"the monitor stopped unexpectedly ({type(exc).__name__ if exc else 'ended'})",
                )
                return EXIT_INTERNAL
        finally:
            stop.cancel()

    async def _do_reload(self) -> None:
        """SIGHUP: resolve the settings and credentials again and replace the Monitor.
        Anything wrong (a bad config, a missing price, no keyring) keeps the old one."""
        emit(logging.INFO, "reload", "reading the configuration again")
        try:
            settings = await asyncio.to_thread(self._load_settings)
            session = await asyncio.to_thread(self._load_session, settings)
            monitor = self._build(settings, session)
        except FlashtopError as exc:
            emit(
                logging.ERROR,
                "reload_failed",
                f"configuration not reloaded, the running one is kept: {exc.message}",
            )
            return
        except Exception as exc:  # never let a reload end the daemon
            emit(
                logging.ERROR,
                "reload_failed",
                f"configuration not reloaded ({type(exc).__name__}), the running one is kept",
            )
            return
        await self._stop_monitor()
        self.settings, self.session = settings, session
        self.metrics.profile = settings.profile
        self._start(monitor)
        emit(
            logging.INFO,
            "reloaded",
            "configuration reloaded",
            profile=settings.profile,
            base_url=safe_url(settings.base_url),
            interval=monitor.poller.interval,
            rules=len(settings.rules),
        )

    def _log_start(self) -> None:
        settings = self.settings
        fields: dict[str, Any] = {
            "version": __version__,
            "profile": settings.profile,
            "base_url": safe_url(settings.base_url),
            "interval": settings.interval,
            "rules": len(settings.rules),
        }
        if self.server is not None:
            fields["metrics"] = self.server.url + "/metrics"
        if self.options.textfile is not None:
            fields["textfile"] = str(self.options.textfile)
        emit(logging.INFO, "start", "flashtop daemon started", **fields)
        if self.server is not None and not is_loopback(self.server.address[0]):
            emit(
                logging.WARNING,
                "unauthenticated_endpoint",
                f"the metrics endpoint {self.server.url} is reachable from other machines "
                "and has no authentication: anyone who can reach it can read the usage "
                "figures (bind 127.0.0.1, or put it behind a firewall or a proxy with auth)",
            )

    # ------------------------------------------------------------------ callbacks

    async def _on_update(self, update: PollUpdate) -> None:
        monitor = self.monitor
        if monitor is None:
            return
        self.metrics.record_poll(update, monitor)
        self.metrics.record_alerts(monitor.rules)
        self._polls += 1
        if self._polls == 1:
            emit(
                logging.INFO,
                "first_poll",
                "first poll recorded",
                configurations=len(update.page.stats),
            )
        self._log_events(update.events)
        self._log_notes(update.notes)
        await self._write_textfile()

    def _on_status(self, status: PollStatus) -> None:
        self.metrics.record_status(status)
        if status.in_flight:
            return
        if status.state is ConnState.RETRYING:
            emit(
                logging.WARNING,
                "poll_failed",
                f"poll failed: {status.last_error}",
                failures=status.failures,
                retry_in=round(max(0.0, (status.retry_at or 0) - time.monotonic()), 1),
            )
            self._textfile_soon()
        elif status.state is ConnState.LOGIN_NEEDED:
            emit(
                logging.ERROR,
                "login_needed",
                f"{status.last_error or 'login needed'} ("
                + (
                    "set a new FLASHBACK_TOKEN and restart"
                    if os.environ.get("FLASHBACK_TOKEN")
                    else "run `flashtop login`, then SIGHUP"
                )
                + ")",
            )
            self._textfile_soon()
        elif status.state is ConnState.LIVE and self._failing:
            emit(logging.INFO, "poll_recovered", "polls succeed again")
        self._failing = status.state in (ConnState.RETRYING, ConnState.LOGIN_NEEDED)

    def _on_events(self, events: list[Event]) -> None:
        if self.monitor is not None:
            self.metrics.record_alerts(self.monitor.rules)
        self._log_events(events)

    def _log_events(self, events: list[Event]) -> None:
        for e in events:
            emit(
                logging.WARNING if e.state == "firing" else logging.INFO,
                f"rule_{e.state}",
                f"rule '{e.rule}' {e.state} for {e.entity_name or 'all'}",
                rule=e.rule,
                entity=e.entity,
                entity_name=e.entity_name,
                metric=e.metric,
                value=e.value,
                threshold=e.threshold,
                muted=e.muted,
            )

    def _log_notes(self, notes: list[str]) -> None:
        if notes == self._notes:
            return
        for note in notes:
            if note not in self._notes:
                emit(logging.WARNING, "problem", note)
        if not notes:
            emit(logging.INFO, "problem_cleared", "no more problems")
        self._notes = list(notes)

    # ------------------------------------------------------------------ textfile

    def _textfile_soon(self) -> None:
        if self.options.textfile is not None:
            task = asyncio.ensure_future(self._write_textfile())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _write_textfile(self) -> None:
        path = self.options.textfile
        if path is None:
            return
        async with self._textfile_lock:
            data, _ = self.metrics.render(None)  # the text format
            try:
                await asyncio.to_thread(write_textfile, path, data)
            except OSError as exc:
                problem = f"textfile {path} not written: {exc.strerror or type(exc).__name__}"
                if problem != self._textfile_error:
                    emit(logging.ERROR, "textfile_failed", problem)
                self._textfile_error = problem
                return
            if self._textfile_error is not None:
                emit(logging.INFO, "textfile_ok", f"textfile {path} written again")
                self._textfile_error = None


# ---------------------------------------------------------------------------- the command


def daemon_command(
    settings: Settings,
    env: Mapping[str, str],
    *,
    metrics: str | None,
    textfile: str | None,
    log_format: str,
    reload_settings: SettingsLoader,
    demo_session: AuthSession | None = None,
    rebase: Callable[[Settings], Settings] | None = None,
) -> int:
    """``flashtop daemon``: log setup, credentials, then :class:`Daemon` until a signal.

    ``demo_session``: the demo backend's session (used on reloads too); ``rebase``
    points reloaded settings at the running demo backend."""
    from tui.credentials import load_credentials
    from tui.metrics import parse_listen

    setup_logging(log_format)
    listen = parse_listen(metrics) if metrics is not None else None
    target = Path(textfile) if textfile else None
    if target is not None and not target.parent.is_dir():
        raise UsageError(f"--textfile: directory {target.parent} does not exist")
    if target is not None and (target.is_dir() or not os.access(target.parent, os.W_OK)):
        raise UsageError(f"--textfile: cannot write {target} (a directory, or no permission)")

    def load_session(s: Settings) -> AuthSession:
        if demo_session is not None:
            return demo_session
        creds = load_credentials(s, env, warn=lambda m: emit(logging.WARNING, "credentials", m))
        return creds.session

    def load_settings() -> Settings:
        fresh = reload_settings()
        return rebase(fresh) if rebase is not None else fresh

    session = load_session(settings)
    daemon = Daemon(
        settings,
        session,
        DaemonOptions(metrics=listen, textfile=target),
        load_settings=load_settings,
        load_session=load_session,
    )
    return asyncio.run(daemon.run())


def rebase_on_demo(backend_settings: Settings) -> Callable[[Settings], Settings]:
    """For reloads under ``--demo``: point fresh settings at the running demo backend
    (its base URL and profile), keeping the demo's prices and budgets when the
    config names none."""

    def rebase(fresh: Settings) -> Settings:
        out = replace(
            fresh,
            base_url=backend_settings.base_url,
            demo=True,
            profile=backend_settings.profile,
            ca_bundle=None,
        )
        if not out.models:
            out = replace(out, models=backend_settings.models, prices=backend_settings.prices)
        if not out.budgets:
            out = replace(out, budgets=backend_settings.budgets)
        return out

    return rebase
