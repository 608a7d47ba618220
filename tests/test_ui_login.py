"""Logging in from inside the TUI: the login screen, storing tokens, and the demo offer."""

from __future__ import annotations

from textual.widgets import Input
from ui_helpers import FakeClock, settle, wait_for

from tui.app import FlashtopApp
from tui.demo_server import DEMO_EMAIL, DEMO_MFA_CODE, DEMO_PASSWORD, MFA_EMAIL, DemoServer
from tui.poller import ConnState
from tui.screens.login import LoginScreen
from tui.settings import Settings
from tui.tokens import AuthSession, TokenSet


class MemoryStore:
    """Stands in for the keyring: remembers what the app saves."""

    def __init__(self) -> None:
        self.saved: list[TokenSet] = []

    def save(self, tokens: TokenSet) -> None:
        self.saved.append(tokens)


def app_without_credentials(server: DemoServer, store: MemoryStore) -> FlashtopApp:
    session = AuthSession(None, source="keyring")
    return FlashtopApp(
        Settings(profile="work", base_url=server.base_url, interval=60.0),
        session,
        store=store,
        clock=FakeClock(),
        mark_changes=False,
    )


async def test_without_credentials_the_login_screen_logs_in_stores_and_starts_polling() -> None:
    with DemoServer() as server:
        store = MemoryStore()
        app = app_without_credentials(server, store)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), message="login")
            assert server.request_count("/ai/llm/stats") == 0  # nothing to send yet
            await pilot.click("#login-email")
            await pilot.press(*DEMO_EMAIL, "enter", *"wrong-password", "enter")
            await wait_for(
                pilot,
                lambda: (
                    "Invalid email or password" in str(app.screen.query_one("#login-error").content)
                ),
                message="the server's refusal on the login screen",
            )
            assert isinstance(app.screen, LoginScreen) and not store.saved
            await pilot.press(*DEMO_PASSWORD, "enter")
            await wait_for(
                pilot, lambda: app.monitor.poller.status.state is ConnState.LIVE, message="live"
            )
            assert not isinstance(app.screen, LoginScreen)
            assert len(store.saved) == 1 and store.saved[0].refresh_token
            assert app.monitor.session.tokens is store.saved[0]
            assert len(app.overview.table.order) == 12


async def test_login_needed_after_a_failed_refresh_can_be_fixed_without_restarting() -> None:
    with DemoServer() as server:
        access, refresh = server.issue_tokens()
        store = MemoryStore()
        session = AuthSession(TokenSet(access, refresh), source="keyring")
        app = FlashtopApp(
            Settings(profile="work", base_url=server.base_url, interval=60.0),
            session,
            store=store,
            clock=FakeClock(),
            mark_changes=False,
        )
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.monitor.poller.status.state is ConnState.LIVE)
            # Both tokens stop working: the refresh is refused, so login is needed.
            server.expire_all_access_tokens()
            server.revoke_all_refresh_tokens()
            app.monitor.poll_now()
            await wait_for(pilot, lambda: app.monitor.poller.status.state is ConnState.LOGIN_NEEDED)
            assert "login needed" in str(app.overview.status_bar.content)
            before = server.request_count("/ai/llm/stats")
            await settle(pilot, 1.0)
            assert server.request_count("/ai/llm/stats") == before  # no retry loop
            await pilot.press("l")
            await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen))
            await pilot.press(*DEMO_EMAIL, "enter", *DEMO_PASSWORD, "enter")
            await wait_for(pilot, lambda: app.monitor.poller.status.state is ConnState.LIVE)
            assert len(store.saved) == 1


async def test_the_login_screen_offers_the_demo_instead() -> None:
    with DemoServer() as server:
        app = app_without_credentials(server, MemoryStore())
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen))
            await pilot.click("#login-demo")
            await wait_for(
                pilot,
                lambda: app.monitor.settings.demo and len(app.overview.table.order) == 12,
                timeout=10,
                message="demo data",
            )
            assert app.monitor.settings.base_url != server.base_url
            assert app.monitor.poller.status.state is ConnState.LIVE
            assert server.request_count("/ai/llm/stats") == 0


async def test_an_mfa_account_is_asked_for_the_code_on_the_login_screen() -> None:
    """Issue 17: the password is accepted with a partial token; the screen asks for the
    authenticator's code, shows a wrong one's refusal, and finishes the login with
    POST /mfa/verify-login. The partial token never reaches the screen."""
    with DemoServer() as server:
        store = MemoryStore()
        app = app_without_credentials(server, store)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), message="login")
            screen = app.screen
            assert isinstance(screen, LoginScreen)
            code_box = screen.query_one("#login-code", Input)
            assert not code_box.display or not code_box.parent.display  # type: ignore[union-attr]
            await pilot.click("#login-email")
            await pilot.press(*MFA_EMAIL, "enter", *DEMO_PASSWORD, "enter")
            await wait_for(
                pilot, lambda: screen.query_one("#login-box").has_class("-mfa"), message="MFA"
            )
            assert app.focused is code_box
            assert "MFA verification required" in str(screen.query_one("#login-mfa-note").content)
            assert not screen.query_one("#login-password", Input).value  # forgotten
            partial = screen._partial
            assert partial and partial not in app.export_screenshot()
            await pilot.press(*"000000", "enter")
            await wait_for(
                pilot,
                lambda: "Invalid MFA code" in str(screen.query_one("#login-error").content),
                message="the refusal",
            )
            assert not store.saved and isinstance(app.screen, LoginScreen)
            await pilot.press(*DEMO_MFA_CODE, "enter")
            await wait_for(
                pilot, lambda: app.monitor.poller.status.state is ConnState.LIVE, message="live"
            )
            assert not isinstance(app.screen, LoginScreen)
            assert len(store.saved) == 1 and store.saved[0].refresh_token
            assert app.monitor.session.tokens is store.saved[0]
    verify = [r for r in server.requests if r.path == "/mfa/verify-login"]
    assert [r.status for r in verify] == [401, 200] and all(r.bearer for r in verify)
