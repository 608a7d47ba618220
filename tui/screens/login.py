"""Log in from inside the monitor: email and masked password, or open the demo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui.errors import FlashtopError
from tui.fmt import safe_text


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What the user typed, or that they chose the demo instead."""

    email: str = ""
    password: str = ""
    demo: bool = False


#: Logs in with (email, password); raises FlashtopError with a one-line reason.
LoginFunction = Callable[[str, str], Awaitable[None]]


class LoginScreen(ModalScreen[LoginRequest | None]):
    """Asks for email and password and logs in with ``login`` (the monitor's)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, base_url: str, reason: str | None, login: LoginFunction) -> None:
        super().__init__()
        self.base_url = base_url
        self.reason = reason
        self._login = login

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Static(f"Log in to {safe_text(self.base_url, 60)}", id="login-title")
            if self.reason:
                yield Static(safe_text(self.reason, 120), id="login-reason")
            yield Label("Email")
            yield Input(placeholder="you@example.com", id="login-email")
            yield Label("Password")
            yield Input(password=True, id="login-password")
            yield Static("", id="login-error")
            with Horizontal(id="login-buttons"):
                yield Button("Log in", variant="primary", id="login-submit")
                yield Button("Open the demo instead", id="login-demo")

    def on_mount(self) -> None:
        self.query_one("#login-email", Input).focus()

    def show_error(self, message: str) -> None:
        self.query_one("#login-error", Static).update(safe_text(message, 160))
        self.query_one("#login-password", Input).value = ""
        self.query_one("#login-password", Input).focus()

    @on(Input.Submitted, "#login-email")
    def _next(self) -> None:
        self.query_one("#login-password", Input).focus()

    @on(Input.Submitted, "#login-password")
    @on(Button.Pressed, "#login-submit")
    def _submit(self) -> None:
        email = self.query_one("#login-email", Input).value.strip()
        password = self.query_one("#login-password", Input).value
        if not email or not password:
            self.show_error("enter an email and a password")
            return
        self.run_worker(self._attempt(email, password), group="login", exit_on_error=False)

    @on(Button.Pressed, "#login-demo")
    def _demo(self) -> None:
        self.dismiss(LoginRequest(demo=True))

    async def _attempt(self, email: str, password: str) -> None:
        try:
            await self._login(email, password)
        except FlashtopError as exc:
            self.show_error(exc.message)
            return
        self.notify("logged in", timeout=3)
        self.dismiss(LoginRequest(email=email))

    def action_cancel(self) -> None:
        self.dismiss(None)
