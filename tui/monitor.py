"""The monitor core: one per profile, with no UI toolkit, behind every face.

A :class:`Monitor` owns what watching one Flashback account takes: the client and
its auth session, the history and its writer (the profile's SQLite file), the
configuration names and workspaces, and the alert watch. It polls
``/ai/llm/stats`` in one long-lived loop, and :meth:`Monitor.ingest` records a poll
and *returns* what it changed as a :class:`PollUpdate`: the faces (the TUI, a
daemon, a script) decide how to show it. Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from tui.aistats import AiStatsRow
from tui.alerts import Alert, reset_alerts
from tui.budgets import BudgetAlerts, BudgetEvaluator, BudgetStatus
from tui.client import FlashbackClient, client_for
from tui.costs import Costs
from tui.errors import ApiError, FlashtopError, NotFoundError, one_line
from tui.history import Changes, History, Sample
from tui.ledger import Ledger, load_baselines
from tui.models import LlmConfig, StatsPage
from tui.notify import Notifier
from tui.poller import MAX_INTERVAL, MIN_INTERVAL, ConnState, Poller, PollStatus
from tui.pricing import PriceBook, build_pricebook
from tui.rules import Event, HistoryMetrics, RuleEngine
from tui.rules_lock import RulesLock
from tui.settings import Settings
from tui.store import StoreWriter, start_history, store_path
from tui.toasts import toasts_for
from tui.tokens import AuthSession, TokenSet
from tui.view import config_name, token_rate
from tui.windowed import NOTE, WindowedPage, WindowedTotals

log = logging.getLogger(__name__)

#: Steps for making polls more or less frequent (seconds).
INTERVAL_STEPS = (1, 2, 3, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
#: How often configuration names are fetched again, and at most how often an
#: unknown id triggers a fetch.
NAMES_EVERY = 600.0
NAMES_MIN_GAP = 60.0
#: A poll with more configurations than this is recorded in parts of this size,
#: with a pause between (about 2 ms each), so a UI answers keys meanwhile.
POLL_PART = 1000
#: Budgets of organizations with more configurations than this are evaluated at most
#: every BUDGETS_EVERY seconds, not on every poll.
BUDGETS_EVERY_FROM = 1000
BUDGETS_EVERY = 15.0
#: Alert events kept in memory for the alerts screen (the file keeps 7 days).
ALERT_LOG = 1000
#: Seconds between rule evaluations while polls fail (for ``no_data``).
FAILURE_CHECK = 5.0
#: Delivery attempts per event and URL (about an hour with the backoff capped at 60 s).
NOTIFY_ATTEMPTS = 64
#: Seconds the notifications may take to go out when the monitor closes.
NOTIFY_CLOSE = 2.0
#: Seconds a one-time note (the history file reached its cap) stays in the status bar.
NOTICE_SECONDS = 60.0


def _close_opened(opening: asyncio.Future[StoreWriter]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        threading.Thread(target=opening.result().close, daemon=True).start()


def _cancelling() -> bool:
    """The current task is being cancelled (a fetch that ended this way is not told)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class TokenStore(Protocol):
    """Where a login's tokens are kept (tui.credentials' stores)."""

    def save(self, tokens: TokenSet) -> None: ...


@dataclass(frozen=True, slots=True)
class PollUpdate:
    """What one recorded poll changed, for a face to show."""

    page: StatsPage
    #: Wall-clock time of the poll (epoch seconds).
    at: float
    changes: Changes
    #: Token rate (tokens in + out per minute) by id, for this poll's configurations.
    rates: dict[str, float | None]
    #: Things worth telling someone (new events, thresholds crossed, resets).
    alerts: list[Alert] = field(default_factory=list)
    #: One-line notes for a status line (names or history problems); empty when fine.
    notes: list[str] = field(default_factory=list)
    #: Where each budget stands after this poll (empty without budgets).
    budgets: list[BudgetStatus] = field(default_factory=list)
    #: What the alert rules said after this poll (fired, resolved, reminders).
    events: list[Event] = field(default_factory=list)


Listener = Callable[[PollUpdate], Awaitable[None] | None]


class Monitor:
    """Everything that watches one profile, with no screen."""

    def __init__(
        self,
        settings: Settings,
        session: AuthSession,
        *,
        token_store: TokenStore | None = None,
        clock: Callable[[], float] = time.time,
        keep_history: bool = False,
        pricebook: PriceBook | None = None,
    ) -> None:
        self.settings = settings
        self.session = session
        #: Where a login from inside the monitor saves its tokens (None: not saved).
        self.token_store = token_store
        #: Wall clock for sample times and ages; tests pass a fake one.
        self.clock = clock
        self.client: FlashbackClient = client_for(settings, session)
        self.history = History()
        #: Per configuration, samples from before flashtop started, read from the
        #: server once (:meth:`load_server_past`), and what that read said.
        self.server_past: dict[str, tuple[Sample, ...]] = {}
        self.server_past_note = ""
        #: Keep history in the profile's SQLite file (load it at start, write each poll).
        self.keep_history = keep_history
        self.history_writer: StoreWriter | None = None
        #: A one-time note and until when it is shown.
        self._notice: tuple[str, float] | None = None
        self.names: dict[str, LlmConfig] = {}
        self.workspaces: dict[str, str] = {}
        self.names_error: str | None = None
        self._names_at = 0.0
        self._names_unknown_at = 0.0
        #: Where /ai/llm/stats answers 404: the last 24 h's totals from /aistats instead.
        self.window = WindowedTotals()
        #: What the configurations cost (raises ConfigError for a model without a price).
        if pricebook is None:
            pricebook = build_pricebook(
                settings.models, settings.prices, settings.config_path, settings.profile
            )
        #: LLM tokens since local midnight and the first of the month, per configuration.
        self.ledger = Ledger()
        self.costs = Costs(pricebook, lambda: self.history, lambda: self.names, self.ledger)
        self.budget_evaluator = BudgetEvaluator()
        #: Thresholds already told, per budget and period: kept in the data dir with
        #: the history (so a restart does not tell them again), else in memory.
        self.budget_alerts = BudgetAlerts(None)
        #: Where each budget stood at the last evaluation, and when that was.
        self.budgets: list[BudgetStatus] = []
        self._budgets_at = -math.inf
        #: The alert rules (tui/rules.py), what they read, where they are told, and the
        #: recent log (with the history file's last day of it at start).
        self.rules = RuleEngine(settings.rules)
        self.metrics = HistoryMetrics(
            self.history,
            configs=lambda: self.names,
            budgets=lambda: [(b.spec.label, b.percent) for b in self.budgets],
            cost_per_hour=self._cost_per_hour,
        )
        # Retried for about an hour (1, 2, 4 ... then every 60 s): a webhook that is
        # down for a while still gets its "firing" and "resolved".
        self.notifier = Notifier(attempts=NOTIFY_ATTEMPTS)
        self.alert_log: deque[Event] = deque(maxlen=ALERT_LOG)
        #: With the history file shared: only the holder of this lock logs rule events
        #: there and sends webhooks (a daemon and a TUI on one profile tell once).
        self.rules_lock: RulesLock | None = (
            RulesLock(store_path(settings.profile).with_suffix(".rules.lock"))
            if keep_history
            else None
        )
        #: Told of rule events raised outside a poll result (polls failing: no_data).
        self.on_events: Callable[[list[Event]], None] | None = None
        #: Told of each overview poll once recorded (the face shows it).
        self.on_update: Listener | None = None
        #: Told of each change of the overview poller's connection state.
        self.on_status: Callable[[PollStatus], None] | None = None
        #: Told after each overview fetch how many seconds its requests took and what it
        #: raised (None: it succeeded), for a face that reports poll health (the
        #: daemon's metrics). Never told of a fetch that was cancelled.
        self.on_poll: Callable[[float, Exception | None], None] | None = None
        self.poller: Poller[StatsPage] = Poller(
            self._timed_overview,
            interval=settings.interval,
            on_result=self._overview_result,
            on_status=self._status,
            clock=clock,
        )

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Load the history (when kept), then poll until cancelled; meanwhile watch
        for polls failing long enough to fire a ``no_data`` rule."""
        if self.keep_history:
            await self.attach_history()
        watch = asyncio.ensure_future(self._watch_failures())
        try:
            await self.poller.run()
        finally:
            watch.cancel()

    async def _watch_failures(self) -> None:
        """While polls fail, evaluate the rules every few seconds (a retry may be
        minutes away, and ``no_data`` must fire when its ``for`` has passed)."""
        while True:
            await asyncio.sleep(FAILURE_CHECK)
            if self.metrics.seconds_without_data(self.clock()) is not None:
                self._failed_evaluation()

    def _failed_evaluation(self) -> None:
        """Polls are failing: evaluate the rules (no_data). Never raises: it runs inside
        the poller's failure handling, which must go on retrying."""
        try:
            now = self.clock()
            self.metrics.poll_failed(now)
            events = self.dispatch(self.rules.evaluate(self.metrics, now))
            if events and self.on_events is not None:
                self.on_events(events)
        except Exception:
            log.exception("evaluating the alert rules while polls fail")

    async def attach_history(self) -> None:
        """Open the profile's history file off the event loop, load it, start its writer."""
        old, self.history_writer = self.history_writer, None
        if old is not None:
            await asyncio.to_thread(old.close)
        history = History(self.history.maxlen, self.history.forget_after)
        opening = asyncio.ensure_future(
            asyncio.to_thread(start_history, self.settings, history, self.clock())
        )
        try:
            self.history_writer = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # Stopped while the file was opening (the monitor was replaced): its
            # writer thread and file handle must not outlive us.
            opening.add_done_callback(_close_opened)
            raise
        except Exception:  # the history file never stops monitoring
            self.history_writer = StoreWriter(None, note="history in memory only")
            return
        self.history = history
        self.metrics.history = history
        # The last day of the alert log, for the alerts screen.
        since = self.clock() - 86400.0
        past = await asyncio.to_thread(self.history_writer.load_events, since, ALERT_LOG)
        self.alert_log.extendleft(reversed(past))
        # What was firing when the last run stopped fires on: the next poll resolves
        # it (webhooks get their "resolved") or keeps it, without a second "firing".
        self.rules.restore(past)
        if self.tracks_spend:
            await self._seed_spend()

    async def _seed_spend(self) -> None:
        """Usage since midnight and the first of the month from the history file, and
        the budget thresholds already told (both off the event loop)."""
        now = self.clock()
        settings = self.settings
        try:
            baselines = await asyncio.to_thread(load_baselines, settings, now)
        except Exception:  # the history file never stops monitoring
            baselines = {}
        self.ledger.seed(baselines, now)
        if settings.budgets:
            self.budget_alerts = await asyncio.to_thread(BudgetAlerts.for_profile, settings.profile)

    async def aclose(self) -> None:
        """Flush and close the history file, the notifications and the connections."""
        if self.history_writer is not None:
            await asyncio.to_thread(self.history_writer.close)
        await asyncio.to_thread(self.notifier.close, NOTIFY_CLOSE)
        if self.rules_lock is not None:
            self.rules_lock.release()
        await self.client.aclose()

    # ------------------------------------------------------------------ fetching

    async def fetch_overview(self) -> StatsPage:
        """``/ai/llm/stats``; where it answers 404 (it is documented as TEST-only), the
        last 24 h's totals from ``/aistats/minute`` instead (a :class:`WindowedPage`,
        at most one request a minute), trying ``/ai/llm/stats`` again every 10 minutes."""
        now = self.clock()
        page: StatsPage | None = None
        if self.window.stats_due(now):
            try:
                page = await self.client.get_stats()
            except NotFoundError as exc:
                if not self.window.active:
                    # A wrong base URL answers 404 on /aistats too: that stays an error
                    # (and is retried). Any other answer means only the stats are missing.
                    try:
                        await self._refresh_window(now)
                    except NotFoundError:
                        raise exc from None
                    except Exception:  # /aistats is there: its failure is told, retried
                        self.window.missing_at = now
                        raise
                    log.warning("/ai/llm/stats answered 404: showing 24 h totals from /aistats")
                self.window.missing_at = now
            else:
                if self.window.active:
                    log.info("/ai/llm/stats answers again: running totals from it")
                    self.window = WindowedTotals()
        if page is None:
            if self.window.refresh_due(now):
                await self._refresh_window(now)
            await self._maybe_fetch_names(self.window.page(self.names))
            return self.window.page(self.names)
        await self._maybe_fetch_names(page)
        return page

    async def _refresh_window(self, now: float) -> None:
        """Bring the 24 h totals up to ``now`` (one ``/aistats/minute`` request)."""
        query = self.window.query(now)
        self.window.add(await self.client.get_aistats_minute(query), query, now)

    def _windowed_update(self, page: WindowedPage, at: float, overview: bool) -> PollUpdate:
        """Sums over a sliding window go down as it slides: shown, never recorded (the
        history, the ledger, budgets and the alert rules read running totals)."""
        if overview:  # a poll that worked: no_data must not fire
            self.metrics.poll_succeeded(at, Changes(), [s.ai_llm_id for s in page.stats])
        return PollUpdate(page, at, Changes(), {}, notes=[NOTE, *self.notes()])

    async def _timed_overview(self) -> StatsPage:
        """:meth:`fetch_overview`, timed and reported to :attr:`on_poll` (the poller's
        fetch: a hook that raises must not turn a good poll into a failed one)."""
        started = time.monotonic()
        error: Exception | None = None
        try:
            return await self.fetch_overview()
        except Exception as exc:
            error = exc
            raise
        finally:
            if self.on_poll is not None and (error is not None or not _cancelling()):
                try:
                    self.on_poll(time.monotonic() - started, error)
                except Exception:
                    log.exception("reporting a poll's duration")

    async def fetch_one(self, ai_llm_id: str) -> StatsPage:
        """``/ai/llm/stats`` of one configuration (a drill-down's poll); where that
        answers 404, the overview's 24 h totals (no request)."""
        if self.window.active:
            return self.window.page(self.names)
        return await self.client.get_stats(ai_llm_id)

    async def _maybe_fetch_names(self, page: StatsPage) -> None:
        now = time.monotonic()
        unknown = any(s.ai_llm_id not in self.names for s in page.stats)
        due = now - self._names_at > NAMES_EVERY or self._names_at == 0.0
        if not due and not (unknown and now - self._names_unknown_at > NAMES_MIN_GAP):
            return
        self._names_unknown_at = now
        try:
            configs = await self.client.get_llms()
        except ApiError as exc:
            # Names are a nicety: show ids and say why, but keep the stats flowing.
            self.names_error = f"names unavailable: {exc.message}"
            return
        self.names = {c.id: c for c in configs}
        self.names_error = None
        self._names_at = now
        # Without workspace names the drill-down shows the workspace id instead.
        with contextlib.suppress(ApiError):
            self.workspaces = {
                w.id: w.name for w in await self.client.get_workspaces() if w.name is not None
            }

    # ------------------------------------------------------------------ recording

    async def ingest(
        self, page: StatsPage, at: float, *, write: bool = True, overview: bool = False
    ) -> PollUpdate:
        """Record a poll (the overview's or a drill-down's) taken at ``at``; return
        what it changed, its token rates, the alerts it raises and the notes to show.

        A large poll is recorded, and its rates computed, in parts with a pause
        between, so the event loop answers keys meanwhile. ``write``: hand it to the
        history file's writer now (else the caller does, with :meth:`write`).
        ``overview``: the overview's poll of every configuration: evaluate the budgets
        and the alert rules too (evaluating walks every configuration, and a
        drill-down's poll changes one).
        """
        if isinstance(page, WindowedPage):
            return self._windowed_update(page, at, overview)
        stats = page.stats
        parts = [stats[i : i + POLL_PART] for i in range(0, len(stats), POLL_PART)]
        changes = Changes()
        for part in parts:
            self.history.record(part, at, changes, forget=False)
            if len(parts) > 1:
                await asyncio.sleep(0)
        self.history.forget(at)
        if self.tracks_spend:
            record = self.ledger.record
            for s in stats:
                record(s.ai_llm_id, at, s.values)
            if len(self.ledger) > len(self.history.series):
                self.ledger.forget(at - self.history.forget_after)
        self.costs.new_poll()
        if self.costs.enabled and overview:
            self.costs.refresh((s.ai_llm_id for s in stats), changes.changed, at)
        rates: dict[str, float | None] = {}
        for part in parts:
            for s in part:
                token_rate(self.history, s.ai_llm_id, rates)
            if len(parts) > 1:
                await asyncio.sleep(0)
        if write:
            self.write(page, at)
        alerts = reset_alerts(changes, self.name_of)
        if not overview:  # a drill-down's poll: the rules see its increases next time
            self.metrics.note_changes(at, changes)
        if overview and self.settings.budgets and self._budgets_due(len(stats), at):
            self._budgets_at = at
            statuses: list[BudgetStatus] = []
            for spec in self.settings.budgets:
                # One budget at a time, with a pause between on a big organization.
                statuses += self.budget_evaluator.evaluate(
                    (spec,),
                    configs=self.names,
                    ledger=self.ledger,
                    pricebook=self.costs.pricebook,
                    history=self.history,
                    now=at,
                )
                if len(parts) > 1:
                    await asyncio.sleep(0)
            self.budgets = statuses
            bell = self.settings.bell
            alerts += [replace(a, bell=bell) for a in self.budget_alerts.check(self.budgets, at)]
        events: list[Event] = []
        if overview:
            self.metrics.poll_succeeded(at, changes, [s.ai_llm_id for s in stats])
            self.metrics.token_rates = rates
            events = self.dispatch(self.rules.evaluate(self.metrics, at))
            alerts += toasts_for(events)
        return PollUpdate(
            page, at, changes, rates, alerts, self.notes(), list(self.budgets), events
        )

    def dispatch(self, events: list[Event]) -> list[Event]:
        """Log rule events (memory and the history file) and hand those with URLs to
        the notifier (its own threads; muted ones are logged, not sent)."""
        if not events:
            return events
        self.alert_log.extend(events)
        if self.rules_lock is not None and not self.rules_lock.held():
            return events  # another flashtop on this profile logs and sends them
        if self.history_writer is not None:
            self.history_writer.submit_events(events)
        for event in events:
            if any("://" in channel for channel in event.notify):
                # Muting quiets the screen (toasts, bell, desktop), not the webhooks:
                # they must see every "firing" matched by its "resolved".
                self.notifier.send(replace(event, muted=False) if event.muted else event)
        return events

    def _cost_per_hour(self, ai_llm_id: str) -> float | None:
        rate = self.costs.rate(ai_llm_id)
        return None if rate is None else float(rate)

    def _budgets_due(self, configs: int, at: float) -> bool:
        """Every poll up to :data:`BUDGETS_EVERY_FROM` configurations; past that at most
        every :data:`BUDGETS_EVERY` seconds (evaluating walks every configuration, and
        a runway of hours does not need a fresher figure)."""
        return configs <= BUDGETS_EVERY_FROM or at - self._budgets_at >= BUDGETS_EVERY

    def write(self, page: StatsPage, at: float) -> None:
        """Hand a recorded poll to the history file's writer (its own thread)."""
        if self.history_writer is not None and not isinstance(page, WindowedPage):
            self.history_writer.submit(at, page.stats)

    def notes(self) -> list[str]:
        """What is wrong besides the connection (names, the history file), one line each;
        a one-time note of the history file (its cap reached) for a minute."""
        notes = [self.names_error] if self.names_error else []
        if self.history_writer is not None and self.history_writer.problem:
            notes.append(self.history_writer.problem)
        if self.history_writer is not None:
            notice = self.history_writer.take_notice()
            if notice:
                self._notice = (notice, self.clock() + NOTICE_SECONDS)
        if self._notice is not None:
            if self.clock() < self._notice[1]:
                notes.append(self._notice[0])
            else:
                self._notice = None
        if self.budget_alerts.problem:
            notes.append(self.budget_alerts.problem)
        if self.notifier.problem:
            notes.append(self.notifier.problem)
        return notes

    async def _overview_result(self, page: StatsPage, at: float) -> None:
        update = await self.ingest(page, at, write=False, overview=True)
        try:
            if self.on_update is not None:
                shown = self.on_update(update)
                if shown is not None:
                    await shown  # the poll counts once the face has shown it
        finally:
            # Written once shown (the TUI: painted): the writer's thread shares the
            # interpreter lock and would otherwise slow the frame that shows the
            # poll. Written at once, not after a delay: a delay woke this idle
            # process once more a poll (~0.15 ms of CPU on a VM).
            self.write(page, at)

    def _status(self, status: PollStatus) -> None:
        if status.state in (ConnState.RETRYING, ConnState.LOGIN_NEEDED) and not status.in_flight:
            self._failed_evaluation()  # a poll failed: no_data may be due
        if self.on_status is not None:
            self.on_status(status)

    # ------------------------------------------------------------------ asking

    @property
    def tracks_spend(self) -> bool:
        """Usage per day and month is counted (there are prices or budgets)."""
        return self.costs.enabled or bool(self.settings.budgets)

    def name_of(self, ai_llm_id: str) -> str:
        return config_name(self.names, ai_llm_id)

    def login_reason(self) -> str | None:
        """Why a login is needed now, or None."""
        if self.session.tokens is None:
            return f"No saved login for profile '{self.settings.profile}'."
        return self.session.login_needed

    # ------------------------------------------------------------------ steering

    def poll_now(self) -> None:
        self.poller.poll_now()

    def toggle_pause(self) -> bool:
        """Pause or resume polling; True when now paused."""
        return self.poller.toggle_pause()

    def step_interval(self, direction: int) -> float:
        """Poll more often (``direction`` < 0) or less often; return the new interval."""
        current = self.poller.interval
        if direction < 0:
            smaller = [s for s in INTERVAL_STEPS if s < current]
            new = float(smaller[-1]) if smaller else MIN_INTERVAL
        else:
            larger = [s for s in INTERVAL_STEPS if s > current]
            new = float(larger[0]) if larger else MAX_INTERVAL
        self.poller.interval = new
        return new

    async def login(self, email: str, password: str) -> None:
        """Log in, keep the tokens (when there is a store) and poll at once.

        Raises :class:`~tui.errors.FlashtopError` with a one-line reason on failure.
        """
        tokens = await self.client.login(email, password)
        await self._logged_in(tokens)

    async def verify_mfa(self, partial_token: str, code: str) -> None:
        """Finish a login that needed a second factor (the partial token of the
        :class:`~tui.errors.MfaRequiredError` that :meth:`login` raised, and the code)."""
        tokens = await self.client.verify_mfa_login(partial_token, code)
        if tokens.expires_at is None:
            from tui.credentials import jwt_expiry

            tokens.expires_at = jwt_expiry(tokens.access_token)
        await self._logged_in(tokens)

    async def _logged_in(self, tokens: TokenSet) -> None:
        if self.token_store is not None:
            await asyncio.to_thread(self.token_store.save, tokens)
        self.session.replace(tokens)
        self.poller.poll_now()

    # ------------------------------------------------------------------ the server's past

    async def load_server_past(self, ids: Sequence[str]) -> str:
        """Once, after the first poll: the hours before flashtop started, read from
        ``/aistats/minute`` in one request for all configurations (bounded in size,
        :func:`tui.backfill.backfill_span`) and kept as samples in front of the local
        ones (:attr:`server_past`, never written to the history file). Returns a
        one-line note: what was read, or why nothing was (the endpoint may not exist
        where ``/ai/llm/stats`` does; nothing else depends on it)."""
        from tui.aistats import AiStatsQuery, series_by_config
        from tui.backfill import backfill_span, reconstruct

        now = self.clock()
        anchors = {}
        for ident in ids:
            series = self.history.get(ident)
            latest = series.latest if series is not None else None
            if latest is not None:
                anchors[ident] = latest
        if not anchors:
            return "no configurations to backfill"
        since = now - backfill_span(len(anchors))
        try:
            page = await self.client.get_aistats_minute(AiStatsQuery(start=since, end=now))
        except FlashtopError as exc:
            self.server_past_note = f"no server history ({one_line(exc.message, 80)})"
            return self.server_past_note
        past = reconstruct(series_by_config(page.rows), anchors, since, asked_at=now)
        await self._price_by_mix(page.rows)
        self.server_past = past
        hours = (now - since) / 3600
        self.server_past_note = (
            f"server history: {hours:.3g} h before start from /aistats/minute "
            f"({len(page.rows)} rows)"
        )
        return self.server_past_note

    async def _price_by_mix(self, rows: Sequence[AiStatsRow]) -> None:
        """Configurations the profile maps no model to are priced at the model mix the
        server reports for them (LLM tokens per model over the rows' span)."""
        from tui.pricing import blend, model_prices

        usage: dict[str, dict[str, tuple[int, int]]] = {}
        for row in rows:
            if self.costs.pricebook.model_for(row.ai_llm_id, self.name_of(row.ai_llm_id)):
                continue  # the profile's mapping wins
            lin = row.get("llmTokensIn") or 0
            lout = row.get("llmTokensOut") or 0
            per = usage.setdefault(row.ai_llm_id, {})
            a, b = per.get(row.model, (0, 0))
            per[row.model] = (a + lin, b + lout)
        models = {m for per in usage.values() for m in per if m}
        if not models:
            return
        prices = await asyncio.to_thread(model_prices, sorted(models), self.settings.prices)
        mix = {}
        for ident, per in usage.items():
            price = blend(per, prices)
            if price is not None:
                mix[ident] = price
        self.costs.set_mix(mix)
