"""The Textual application: owns the client, the overview poller and the history."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker

from tui.alerts import Alert, RateWatch, event_alerts
from tui.client import FlashbackClient
from tui.errors import ApiError, FlashtopError, UsageError
from tui.history import IDX, Changes, History
from tui.models import LlmConfig, StatsPage
from tui.poller import MAX_INTERVAL, MIN_INTERVAL, Poller, PollStatus
from tui.screens.help import HelpScreen
from tui.screens.login import LoginRequest, LoginScreen
from tui.screens.overview import OverviewScreen
from tui.settings import Settings
from tui.store import StoreWriter, start_history
from tui.tokens import AuthSession
from tui.view import token_rate

#: Steps for + and - (seconds).
INTERVAL_STEPS = (1, 2, 3, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
#: How often configuration names are fetched again, and at most how often an
#: unknown id triggers a fetch.
NAMES_EVERY = 600.0
NAMES_MIN_GAP = 60.0
#: A poll with more configurations than this is recorded in parts of this size,
#: with a pause between (about 2 ms each), so keys are answered meanwhile.
POLL_PART = 1000
#: Seconds a thread may hold the interpreter lock while another waits (Python: 0.005).
SWITCH_INTERVAL = 0.001
#: Seconds the history writer waits before writing a poll (the frame goes first).
WRITE_DELAY = 0.25


def styles_dir() -> Path:
    """styles/ inside the installed package (wheel), else at the source checkout's top."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "styles", here.parent / "styles"):
        if (candidate / "app.tcss").is_file():
            return candidate
    raise FlashtopError(f"flashtop's stylesheets are missing (looked in {here})")


class FlashtopApp(App[int]):
    """flashtop's TUI: a live table of LLM configurations and a drill-down per id."""

    TITLE = "flashtop"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", id="help"),
    ]

    def __init__(
        self,
        settings: Settings,
        session: AuthSession,
        *,
        store: Any = None,
        warnings: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        mark_changes: bool = True,
        keep_history: bool = False,
    ) -> None:
        super().__init__(css_path=[str(p) for p in sorted(styles_dir().glob("*.tcss"))])
        self.settings = settings
        #: Wall clock for sample times and ages; tests pass a fake one.
        self.clock = clock
        #: Show the cells that changed in the last poll marked (bold, underlined).
        self.mark_changes = mark_changes
        self.session = session
        self.store = store
        self.startup_warnings = list(warnings)
        self.client = FlashbackClient(settings.base_url, session, ca_bundle=settings.ca_bundle)
        self.history = History()
        #: Keep history in the profile's SQLite file (load it at start, write each poll).
        self.keep_history = keep_history
        self.history_writer: StoreWriter | None = None
        self.names: dict[str, LlmConfig] = {}
        self.workspaces: dict[str, str] = {}
        self.names_error: str | None = None
        self._names_at = 0.0
        self._names_unknown_at = 0.0
        self.rate_watch = RateWatch(settings.thresholds)
        self.poller: Poller[StatsPage] = Poller(
            self._fetch_overview,
            interval=settings.interval,
            on_result=self._on_overview,
            on_status=self._on_status,
            clock=clock,
        )
        self.overview = OverviewScreen()
        self._poll_worker: Worker[None] | None = None
        self._demo_server: Any = None
        self._gc_frozen = False
        self._switch_interval = sys.getswitchinterval()
        if settings.theme:
            self.theme = readable_theme(settings.theme, os.environ)

    # ------------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        # Worker threads (parsing a large page, the history writer) hold the
        # interpreter lock for up to 5 ms at a time by default; hand it back to the
        # event loop sooner, so keys and frames do not queue behind them.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.push_screen(self.overview)
        self.set_interval(1.0, self._tick)
        self.theme_changed_signal.subscribe(self, lambda _theme: self.overview.on_theme_changed())
        for w in self.startup_warnings:
            self.notify(w, severity="warning", timeout=10, markup=False)
        self._poll_worker = self.run_worker(
            self._load_then_poll(), name="overview-poll", group="poll", exit_on_error=False
        )
        if self.session.login_needed and not self.settings.demo:
            self.open_login()

    async def on_unmount(self) -> None:
        sys.setswitchinterval(self._switch_interval)
        if self._gc_frozen:
            gc.unfreeze()
            self._gc_frozen = False
        if self.history_writer is not None:
            await asyncio.to_thread(self.history_writer.close)
        await self.client.aclose()
        if self._demo_server is not None:
            self._demo_server.stop()

    def _tick(self) -> None:
        screen = self.screen
        if isinstance(screen, OverviewScreen):
            screen.tick()
        else:
            tick = getattr(screen, "tick", None)
            if tick is not None:
                tick()

    # ------------------------------------------------------------------ polling

    async def _load_then_poll(self) -> None:
        if self.keep_history:
            await self._attach_history()
        await self.poller.run()

    async def _attach_history(self) -> None:
        """Open the profile's history file off the UI thread, load it, start its writer."""
        old, self.history_writer = self.history_writer, None
        if old is not None:
            await asyncio.to_thread(old.close)
        history = History(self.history.maxlen, self.history.forget_after)
        try:
            self.history_writer = await asyncio.to_thread(
                start_history, self.settings, history, self.clock()
            )
        except Exception:  # the history file never stops monitoring
            self.history_writer = StoreWriter(None, note="history in memory only")
            return
        self.history_writer.write_delay = WRITE_DELAY
        self.history = history

    async def _fetch_overview(self) -> StatsPage:
        if self.settings.demo and self.session.tokens is None:
            from tui.demo_server import DEMO_EMAIL, DEMO_PASSWORD

            self.session.replace(await self.client.login(DEMO_EMAIL, DEMO_PASSWORD))
        page = await self.client.get_stats()
        await self._maybe_fetch_names(page)
        return page

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

    def ingest(self, page: StatsPage, at: float) -> Changes:
        """Record a poll (from the overview or a drill-down) and raise its alerts."""
        changes = self.history.record(page.stats, at)
        if self.history_writer is not None:
            self.history_writer.submit(at, page.stats)  # written on its own thread
        self._raise_alerts(event_alerts(changes, self.name_of))
        return changes

    async def _on_overview(self, page: StatsPage, at: float) -> None:
        stats = page.stats
        # A large poll is recorded, and its token rates computed, in parts with a
        # pause between, so a key pressed meanwhile does not wait for all of it.
        parts = [stats[i : i + POLL_PART] for i in range(0, len(stats), POLL_PART)]
        changes = Changes()
        for part in parts:
            self.history.record(part, at, changes, forget=False)
            if len(parts) > 1:
                await asyncio.sleep(0)
        self.history.forget(at)
        rates: dict[str, float | None] = {}
        for part in parts:
            for s in part:
                token_rate(self.history, s.ai_llm_id, rates)
            if len(parts) > 1:
                await asyncio.sleep(0)
        self._raise_alerts(event_alerts(changes, self.name_of))
        notes = [self.names_error] if self.names_error else []
        if self.history_writer is not None and self.history_writer.problem:
            notes.append(self.history_writer.problem)
        self.overview.status_bar.notes = notes
        self.overview.show_page(page, changes, rates)
        if self.history_writer is not None:
            self.history_writer.submit(at, stats)  # written on its own thread, a moment later
        if not self._gc_frozen:
            # Everything alive now (Textual, the history's series) lives as long as
            # the app: take it out of the collector's full walks (at 10,000
            # configurations a poll shows 176 -> 145 ms sooner with it).
            gc.freeze()
            self._gc_frozen = True
        if self.rate_watch.tokens_per_minute or self.rate_watch.calls_per_minute:
            calls = (IDX["totalApiCalls"],)
            watched = []
            for s in stats:
                series = self.history.get(s.ai_llm_id)
                if series is not None:
                    watched.append(
                        (s.ai_llm_id, rates.get(s.ai_llm_id), series.rate_per_minute(calls))
                    )
            self._raise_alerts(self.rate_watch.check(watched, self.name_of))

    def _raise_alerts(self, alerts: list[Alert]) -> None:
        for a in alerts:
            self.notify(a.message, title=a.title, severity=a.severity, timeout=8, markup=False)  # type: ignore[arg-type]
        if alerts and self.settings.bell:
            self.bell()

    def _on_status(self, status: PollStatus) -> None:
        if self.overview.is_mounted:
            self.overview.status_bar.set_state(status, self.poller.interval)

    def name_of(self, ai_llm_id: str) -> str:
        cfg = self.names.get(ai_llm_id)
        return cfg.name if cfg and cfg.name else ai_llm_id

    def poll_now(self) -> None:
        self.poller.poll_now()

    def toggle_pause(self) -> bool:
        return self.poller.toggle_pause()

    def step_interval(self, direction: int) -> None:
        current = self.poller.interval
        if direction < 0:
            smaller = [s for s in INTERVAL_STEPS if s < current]
            new = float(smaller[-1]) if smaller else MIN_INTERVAL
        else:
            larger = [s for s in INTERVAL_STEPS if s > current]
            new = float(larger[0]) if larger else MAX_INTERVAL
        self.poller.interval = new
        self.overview.status_bar.interval = new
        self.overview.status_bar.refresh_text()
        self.notify(f"polling every {new:g} s", timeout=2)

    # ------------------------------------------------------------------ screens

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_detail(self, ai_llm_id: str) -> None:
        from tui.screens.detail import DetailScreen

        self.push_screen(DetailScreen(ai_llm_id))

    def open_login(self) -> None:
        if isinstance(self.screen, LoginScreen):
            return
        reason = self.session.login_needed
        if self.session.tokens is None:
            reason = f"No saved login for profile '{self.settings.profile}'."
        self.push_screen(LoginScreen(self.settings.base_url, reason), self._login_closed)

    def _login_closed(self, req: LoginRequest | None) -> None:
        if req is not None and req.demo:
            self.run_worker(self._switch_to_demo(), group="login", exit_on_error=False)

    def attempt_login(self, screen: LoginScreen, req: LoginRequest) -> None:
        """Called by the login screen: log in, store the tokens, resume polling."""

        async def run() -> None:
            try:
                tokens = await self.client.login(req.email, req.password)
                if self.store is not None:
                    await asyncio.to_thread(self.store.save, tokens)
            except FlashtopError as exc:
                screen.show_error(exc.message)
                return
            self.session.replace(tokens)
            screen.dismiss(None)
            self.notify("logged in", timeout=3)
            self.poller.poll_now()

        self.run_worker(run(), group="login", exit_on_error=False)

    async def _switch_to_demo(self) -> None:
        from tui.demo_server import DemoServer, day_epoch

        server = DemoServer(epoch=day_epoch()).start()
        self._demo_server = server
        old = self.client
        self.settings = replace(self.settings, base_url=server.base_url, demo=True, profile="demo")
        self.session = AuthSession(None, source="demo")
        self.client = FlashbackClient(self.settings.base_url, self.session)
        self.store = None
        self.history = History()
        if self.keep_history:
            await self._attach_history()
        self.names = {}
        self._names_at = 0.0
        await old.aclose()
        bar = self.overview.status_bar
        bar.profile, bar.base_url = self.settings.profile, self.settings.base_url
        self.poller.poll_now()

    # ------------------------------------------------------------------ palette

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        ov = self.overview
        yield SystemCommand("Refresh now", "Poll the API at once (r)", ov.action_refresh)
        yield SystemCommand("Pause / resume", "Stop or restart polling (p)", ov.action_pause)
        yield SystemCommand("Filter", "Filter by name, id or provider (/)", ov.action_filter)
        yield SystemCommand("Clear filter", "Show every configuration (escape)", ov.action_back)
        yield SystemCommand("Sort by next column", "Cycle the sort column (s)", ov.action_sort_next)
        yield SystemCommand("Reverse sort", "Flip the sort direction (S)", ov.action_sort_reverse)
        yield SystemCommand("Poll more often", "Shorter interval (+)", ov.action_faster)
        yield SystemCommand("Poll less often", "Longer interval (-)", ov.action_slower)
        yield SystemCommand(
            "Open selected", "Drill down into the selection (enter)", ov.action_open_detail
        )
        yield SystemCommand("Log in", "Log in again (l)", self.open_login)
        yield SystemCommand("Keys", "Every key binding (?)", self.action_help)


def readable_theme(name: str, env: Mapping[str, str]) -> str:
    """The theme to use: Textual's NO_COLOR filter turns the ANSI themes' "default"
    colours into black on black, so under NO_COLOR they give way to their
    full-colour twins (which that filter renders as readable greys)."""
    if env.get("NO_COLOR") and name.startswith("ansi-"):
        return "textual-light" if name.endswith("light") else "textual-dark"
    return name


def check_theme(name: str | None) -> None:
    if not name:
        return
    from textual.theme import BUILTIN_THEMES

    if name not in BUILTIN_THEMES:
        known = ", ".join(sorted(BUILTIN_THEMES))
        raise UsageError(f"unknown theme '{name}' (known: {known})")


def run_app(settings: Settings, env: Mapping[str, str]) -> int:
    """Resolve credentials, then run the TUI until the user quits."""
    check_theme(settings.theme)
    warnings: list[str] = []
    store = None
    if settings.demo:
        session = AuthSession(None, source="demo")
        session.login_needed = None
    else:
        from tui.credentials import load_credentials

        creds = load_credentials(settings, env, warn=warnings.append)
        session, store = creds.session, creds.store
    app = FlashtopApp(settings, session, store=store, warnings=warnings, keep_history=True)
    app.run(mouse=settings.mouse)
    return app.return_code or 0
