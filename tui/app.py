"""The Textual application: glue between a Monitor (tui/monitor.py) and the screens."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.worker import Worker

from tui.alerts import Alert
from tui.errors import FlashtopError, UsageError
from tui.monitor import Monitor, PollUpdate, TokenStore
from tui.notify import config_warning, desktop_sequence, in_tmux, message
from tui.poller import PollStatus
from tui.rules import Event
from tui.screens.detail import DetailScreen
from tui.screens.help import HelpScreen
from tui.screens.keys import BindingGroup, all_binding_ids, check_keymap, palette_commands
from tui.screens.login import LoginRequest, LoginScreen
from tui.screens.messages import LoginWanted, Polled, RaiseAlerts, SelectConfig
from tui.screens.overview import OverviewScreen
from tui.settings import Settings
from tui.terminal import (
    TerminalDriver,
    check_terminal,
    install_signal_handlers,
    stdin_and_output,
)
from tui.toasts import ToastGate, toasts_for
from tui.tokens import AuthSession
from tui.widgets._textual_compat import write_to_terminal

if TYPE_CHECKING:
    from tui.demo import DemoBackend

#: Seconds a thread may hold the interpreter lock while another waits (Python: 0.005).
SWITCH_INTERVAL = 0.001
#: Container objects allocated (net) between young collections once the first poll is
#: in (Python: 700). A poll holds a few thousand short-lived ones at once (the page,
#: rows, strips), so at 700 a young collection ran about twice a poll (under churn
#: ~0.5 ms of a ~13 ms poll), walking objects about to be freed anyway.
GC_YOUNG_THRESHOLD = 10_000
#: Seconds between the app's ticks (the status bar's age, held toasts, the screens' clocks).
TICK_SECONDS = 1.0
#: The longest the app goes without a tick while nothing on screen counts seconds
#: (see ``FlashtopApp._next_tick``).
QUIET_TICK_SECONDS = 5.0

log = logging.getLogger(__name__)


def styles_dir() -> Path:
    """styles/ inside the installed package (wheel), else at the source checkout's top."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "styles", here.parent / "styles"):
        if (candidate / "app.tcss").is_file():
            return candidate
    raise FlashtopError(f"flashtop's stylesheets are missing (looked in {here})")


class FlashtopApp(App[int]):
    """flashtop's TUI: the glue between a :class:`~tui.monitor.Monitor` and its screens."""

    TITLE = "flashtop"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", tooltip="quit flashtop"),
        Binding("question_mark", "help", "Help", id="help", tooltip="this help: every key"),
        # Stands in for Textual's own ctrl+p binding (same key, label, priority), so the
        # help lists it and [keymap] can move it.
        Binding(
            "ctrl+p",
            "command_palette",
            "palette",
            id="command-palette",
            show=False,
            priority=True,
            tooltip="command palette (every action by name)",
        ),
    ]

    def __init__(
        self,
        settings: Settings,
        session: AuthSession,
        *,
        store: TokenStore | None = None,
        warnings: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        mark_changes: bool = True,
        keep_history: bool = False,
        demo: DemoBackend | None = None,
        on_a_terminal: bool = False,
        server_past: bool = False,
    ) -> None:
        super().__init__(
            # On a real terminal: a driver that ends the app when the terminal goes away.
            driver_class=TerminalDriver if on_a_terminal else None,
            css_path=[str(p) for p in sorted(styles_dir().glob("*.tcss"))],
        )
        #: SIGTERM/SIGHUP/SIGINT quit like `q` (only on a terminal: tests own their signals).
        self._handle_signals = on_a_terminal
        #: After the first poll, read the hours before the start from /aistats once.
        self._server_past_wanted = server_past
        self._undo_signals: Callable[[], None] | None = None
        #: Binding id -> keys, from the config file's [keymap] (checked by run_app).
        self.keymap = dict(settings.keymap)
        self.set_keymap(self.keymap)
        self.monitor = Monitor(
            settings, session, token_store=store, clock=clock, keep_history=keep_history
        )
        self.startup_warnings = list(warnings)
        #: The simulated backend this app started (the login screen's demo offer).
        self._demo = demo
        self.overview = OverviewScreen(self.monitor, mark_changes=mark_changes)
        self._poll_worker: Worker[None] | None = None
        self._gc_frozen = False
        self._gc_threshold = gc.get_threshold()
        self._switch_interval = sys.getswitchinterval()
        self._tick_handle: asyncio.TimerHandle | None = None
        #: One toast per poll at most, and not too often (tui/toasts.py).
        self.toasts = ToastGate()
        if settings.theme:
            self.theme = readable_theme(settings.theme, settings.no_color)

    # ------------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        # Worker threads (parsing a large page, the history writer) hold the
        # interpreter lock for up to 5 ms at a time by default; hand it back to the
        # event loop sooner, so keys and frames do not queue behind them.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        if self._handle_signals:
            self._undo_signals = install_signal_handlers(self)
        self.push_screen(self.overview)
        self._schedule_tick()
        self.theme_changed_signal.subscribe(self, lambda _theme: self.overview.on_theme_changed())
        for w in self.startup_warnings:
            self.notify(w, severity="warning", timeout=10, markup=False)
        self._start_polling()
        if self.monitor.session.login_needed and not self.monitor.settings.demo:
            self.open_login()

    async def on_unmount(self) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        sys.setswitchinterval(self._switch_interval)
        if self._undo_signals is not None:
            self._undo_signals()
        if self._gc_frozen:
            gc.unfreeze()
            gc.set_threshold(*self._gc_threshold)
            self._gc_frozen = False
        await self.monitor.aclose()
        if self._demo is not None:
            self._demo.stop()

    def _schedule_tick(self, delay: float = TICK_SECONDS) -> None:
        """The next tick in ``delay`` seconds, straight from the event loop (a
        Textual timer is a task of its own, woken through its timer and callback
        machinery)."""
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        loop = asyncio.get_running_loop()
        self._tick_handle = loop.call_later(delay, self._on_tick)

    def want_tick(self, delay: float = TICK_SECONDS) -> None:
        """Tick within ``delay`` seconds: sooner than planned, if planned later."""
        handle = self._tick_handle
        if handle is None or handle.when() > asyncio.get_running_loop().time() + delay:
            self._schedule_tick(delay)

    def _on_tick(self) -> None:
        self._tick_handle = None
        try:
            self._tick()
        except Exception:  # a bug in a clock must not stop the clocks (or monitoring)
            log.exception("the once-a-second tick failed")
        finally:
            if self._tick_handle is None:
                self._schedule_tick(self._next_tick())

    def _next_tick(self) -> float:
        """Seconds to the next tick: one while something on screen counts seconds (a
        held toast, a screen other than the overview, the status bar's age or
        countdown); else until the status bar's text can next change, at most
        :data:`QUIET_TICK_SECONDS`. Waking an idle process costs more than what
        a tick does (about 0.15 ms of CPU here): a quiet overview wakes for its
        polls, not every second besides."""
        if self.toasts.waiting or self.screen is not self.overview:
            return TICK_SECONDS
        try:
            quiet = self.overview.status_bar.quiet_for()
        except NoMatches:  # not built yet, or torn down
            return TICK_SECONDS
        return min(max(quiet, TICK_SECONDS), QUIET_TICK_SECONDS)

    def _tick(self) -> None:
        if self.toasts.waiting:
            self._show_toast(self.toasts.due(time.monotonic()))
        tick = getattr(self.screen, "tick", None)
        if tick is not None:
            # A screen still being built or already torn down has nothing to show.
            with contextlib.suppress(NoMatches):
                tick()

    # ------------------------------------------------------------------ the monitor

    def _start_polling(self) -> None:
        monitor = self.monitor
        monitor.on_update = self._show_poll
        monitor.on_status = self._on_status
        monitor.on_events = self._rule_events
        self._poll_worker = self.run_worker(
            monitor.run(), name="overview-poll", group="poll", exit_on_error=False
        )

    async def _show_poll(self, update: PollUpdate) -> None:
        if self._server_past_wanted:
            self._server_past_wanted = False
            ids = [s.ai_llm_id for s in update.page.stats]
            self.run_worker(self._load_server_past(ids), group="server-past", exit_on_error=False)
        self._raise_alerts(update.alerts)
        self._desktop(update.events)
        message = Polled(self.monitor, update)
        if self.overview.post_message(message):
            await message.shown()
        if not self._gc_frozen:
            # Everything alive now (Textual, the history's series) lives as long as
            # the app: take it out of the collector's full walks (at 10,000
            # configurations a poll shows 176 -> 145 ms sooner with it); and collect
            # the young less often (see GC_YOUNG_THRESHOLD).
            gc.freeze()
            self._gc_threshold = gc.get_threshold()
            gc.set_threshold(GC_YOUNG_THRESHOLD, *self._gc_threshold[1:])
            self._gc_frozen = True

    async def _load_server_past(self, ids: list[str]) -> None:
        """The drill-down's charts and long rates reach back before the start."""
        monitor = self.monitor
        note = await monitor.load_server_past(ids)
        self.log.info(note)
        screen = self.screen
        if monitor is self.monitor and isinstance(screen, DetailScreen) and screen.is_mounted:
            screen.render_all()

    def _on_status(self, status: PollStatus) -> None:
        if self.overview.is_mounted:
            self.overview.show_status(status)
            # A retry's countdown, say: tick by when the status bar next changes.
            self.want_tick(max(self.overview.status_bar.quiet_for(), TICK_SECONDS))

    def _raise_alerts(self, alerts: list[Alert]) -> None:
        """A poll's alerts as at most one toast, at most every ``toasts.MIN_GAP``
        seconds (held ones join the next; the once-a-second tick shows them); the
        bell at once when one of them asks for it."""
        if any(a.bell for a in alerts):
            self.bell()
        self._show_toast(self.toasts.offer(alerts, time.monotonic()))
        if self.toasts.waiting:
            self.want_tick()  # the tick shows the held ones

    def _desktop(self, events: list[Event]) -> None:
        """A desktop notification (OSC 777 and OSC 9, wrapped for tmux) for the rule
        events that ask for one: it crosses SSH to the laptop's desktop. One per poll
        at most (300 configurations firing at once are one notification)."""
        wanted = [e for e in events if "desktop" in e.notify and not e.muted]
        if not wanted:
            return
        title, body = message(wanted[0])
        if len(wanted) > 1:
            title = f"flashtop: {len(wanted)} alerts"
            body = f"{body}; and {len(wanted) - 1} more"
        write_to_terminal(self, desktop_sequence(title, body, tmux=in_tmux()))

    def _rule_events(self, events: list[Event]) -> None:
        """Rule events from outside a poll result (polls failing: no_data)."""
        self._raise_alerts(toasts_for(events))
        self._desktop(events)
        if self.overview.is_mounted:
            bar = self.overview.status_bar
            bar.firing = self.monitor.rules.firing_count()
            bar.refresh_text()

    def _show_toast(self, toast: Alert | None) -> None:
        if toast is None:
            return
        self.notify(
            toast.message,
            title=toast.title,
            severity=toast.severity,  # type: ignore[arg-type]
            timeout=8,
            markup=False,
        )

    def on_raise_alerts(self, message: RaiseAlerts) -> None:
        self._raise_alerts(message.alerts)

    def on_select_config(self, message: SelectConfig) -> None:
        self.overview.table.select_id(message.ai_llm_id)

    def on_login_wanted(self, message: LoginWanted) -> None:
        self.open_login()

    async def replace_monitor(self, monitor: Monitor) -> None:
        """Watch another account (the demo): stop the old monitor, start the new one."""
        old = self.monitor
        if self._poll_worker is not None:
            self._poll_worker.cancel()
        # A drill-down holds the monitor it was opened with: back to the overview.
        while len(self.screen_stack) > 1 and self.screen is not self.overview:
            await self.pop_screen()
        self.monitor = monitor
        self.overview.use_monitor(monitor)
        self._start_polling()
        await old.aclose()

    # ------------------------------------------------------------------ screens

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_groups(), self.keymap))

    def open_login(self) -> None:
        if isinstance(self.screen, LoginScreen):
            return
        monitor = self.monitor
        screen = LoginScreen(
            monitor.settings.base_url, monitor.login_reason(), monitor.login, monitor.verify_mfa
        )
        self.push_screen(screen, self._login_closed)

    def _login_closed(self, req: LoginRequest | None) -> None:
        if req is not None and req.demo:
            self.run_worker(self._switch_to_demo(), group="login", exit_on_error=False)

    async def _switch_to_demo(self) -> None:
        from tui.demo import start_demo

        old = self.monitor
        demo = await asyncio.to_thread(start_demo, old.settings)
        if self._demo is not None:
            self._demo.stop()
        self._demo = demo
        await self.replace_monitor(
            Monitor(demo.settings, demo.session, clock=old.clock, keep_history=old.keep_history)
        )

    # ------------------------------------------------------------------ palette

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(screen)


def key_groups() -> list[BindingGroup]:
    """What the `?` help lists, in order; their ids are what [keymap] may name."""
    from tui.screens.alerts import AlertsScreen
    from tui.screens.budgets import BudgetsScreen
    from tui.screens.detail import DetailScreen
    from tui.widgets.stats_table import StatsTable

    return [
        # q, ? and the palette work on every screen (the drill-down's q quits too).
        ("Every screen", list(FlashtopApp.BINDINGS)),
        ("Monitor", [*OverviewScreen.BINDINGS, *StatsTable.BINDINGS]),
        ("Detail", list(DetailScreen.BINDINGS)),
        ("Budgets", list(BudgetsScreen.BINDINGS)),
        ("Alerts", list(AlertsScreen.BINDINGS)),
    ]


def readable_theme(name: str, no_color: bool) -> str:
    """The theme to use: Textual's NO_COLOR filter turns the ANSI themes' "default"
    colours into black on black, so under NO_COLOR they give way to their
    full-colour twins (which that filter renders as readable greys)."""
    if no_color and name.startswith("ansi-"):
        return "textual-light" if name.endswith("light") else "textual-dark"
    return name


def check_theme(name: str | None) -> None:
    if not name:
        return
    from textual.theme import BUILTIN_THEMES

    if name not in BUILTIN_THEMES:
        known = ", ".join(sorted(BUILTIN_THEMES))
        raise UsageError(f"unknown theme '{name}' (known: {known})")


def run_app(settings: Settings, env: Mapping[str, str], demo: DemoBackend | None = None) -> int:
    """Resolve credentials (or use the demo's session), then run the TUI until the user quits."""
    check_theme(settings.theme)
    check_keymap(settings.keymap, all_binding_ids(key_groups()), settings.config_path)
    # Without a terminal the screen would be escape codes in a file and keys never come.
    check_terminal(*stdin_and_output(), env)
    warnings: list[str] = []
    store = None
    if demo is not None:
        settings, session = demo.settings, demo.session
    else:
        from tui.credentials import load_credentials

        creds = load_credentials(settings, env, warn=warnings.append)
        session, store = creds.session, creds.store
    if settings.config_path is not None:
        # Notification URLs hold webhook tokens: a config file others can read says so.
        unsafe = config_warning(settings.config_path, settings.rules)
        if unsafe:
            warnings.append(unsafe)
    app = FlashtopApp(
        settings,
        session,
        store=store,
        warnings=warnings,
        # The demo's server is new each run, its counters too: yesterday's demo in the
        # history file would read as resets and draw nonsense. Each demo starts fresh.
        keep_history=not settings.demo,
        on_a_terminal=True,
        server_past=True,
    )
    app.run(mouse=settings.mouse)
    return app.return_code or 0
