"""Telling people about alert events: message text, terminal desktop notifications, Apprise.

A rule's :class:`~tui.rules.Event` reaches people three ways, all built here without
any UI toolkit (the headless daemon uses the same code as the TUI):

* :func:`message` and :func:`payload`: the words and the JSON fields of a notification.
* :func:`desktop_sequence`: the OSC 777 / OSC 9 escape sequences a terminal turns into a
  desktop notification (wrapped for tmux passthrough), so an alert crosses SSH to the
  laptop. The caller writes them to its terminal; this module only builds them.
* :class:`Notifier`: delivery to Apprise URLs (Slack, ntfy, e-mail, ``json://`` webhooks
  and 100+ more) on background threads, with retries and backoff, never blocking and
  never raising into the poll loop.

Apprise URLs hold secrets (webhook tokens, passwords). They are only ever shown as
:func:`redact` makes them (``slack://…``), and every log record Apprise or the HTTP
stack below it writes is scrubbed of them before any handler sees it.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import re
import shlex
import stat
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tui.errors import one_line
from tui.fmt import age, compact, safe_text
from tui.logsetup import redact as redact_tokens
from tui.rules import LOCAL_CHANNELS, Event, Rule

log = logging.getLogger("flashtop.notify")

# --------------------------------------------------------------------------- messages

#: How each metric is named in a notification, and the unit its figures carry.
_METRIC_LABELS: dict[str, str] = {
    "calls_per_minute": "calls per minute",
    "tokens_per_minute": "tokens per minute",
    "cost_per_hour": "cost per hour",
    "violations": "violations",
    "alerts": "alerts",
    "blocks": "blocks",
    "budget_percent": "budget used",
    "no_data": "no data for",
}
_STATE_WORDS: dict[str, str] = {
    "firing": "firing",
    "resolved": "resolved",
    "repeat": "still firing",
}
#: Apprise's notification types (colours and icons in Slack, Discord, ...).
_NOTIFY_TYPES: dict[str, str] = {
    "firing": "failure",
    "repeat": "warning",
    "resolved": "success",
}


def _number(value: float) -> str:
    """A figure people read at a glance: ``3``, ``0.25``, ``12.5``, ``457``, ``1.2M``."""
    if not math.isfinite(value):
        return "?"
    size = abs(value)
    if size >= 999.5:
        return compact(value)
    if value == int(value):
        return str(int(value))
    if size >= 100:
        return f"{value:.0f}"
    if size >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".") if size < 10 else f"{value:.1f}"
    return f"{value:.2g}"


def format_value(metric: str, value: float) -> str:
    """One figure of ``metric`` with its unit: ``$1.25``, ``91%``, ``12.3k``, ``5 min``."""
    if metric == "cost_per_hour":
        return ("-$" if value < 0 else "$") + _number(abs(value))
    if metric == "budget_percent":
        return f"{_number(value)}%"
    if metric == "no_data":
        return age(value) if math.isfinite(value) else "?"
    return _number(value)


def _entity_label(event: Event) -> str:
    """``prod-gpt (llm-123)``: the name people know, then the id that is unique."""
    name = safe_text(event.entity_name) if event.entity_name else ""
    if event.entity.startswith("budget:"):
        return f"budget {name}"
    ident = safe_text(event.entity, 48) if event.entity else ""
    if name and ident and ident != name:
        return f"{name} ({ident})"
    return name or ident or "all matching"


def message(event: Event) -> tuple[str, str]:
    """The title and body of a notification, for people (sanitized, one line each).

    Names come from the server and from the configuration file; they pass through
    :func:`tui.fmt.safe_text` so that no escape sequence or control character reaches
    a terminal or a chat client's preview.
    """
    rule = safe_text(event.rule) or "rule"
    state = _STATE_WORDS.get(event.state, safe_text(event.state, 16))
    title = f"flashtop: {rule} {state}"
    label = _METRIC_LABELS.get(event.metric, safe_text(event.metric, 32))
    value = format_value(event.metric, event.value)
    threshold = format_value(event.metric, event.threshold)
    if event.metric == "no_data":
        what = "data again" if event.state == "resolved" else f"no data for {value}"
    elif event.state == "resolved":
        what = f"{label} {value}, no longer above {threshold}"
    else:
        what = f"{label} {value}, above {threshold}"
    return title, f"{_entity_label(event)}: {what}"


def _json_number(value: float) -> float | int | None:
    """A number JSON can carry (NaN and infinities are not JSON): whole ones as ints."""
    if not math.isfinite(value):
        return None
    return int(value) if value == int(value) and abs(value) < 2**53 else value


def payload(event: Event) -> dict[str, Any]:
    """The machine-readable fields of a notification (what ``json://`` posts).

    Names are kept exact: JSON escapes what it must, and a receiver may need the
    name byte for byte to match it. The keys avoid Apprise's own JSON keys
    (``version``, ``title``, ``message``, ``attachments``, ``type``), which Apprise
    would read as renames rather than additions.
    """
    return {
        "source": "flashtop",
        "rule": event.rule,
        "state": event.state,
        "configuration": {"name": event.entity_name, "id": event.entity or None},
        "metric": event.metric,
        "value": _json_number(event.value),
        "threshold": _json_number(event.threshold),
        "value_text": format_value(event.metric, event.value),
        "threshold_text": format_value(event.metric, event.threshold),
        "at": event.at,
        "time": datetime.fromtimestamp(event.at, UTC).isoformat(timespec="seconds")
        if math.isfinite(event.at)
        else None,
    }


# ------------------------------------------------------------------ desktop (OSC 777/9)

#: Caps on what a desktop notification shows (notification popups cut long text anyway,
#: and tmux limits how long a passthrough sequence may be).
DESKTOP_TITLE_LIMIT = 64
DESKTOP_BODY_LIMIT = 180

ESC = "\x1b"
BEL = "\x07"


def _osc_text(text: str, limit: int) -> str:
    """Text safe inside an OSC string: no escape, control or bidi characters, no ``;``.

    A control character (BEL, ESC, C1 ST) would end the sequence early and let the
    rest run as terminal commands; ``;`` separates OSC 777's fields, and in OSC 9 a
    leading ``4;`` would be a ConEmu/Windows Terminal progress-bar command.
    """
    return one_line(text, limit).replace(";", ",")


def desktop_sequence(title: str, body: str, *, tmux: bool, osc: Iterable[int] = (777, 9)) -> str:
    """The escape sequences that make a terminal raise a desktop notification.

    OSC 777 (``ESC ] 777 ; notify ; title ; body BEL``: urxvt, foot, Ghostty, WezTerm,
    VTE) and OSC 9 (``ESC ] 9 ; text BEL``: iTerm2, Windows Terminal, kitty, WezTerm);
    a terminal ignores the ones it does not know, though one that knows both shows
    both (``osc`` picks). Inside tmux each sequence is wrapped for passthrough
    (``ESC P tmux; ... ESC \\`` with every ESC doubled), which tmux forwards only with
    ``set -g allow-passthrough on``.
    """
    t = _osc_text(title, DESKTOP_TITLE_LIMIT)
    b = _osc_text(body, DESKTOP_BODY_LIMIT)
    sequences: list[str] = []
    for kind in osc:
        if kind == 777:
            sequences.append(f"{ESC}]777;notify;{t};{b}{BEL}")
        elif kind == 9:
            text = f"{t}: {b}" if t and b else t or b
            sequences.append(f"{ESC}]9;{text}{BEL}")
        else:
            raise ValueError(f"unknown OSC notification kind {kind!r}")
    if tmux:
        sequences = [f"{ESC}Ptmux;{s.replace(ESC, ESC + ESC)}{ESC}\\" for s in sequences]
    return "".join(sequences)


def in_tmux(env: Mapping[str, str] | None = None) -> bool:
    """True inside tmux (``$TMUX`` set): desktop sequences then need passthrough wrapping."""
    environ = os.environ if env is None else env
    return bool(environ.get("TMUX"))


# ------------------------------------------------------------------------------ secrets

_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]{0,31})://")


def redact(url: str) -> str:
    """An Apprise URL as it may be shown anywhere: its scheme only (``slack://…``)."""
    match = _SCHEME.match(url)
    return f"{match.group(1).lower()}://…" if match else "…"


def apprise_urls(channels: Iterable[str]) -> tuple[str, ...]:
    """The entries of a rule's ``notify`` that are Apprise URLs (not toast, bell, desktop)."""
    return tuple(
        dict.fromkeys(
            c for c in channels if isinstance(c, str) and c.strip() and c not in LOCAL_CHANNELS
        )
    )


def config_warning(path: str | os.PathLike[str], rules: Iterable[Rule]) -> str | None:
    """One line when ``path`` holds Apprise URLs (secrets) and others may open it.

    Webhook tokens in a file that group or others can read are as good as posted;
    the warning names the fix. Nothing to say without URLs, for a file that cannot
    be examined, or on Windows (whose mode bits mean nothing here).
    """
    if os.name == "nt" or not any(apprise_urls(rule.notify) for rule in rules):
        return None
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    if not mode & 0o077:
        return None
    shown = one_line(os.fspath(path), 160)
    return (
        f"{shown} holds notification URLs (secrets) and is open to group/others "
        f"(mode {mode:04o}): run chmod 600 {shlex.quote(shown)}"
    )


#: A URL anywhere in a log message: shown as its scheme only.
_URL_IN_TEXT = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]{0,31})://[^\s'\"<>]*")
#: The request line urllib3 logs (``"POST /hooks/T0K3N HTTP/1.1" 200``): path hidden.
_REQUEST_LINE = re.compile(r"\b([A-Z]{3,7}) /\S* (HTTP/\d)")


def _fragments(url: str) -> set[str]:
    """The parts of ``url`` that may be secret, as they could appear in a log line.

    Every user, password, host, path segment and query value of four characters and
    more, raw, percent-decoded and percent-encoded: Apprise's plugins log tokens in
    all three forms.
    """
    found = {url, url.strip()}
    rest = url.split("://", 1)[-1]
    for part in re.split(r"[/?&=@:#,;\s]+", rest):
        for form in (part, urllib.parse.unquote(part), urllib.parse.quote(part, safe="")):
            if len(form) >= 4:
                found.add(form)
    return found


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without URLs, request paths, tokens or any of ``secrets``."""
    text = _URL_IN_TEXT.sub(lambda m: f"{m.group(1)}://…", text)
    text = _REQUEST_LINE.sub(r"\1 /… \2", text)
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, "***")
    return redact_tokens(text)


class _SecretLogFilter(logging.Filter):
    """Rewrites every record of Apprise and its HTTP stack so that no URL part survives.

    Attached to the loggers themselves (not to a handler), it runs before any handler
    anywhere (a user's, pytest's, flashtop's debug log) sees the record.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()

    def add(self, url: str) -> None:
        with self._lock:
            self._secrets = self._secrets | _fragments(url)

    def scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string must not leak its raw arguments
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f" [{type(exc).__name__}: {exc}]"
        record.msg = self.scrub(text)
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


_FILTER = _SecretLogFilter()
#: Loggers (and their children) that may see notification URLs.
_GUARDED = ("apprise", "urllib3", "requests", "requests_oauthlib", "oauthlib", "charset_normalizer")
_guard_lock = threading.Lock()
_guarded_count = -1


def _guard_loggers() -> None:
    """Put the scrubbing filter on every logger of Apprise and its HTTP stack.

    Filters on a logger do not apply to records of its children, so each existing
    child gets its own; called again whenever new loggers have appeared.
    """
    global _guarded_count
    manager = logging.Logger.manager
    with _guard_lock:
        if len(manager.loggerDict) == _guarded_count:
            return
        for name, logger in list(manager.loggerDict.items()):
            if not isinstance(logger, logging.Logger):
                continue
            guarded = any(name == p or name.startswith(p + ".") for p in _GUARDED)
            if guarded and _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        _guarded_count = len(manager.loggerDict)


class _ReasonHandler(logging.Handler):
    """Keeps the last warning Apprise logged on each delivery thread: why it failed.

    Apprise's ``notify`` only answers True or False; the reason (``Internal Server
    Error, error=500``) is in its log. Records arrive already scrubbed.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: dict[int, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread is not None:
            self.last[record.thread] = one_line(record.getMessage(), 160)


_REASONS = _ReasonHandler()
_apprise_lock = threading.Lock()
_apprise: Any = None
#: Seconds the first ``import apprise`` took (None until then).
import_seconds: float | None = None


def _load_apprise() -> Any:
    """Import Apprise once, on a delivery thread (it takes ~0.1 s), with logs guarded."""
    global _apprise, import_seconds
    with _apprise_lock:
        if _apprise is None:
            started = time.perf_counter()
            # Guard first what already exists, then what the import brings.
            _guard_loggers()
            module = importlib.import_module("apprise")
            _guard_loggers()
            apprise_logger = logging.getLogger("apprise")
            if _REASONS not in apprise_logger.handlers:
                apprise_logger.addHandler(_REASONS)
            import_seconds = time.perf_counter() - started
            _apprise = module
            log.debug("apprise imported in %.0f ms", import_seconds * 1000)
        return _apprise


# ----------------------------------------------------------------------------- delivery


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """How delivery to one URL goes, for the alerts screen (the URL shown redacted)."""

    url: str
    pending: int
    delivered: int
    #: Failed attempts since the last success.
    failures: int
    #: Events given up since the last success.
    given_up: int
    #: Events dropped (queue full) since the last success.
    dropped: int
    #: Seconds until the next retry, while one is waiting.
    retry_in: float | None
    last_error: str | None
    last_ok: float | None


class _Job:
    __slots__ = ("attempts", "event")

    def __init__(self, event: Event) -> None:
        self.event = event
        self.attempts = 0


class _Target:
    """One Apprise URL: its queue, its worker thread and its health."""

    def __init__(self, url: str, number: int) -> None:
        self.url = url
        self.label = redact(url)
        self.number = number
        self.queue: deque[_Job] = deque()
        self.current: _Job | None = None
        self.plugin: Any = None
        #: The URL's own ``:key=value`` payload extras (json://), kept to merge ours into.
        self.extras: dict[str, Any] | None = None
        self.thread: threading.Thread | None = None
        self.delivered = 0
        self.failures = 0
        self.given_up = 0
        self.dropped = 0
        self.retry_at: float | None = None
        self.last_error: str | None = None
        self.last_ok: float | None = None

    def __repr__(self) -> str:
        return f"<_Target {self.label} pending={len(self.queue)}>"


class Notifier:
    """Delivers alert events to Apprise URLs on background threads; never blocks, never raises.

    Each URL has its own queue and daemon thread, so a URL that hangs or fails does
    not hold back the others, and events reach each URL in the order they were sent
    (a "resolved" never overtakes its "firing"). A failed delivery is retried after
    ``backoff``, doubling up to ``backoff_cap`` seconds, ``attempts`` times in all;
    then it is given up and counted in :attr:`failed`. While a URL is down its queue
    holds at most ``max_pending`` events, the oldest dropped first and counted in
    :attr:`dropped`, so a long outage costs bounded memory. :attr:`problem` says what
    is wrong in one line for the status bar; URLs appear only as :func:`redact` makes
    them.
    """

    def __init__(
        self,
        *,
        attempts: int = 6,
        backoff: float = 1.0,
        backoff_cap: float = 60.0,
        max_pending: int = 100,
        max_urls: int = 32,
    ) -> None:
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.max_pending = max(1, max_pending)
        self.max_urls = max_urls
        #: Deliveries (one event to one URL) that succeeded.
        self.delivered = 0
        #: Deliveries given up after every attempt failed (or for an invalid URL).
        self.failed = 0
        #: Deliveries dropped unattempted: queue full, too many URLs, or left at close.
        self.dropped = 0
        #: Failed attempts that were retried.
        self.retries = 0
        self._targets: dict[str, _Target] = {}
        self._overflow = 0
        self._fatal: str | None = None
        self._cond = threading.Condition()
        self._closing = False
        self._abandon = False

    def __repr__(self) -> str:
        return (
            f"<Notifier urls={len(self._targets)} pending={self.pending} "
            f"delivered={self.delivered} failed={self.failed} dropped={self.dropped}>"
        )

    # ---------------------------------------------------------------- caller side

    def send(self, event: Event, urls: Iterable[str] | None = None) -> None:
        """Queue ``event`` for each Apprise URL in ``urls`` (default: ``event.notify``).

        Returns at once: no I/O, no import, no waiting on a delivery in progress.
        Local channels (toast, bell, desktop) are skipped; they are the caller's. So
        is an event of a muted rule (logged and shown, never sent).
        """
        try:
            if event.muted:
                return
            chosen = apprise_urls(event.notify if urls is None else urls)
            if not chosen:
                return
            with self._cond:
                if self._closing:
                    return
                for url in chosen:
                    target = self._targets.get(url) or self._add_target(url)
                    if target is None:
                        self.dropped += 1
                        self._overflow += 1
                        continue
                    if len(target.queue) >= self.max_pending:
                        target.queue.popleft()
                        target.dropped += 1
                        self.dropped += 1
                    target.queue.append(_Job(event))
                self._cond.notify_all()
        except Exception as exc:  # never into the poll loop
            log.debug("notification not queued: %s", type(exc).__name__)

    def prepare(self, urls: Iterable[str]) -> None:
        """Start the threads for ``urls`` now (say, when a profile is loaded).

        Optional: :meth:`send` starts a URL's thread on first use (a fraction of a
        millisecond); preparing moves that out of the poll. Apprise itself is still
        imported only when a first event is waiting.
        """
        with self._cond:
            for url in apprise_urls(urls):
                if url not in self._targets:
                    self._add_target(url)

    def _add_target(self, url: str) -> _Target | None:
        """A new URL's queue and thread (called with the lock held); None past the cap."""
        if len(self._targets) >= self.max_urls:
            return None
        # Known before anything can log it.
        _FILTER.add(url)
        target = _Target(url, len(self._targets) + 1)
        self._targets[url] = target
        target.thread = threading.Thread(
            target=self._run,
            args=(target,),
            name=f"flashtop-notify-{target.number}",
            daemon=True,
        )
        target.thread.start()
        return target

    @property
    def pending(self) -> int:
        """Deliveries queued or in progress."""
        return sum(len(t.queue) + (t.current is not None) for t in list(self._targets.values()))

    @property
    def problem(self) -> str | None:
        """One line for the status bar while deliveries fail or were lost; None when fine."""
        with self._cond:
            parts: list[str] = []
            if self._fatal:
                parts.append(self._fatal)
            troubled = [t for t in self._targets.values() if t.failures or t.given_up]
            if troubled:
                worst = max(troubled, key=lambda t: (t.given_up, t.failures))
                if worst.current is not None and worst.failures:
                    n = worst.failures
                    text = f"{n} failed {'delivery' if n == 1 else 'deliveries'} to {worst.label}"
                    parts.append(f"{text}, retrying")
                else:
                    n = worst.given_up
                    parts.append(f"{n} undelivered to {worst.label} (gave up)")
                if len(troubled) > 1:
                    parts.append(f"{len(troubled) - 1} more URLs failing")
            lost = sum(t.dropped for t in self._targets.values()) + self._overflow
            if lost:
                parts.append(f"{lost} dropped (queue full)")
        if not parts:
            return None
        return one_line("notifications: " + ", ".join(parts), 160)

    def status(self) -> list[TargetStatus]:
        """Each URL's delivery health (redacted), in the order the URLs were first used."""
        now = time.monotonic()
        with self._cond:
            return [
                TargetStatus(
                    url=t.label,
                    pending=len(t.queue) + (t.current is not None),
                    delivered=t.delivered,
                    failures=t.failures,
                    given_up=t.given_up,
                    dropped=t.dropped,
                    retry_in=max(0.0, t.retry_at - now) if t.retry_at is not None else None,
                    last_error=t.last_error,
                    last_ok=t.last_ok,
                )
                for t in self._targets.values()
            ]

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery is done (delivered or given up)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(t.queue or t.current is not None for t in self._targets.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Stop taking events; try each queued one once more (no backoff) for ``timeout``.

        Returns True when everything was delivered or given up in time. What is left
        after that is dropped (counted); the daemon threads end with the process.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            threads = [t.thread for t in self._targets.values() if t.thread is not None]
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        done = not any(thread.is_alive() for thread in threads)
        if not done:
            with self._cond:
                self._abandon = True
                for target in self._targets.values():
                    self.dropped += len(target.queue)
                    target.queue.clear()
                self._cond.notify_all()
        return done

    # ---------------------------------------------------------------- worker side

    def _run(self, target: _Target) -> None:
        """One URL's thread: deliver its queue in order, retrying with backoff.

        Apprise is imported here, when the first event is waiting, not when the
        thread starts: a notifier that never fires never pays for the import.
        """
        apprise: Any = None
        while True:
            with self._cond:
                while not target.queue and not self._closing:
                    self._cond.wait()
                if not target.queue or self._abandon:
                    return
                job = target.current = target.queue.popleft()
            if apprise is None:
                try:
                    apprise = _load_apprise()
                except Exception as exc:  # ImportError, or a broken install
                    with self._cond:
                        self._fatal = f"apprise unavailable ({type(exc).__name__})"
                        lost = 1 + len(target.queue)
                        self.failed += lost
                        target.given_up += lost
                        target.queue.clear()
                        target.current = None
                        self._cond.notify_all()
                    return
            self._deliver(apprise, target, job)
            with self._cond:
                target.current = None
                self._cond.notify_all()

    def _deliver(self, apprise: Any, target: _Target, job: _Job) -> None:
        """Attempt ``job`` until it is delivered, given up, or the notifier is abandoned."""
        while True:
            ok, permanent, reason = self._attempt(apprise, target, job.event)
            job.attempts += 1
            with self._cond:
                if ok:
                    self.delivered += 1
                    target.delivered += 1
                    target.failures = target.given_up = target.dropped = 0
                    target.last_error = None
                    target.last_ok = time.time()
                    return
                target.failures += 1
                target.last_error = reason
                if permanent or job.attempts >= self.attempts or self._closing:
                    self.failed += 1
                    target.given_up += 1
                    log.debug(
                        "gave up on %s after %d attempts: %s", target.label, job.attempts, reason
                    )
                    return
                self.retries += 1
                delay = min(self.backoff_cap, self.backoff * 2 ** (job.attempts - 1))
                target.retry_at = time.monotonic() + delay
                log.debug(
                    "delivery to %s failed (%s); retry in %.1f s", target.label, reason, delay
                )
                self._cond.notify_all()
                self._cond.wait_for(lambda: self._closing, delay)
                target.retry_at = None
                if self._abandon:
                    self.dropped += 1
                    return

    def _attempt(self, apprise: Any, target: _Target, event: Event) -> tuple[bool, bool, str]:
        """One delivery: (delivered, not worth retrying, why not). Never raises."""
        ident = threading.get_ident()
        try:
            _guard_loggers()
            if target.plugin is None:
                asset = apprise.AppriseAsset(storage_mode="memory")
                plugin = apprise.Apprise.instantiate(target.url, asset=asset)
                if plugin is None:
                    return False, True, "not a valid Apprise URL (or its plugin is unavailable)"
                target.plugin = plugin
                _guard_loggers()  # loading the plugins imported the HTTP stack
                if target.label in ("json://…", "jsons://…"):
                    target.extras = dict(getattr(plugin, "payload_extras", None) or {})
            plugin = target.plugin
            if target.extras is not None:
                # json:// posts {version, title, message, attachments, type} plus its
                # "payload extras" (the URL's :key=value arguments); ours ride along,
                # the URL's own win.
                plugin.payload_extras = {**payload(event), **target.extras}
            title, body = message(event)
            _REASONS.last.pop(ident, None)
            started = time.perf_counter()
            ok = bool(
                plugin.notify(
                    body=body,
                    title=title,
                    notify_type=_NOTIFY_TYPES.get(event.state, "info"),
                    body_format=apprise.NotifyFormat.TEXT,
                )
            )
            log.debug(
                "%s %s event of %s to %s in %.0f ms",
                "delivered" if ok else "failed to deliver",
                safe_text(event.state, 16),
                safe_text(event.rule),
                target.label,
                (time.perf_counter() - started) * 1000,
            )
            if ok:
                return True, False, ""
            return False, False, _REASONS.last.pop(ident, None) or "not accepted"
        except Exception as exc:
            return False, False, one_line(f"{type(exc).__name__}: {_FILTER.scrub(str(exc))}", 160)
