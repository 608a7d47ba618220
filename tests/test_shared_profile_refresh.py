"""Two flashtop processes on one profile share rotated refresh tokens via the store."""

from __future__ import annotations

from tui.client import FlashbackClient
from tui.demo_server import DEMO_EMAIL, DEMO_PASSWORD, DemoServer
from tui.tokens import AuthSession, TokenSet


async def test_refused_refresh_adopts_tokens_rotated_by_another_process() -> None:
    with DemoServer() as server:
        shelf: dict[str, TokenSet] = {}

        def session() -> AuthSession:
            s = AuthSession(
                shelf["t"],
                source="test",
                persist=lambda t: shelf.update(t=t),
                reload=lambda: shelf.get("t"),
            )
            return s

        async with FlashbackClient(server.base_url) as bootstrap:
            shelf["t"] = await bootstrap.login(DEMO_EMAIL, DEMO_PASSWORD)
        a, b = session(), session()
        async with (
            FlashbackClient(server.base_url, a) as ca,
            FlashbackClient(server.base_url, b) as cb,
        ):
            server.expire_all_access_tokens()
            await ca.get_stats()  # A refreshes: the old refresh token is now revoked
            assert a.refresh_count == 1
            # B still holds the revoked refresh token; its refresh is refused, so it
            # must pick up A's rotated tokens from the store instead of giving up.
            page = await cb.get_stats()
            assert page.stats
            assert b.login_needed is None
            assert b.tokens is not None and b.tokens.refresh_token == shelf["t"].refresh_token


async def test_refused_refresh_without_newer_stored_tokens_needs_login() -> None:
    with DemoServer() as server:
        async with FlashbackClient(server.base_url) as bootstrap:
            tokens = await bootstrap.login(DEMO_EMAIL, DEMO_PASSWORD)
            await bootstrap.logout(tokens.refresh_token or "", tokens.access_token)
        s = AuthSession(tokens, source="test", reload=lambda: tokens)
        async with FlashbackClient(server.base_url, s) as c:
            server.expire_all_access_tokens()
            try:
                await c.get_stats()
            except Exception as exc:
                assert type(exc).__name__ == "LoginNeededError"
            else:
                raise AssertionError("a revoked refresh token must end in login needed")
        assert s.login_needed is not None
