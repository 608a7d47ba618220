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

from tui.errors import FlashtopError, MfaRequiredError
from tui.fmt import safe_text


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What the user typed, or that they chose the demo instead."""

    email: str = ""
    password: str = ""
    demo: bool = False


#: Logs in with (email, password); raises FlashtopError with a one-line reason
#: (MfaRequiredError when the account needs a second factor).
LoginFunction = Callable[[str, str], Awaitable[None]]
#: Finishes such a login with (partial token, one-time code).
VerifyFunction = Callable[[str, str], Awaitable[None]]


class LoginScreen(ModalScreen[LoginRequest | None]):
    """Asks for email and password and logs in with ``login`` (the monitor's); when
    the account needs MFA, asks for the authenticator's code and finishes with
    ``verify``."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        base_url: str,
        reason: str | None,
        login: LoginFunction,
        verify: VerifyFunction | None = None,
    ) -> None:
        super().__init__()
        self.base_url = base_url
        self.reason = reason
        self._login = login
        self._verify = verify
        #: The partial token while a code is awaited (a secret: never shown).
        self._partial: str | None = None
        self._email = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Static(f"Log in to {safe_text(self.base_url, 60)}", id="login-title")
            if self.reason:
                yield Static(safe_text(self.reason, 120), id="login-reason")
            yield Label("Email")
            yield Input(placeholder="you@example.com", id="login-email")
            yield Label("Password", id="login-password-label")
            yield Input(password=True, id="login-password")
            with Vertical(id="login-mfa"):
                yield Static("", id="login-mfa-note")
                yield Label("Code from your authenticator app")
                yield Input(
                    placeholder="123456", id="login-code", restrict=r"[0-9 ]*", max_length=12
                )
            yield Static("", id="login-error")
            with Horizontal(id="login-buttons"):
                yield Button("Log in", variant="primary", id="login-submit")
                yield Button("Open the demo instead", id="login-demo")

    def on_mount(self) -> None:
        self.query_one("#login-email", Input).focus()

    def show_error(self, message: str) -> None:
        self.query_one("#login-error", Static).update(safe_text(message, 160))
        field = "#login-code" if self._partial is not None else "#login-password"
        self.query_one(field, Input).value = ""
        self.query_one(field, Input).focus()

    def ask_code(self, message: str) -> None:
        """Switch to the second step: the password is hidden, the code asked for."""
        self.query_one("#login-box").add_class("-mfa")
        self.query_one("#login-password", Input).value = ""
        self.query_one("#login-mfa-note", Static).update(safe_text(message, 160))
        self.query_one("#login-error", Static).update("")
        self.query_one("#login-code", Input).focus()

    @on(Input.Submitted, "#login-email")
    def _next(self) -> None:
        self.query_one("#login-password", Input).focus()

    @on(Input.Submitted, "#login-password")
    @on(Input.Submitted, "#login-code")
    @on(Button.Pressed, "#login-submit")
    def _submit(self) -> None:
        if self._partial is not None:
            code = "".join(self.query_one("#login-code", Input).value.split())
            if not code:
                self.show_error("enter the code from your authenticator app")
                return
            self.run_worker(self._second(self._partial, code), group="login", exit_on_error=False)
            return
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
        except MfaRequiredError as exc:
            if self._verify is None:
                self.show_error(f"{exc.message} (use `flashtop login --with-token`)")
                return
            self._partial, self._email = exc.partial_token, email
            self.ask_code(exc.message)
            return
        except FlashtopError as exc:
            self.show_error(exc.message)
            return
        self.notify("logged in", timeout=3)
        self.dismiss(LoginRequest(email=email))

    async def _second(self, partial: str, code: str) -> None:
        assert self._verify is not None
        try:
            await self._verify(partial, code)
        except FlashtopError as exc:
            self.show_error(exc.message)
            return
        self._partial = None
        self.notify("logged in", timeout=3)
        self.dismiss(LoginRequest(email=self._email))

    def action_cancel(self) -> None:
        self.dismiss(None)
