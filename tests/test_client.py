"""Tests of tui.client.FlashbackClient against the real simulated backend over loopback.

Only the narrow header/URL/redaction checks use ``httpx.MockTransport``; every fault
switch, refresh and network failure goes through real sockets to a DemoServer.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from tui.client import FlashbackClient, Timeouts, normalize_base_url
from tui.demo_server import DEMO_EMAIL, DEMO_MFA_CODE, DEMO_PASSWORD, MFA_EMAIL, DemoServer
from tui.errors import (
    ApiError,
    ApiTimeoutError,
    AuthError,
    BadResponseError,
    ForbiddenError,
    InsecureURLError,
    LoginNeededError,
    MfaRequiredError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TLSError,
    UnsuccessfulError,
    UsageError,
)
from tui.tokens import AuthSession, TokenSet, parse_expires_at

STATS = "/ai/llm/stats"
REFRESH = "/user/refresh"


class FakeClock:
    """A clock moved by hand, shared by the server and the session."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def session_for(
    access: str, refresh: str | None = None, clock: Callable[[], float] = time.time
) -> AuthSession:
    return AuthSession(TokenSet(access, refresh), source="test", clock=clock)


def assert_no_secrets(exc: BaseException, *secrets: str) -> None:
    """No token appears in the message, the repr or the args of an error."""
    texts = [str(exc), repr(exc), *(str(a) for a in exc.args), *(repr(a) for a in exc.args)]
    for secret in secrets:
        for text in texts:
            assert secret not in text


def free_port() -> int:
    """A loopback port nobody listens on (bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def tokens(demo_server: DemoServer) -> tuple[str, str]:
    return demo_server.issue_tokens()


@pytest.fixture
async def client(
    demo_server: DemoServer, tokens: tuple[str, str]
) -> AsyncIterator[FlashbackClient]:
    """A client with a valid, refreshable token pair for the demo server."""
    async with FlashbackClient(
        demo_server.base_url, session_for(*tokens), timeouts=Timeouts(connect=2, read=5)
    ) as c:
        yield c


async def fail_with(
    client: FlashbackClient, tokens: tuple[str, ...], cls: type[ApiError]
) -> ApiError:
    """Call get_stats, require exactly ``cls``, and check no token leaks."""
    with pytest.raises(ApiError) as info:
        await client.get_stats()
    exc = info.value
    assert type(exc) is cls, f"expected {cls.__name__}, got {type(exc).__name__}: {exc}"
    assert "\n" not in str(exc)
    assert_no_secrets(exc, *tokens)
    return exc


# ---------------------------------------------------------------- the happy path


async def test_get_stats_returns_every_configuration_with_exact_ints(
    client: FlashbackClient, demo_server: DemoServer
) -> None:
    page = await client.get_stats()
    assert len(page.stats) == 12
    assert {s.ai_llm_id for s in page.stats} == {llm["id"] for llm in demo_server.llms}
    assert all(type(v) is int for s in page.stats for v in s.values)
    assert page.invalid_cells == page.missing_cells == page.skipped == 0


async def test_request_carries_a_bearer_token_the_server_accepts(
    client: FlashbackClient, demo_server: DemoServer
) -> None:
    await client.get_stats()
    last = demo_server.requests[-1]
    assert (last.method, last.path, last.status) == ("GET", STATS, 200)
    assert last.authorized is True


async def test_get_stats_with_id_sends_ai_llm_id_query(
    client: FlashbackClient, demo_server: DemoServer
) -> None:
    wanted = demo_server.llms[3]["id"]
    page = await client.get_stats(wanted)
    assert demo_server.request_count(STATS, aiLlmId=wanted) == 1
    assert demo_server.request_count(STATS) == 1
    assert [s.ai_llm_id for s in page.stats] == [wanted]


async def test_get_llms_gives_names_and_never_keys(
    client: FlashbackClient, demo_server: DemoServer
) -> None:
    configs = await client.get_llms()
    assert [c.name for c in configs][:3] == ["support-bot", "code-review", "search-rerank"]
    assert all(not hasattr(c, "key") for c in configs)


async def test_headers_accept_json_and_authorization_bearer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True, "stats": []})

    session = session_for("access-token-123")
    async with FlashbackClient(
        "https://host.example", session, transport=httpx.MockTransport(handler)
    ) as c:
        await c.get_stats()
    (request,) = seen
    assert request.headers["accept"] == "application/json"
    assert request.headers["authorization"] == "Bearer access-token-123"
    assert request.headers["user-agent"].startswith("flashtop/")


@pytest.mark.parametrize("base", ["https://host.example/prefix", "https://host.example/prefix/"])
async def test_base_url_path_prefix_is_kept(base: str) -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"success": True, "stats": []})

    async with FlashbackClient(
        base, session_for("tok-abcdef"), transport=httpx.MockTransport(handler)
    ) as c:
        await c.get_stats("x-1")
        await c.get_stats()
    assert [str(u) for u in seen] == [
        "https://host.example/prefix/ai/llm/stats?aiLlmId=x-1",
        "https://host.example/prefix/ai/llm/stats",
    ]


# ---------------------------------------------------------------- normalize_base_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://localhost", "http://localhost"),
        ("http://[::1]:9", "http://[::1]:9"),
        ("http://127.9.9.9/x/", "http://127.9.9.9/x"),
        ("https://example.com/prefix/", "https://example.com/prefix"),
        ("  https://example.com  ", "https://example.com"),
    ],
)
def test_normalize_base_url_accepts_https_and_loopback_http(url: str, expected: str) -> None:
    assert normalize_base_url(url) == expected


@pytest.mark.parametrize(
    "url", ["http://example.com", "http://10.0.0.1:8080", "http://localhost.example.com"]
)
def test_normalize_base_url_refuses_plain_http_off_this_machine(url: str) -> None:
    with pytest.raises(InsecureURLError, match="http"):
        normalize_base_url(url)


@pytest.mark.parametrize(
    "url", ["https://user:pw@example.com", "https://user@example.com", "http://a:b@127.0.0.1"]
)
def test_normalize_base_url_refuses_credentials(url: str) -> None:
    with pytest.raises(UsageError) as info:
        normalize_base_url(url)
    assert "pw" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com", "example.com", "https://", "https://e.com/?q=1", "https://e.com/#f"],
)
def test_normalize_base_url_refuses_non_urls(url: str) -> None:
    with pytest.raises(UsageError):
        normalize_base_url(url)


def test_client_constructor_validates_the_base_url() -> None:
    with pytest.raises(InsecureURLError):
        FlashbackClient("http://example.com", session_for("tok"))


# ---------------------------------------------------------------- one test per fault


async def test_expired_without_refresh_token_needs_login(
    demo_server: DemoServer, tokens: tuple[str, str]
) -> None:
    demo_server.set_fault("expired")
    async with FlashbackClient(demo_server.base_url, session_for(tokens[0])) as c:
        exc = await fail_with(c, tokens, LoginNeededError)
        assert "login" in str(exc)
        assert c.session.login_needed
    assert demo_server.request_count(REFRESH) == 0


async def test_single_401_is_survived_by_one_refresh_and_retry(
    client: FlashbackClient, demo_server: DemoServer, tokens: tuple[str, str]
) -> None:
    demo_server.set_fault("expired", count=1)
    page = await client.get_stats()
    assert len(page.stats) == 12
    assert demo_server.request_count(REFRESH) == 1
    assert [r.status for r in demo_server.requests if r.path == STATS] == [401, 200]
    assert client.session.refresh_count == 1
    assert client.session.tokens is not None
    assert client.session.tokens.access_token != tokens[0]
    assert client.session.tokens.refresh_token not in (None, tokens[1])  # rotated


async def test_401_after_a_fresh_refresh_gives_up_with_login_needed(
    client: FlashbackClient, demo_server: DemoServer, tokens: tuple[str, str]
) -> None:
    demo_server.set_fault("expired")
    exc = await fail_with(client, tokens, LoginNeededError)
    assert "refreshed" in str(exc)
    assert demo_server.request_count(REFRESH) == 1
    assert demo_server.request_count(STATS) == 2
    assert client.session.tokens is not None
    assert_no_secrets(exc, *client.session.secrets())


async def test_forbidden_carries_the_server_message(
    client: FlashbackClient, tokens: tuple[str, str], demo_server: DemoServer
) -> None:
    demo_server.set_fault("forbidden", count=1)
    exc = await fail_with(client, tokens, ForbiddenError)
    assert "Insufficient permissions to view AI LLM statistics" in str(exc)
    assert demo_server.request_count(REFRESH) == 0


async def test_not_found_names_the_path(
    client: FlashbackClient, tokens: tuple[str, str], demo_server: DemoServer
) -> None:
    demo_server.set_fault("not_found", count=1)
    exc = await fail_with(client, tokens, NotFoundError)
    assert "/ai/llm/stats" in str(exc)


async def test_rate_limit_with_retry_after_header(
    client: FlashbackClient, tokens: tuple[str, str], demo_server: DemoServer
) -> None:
    demo_server.set_fault("rate_limit", count=1, retry_after=7)
    exc = await fail_with(client, tokens, RateLimitedError)
    assert exc.retry_after == 7
    assert "rate limited" in str(exc)


async def test_rate_limit_without_retry_after_header(
    client: FlashbackClient, tokens: tuple[str, str], demo_server: DemoServer
) -> None:
    demo_server.set_fault("rate_limit", count=1)
    exc = await fail_with(client, tokens, RateLimitedError)
    assert exc.retry_after is None


async def test_server_error_carries_the_server_message(
    client: FlashbackClient, tokens: tuple[str, str], demo_server: DemoServer
) -> None:
    demo_server.set_fault("server_error", count=1)
    exc = await fail_with(client, tokens, ServerError)
    assert "Failed to retrieve statistics" in str(exc)


@pytest.mark.parametrize(("fault", "status"), [("bad_gateway", "502"), ("unavailable", "503")])
async def test_html_gateway_errors_are_server_errors_without_markup(
    client: FlashbackClient,
    tokens: tuple[str, str],
    demo_server: DemoServer,
    fault: str,
    status: str,
) -> None:
    demo_server.set_fault(fault, count=1)
    exc = await fail_with(client, tokens, ServerError)
    assert status in str(exc)
    assert not re.search(r"<[^>]*>", str(exc))
    assert "html" not in str(exc).lower()


async def test_slow_answer_times_out(demo_server: DemoServer, tokens: tuple[str, str]) -> None:
    demo_server.set_fault("slow", count=1, delay=2.0)
    started = time.monotonic()
    async with FlashbackClient(
        demo_server.base_url, session_for(*tokens), timeouts=Timeouts(read=0.5)
    ) as c:
        exc = await fail_with(c, tokens, ApiTimeoutError)
    assert time.monotonic() - started < 1.8
    assert "timed out" in str(exc)


async def test_connection_reset_is_network_error(
    client: FlashbackClient, tokens: tuple[str, str], demo_server: DemoServer
) -> None:
    demo_server.set_fault("reset", count=1)
    exc = await fail_with(client, tokens, NetworkError)
    assert "reset" in str(exc) or "closed" in str(exc)


async def test_truncated_body_is_network_error(
    client: FlashbackClient, tokens: tuple[str, str], demo_server: DemoServer
) -> None:
    demo_server.set_fault("truncated", count=1)
    exc = await fail_with(client, tokens, NetworkError)
    assert "closed" in str(exc) or "incomplete" in str(exc)


async def test_malformed_json_is_bad_response(
    client: FlashbackClient, tokens: tuple[str, str], demo_server: DemoServer
) -> None:
    demo_server.set_fault("malformed", count=1)
    exc = await fail_with(client, tokens, BadResponseError)
    assert "not JSON" in str(exc)


async def test_unsuccessful_carries_the_server_message(
    client: FlashbackClient, tokens: tuple[str, str], demo_server: DemoServer
) -> None:
    demo_server.set_fault("unsuccessful", count=1)
    exc = await fail_with(client, tokens, UnsuccessfulError)
    assert "Statistics temporarily unavailable" in str(exc)


async def test_wrong_shape_is_bad_response(
    client: FlashbackClient, tokens: tuple[str, str], demo_server: DemoServer
) -> None:
    demo_server.set_fault("wrong_shape", count=1)
    exc = await fail_with(client, tokens, BadResponseError)
    assert "not a list" in str(exc)


async def test_huge_body_is_refused_quickly(
    client: FlashbackClient, tokens: tuple[str, str], demo_server: DemoServer
) -> None:
    demo_server.set_fault("huge", count=1)
    started = time.monotonic()
    exc = await fail_with(client, tokens, BadResponseError)
    assert time.monotonic() - started < 3.0
    assert "too large" in str(exc)
    # The client is still usable afterwards.
    assert len((await client.get_stats()).stats) == 12


async def test_body_over_cap_without_content_length_is_refused_while_streaming() -> None:
    sent: list[int] = []

    async def stream() -> AsyncIterator[bytes]:
        yield b'{"success":true,"stats":[],"pad":"'
        for _ in range(1000):
            sent.append(1)
            yield b"x" * 1024
        yield b'"}'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=stream())

    async with FlashbackClient(
        "https://host.example",
        session_for("tok-abcdef"),
        max_body=16 * 1024,
        transport=httpx.MockTransport(handler),
    ) as c:
        with pytest.raises(BadResponseError, match="too large"):
            await c.get_stats()
    assert len(sent) < 100  # stopped reading soon after the cap


async def test_connection_refused_is_network_error_saying_refused(
    tokens: tuple[str, str],
) -> None:
    async with FlashbackClient(f"http://127.0.0.1:{free_port()}", session_for(*tokens)) as c:
        exc = await fail_with(c, tokens, NetworkError)
    assert "refused" in str(exc)


async def test_dns_failure_is_network_error_not_tls(tokens: tuple[str, str]) -> None:
    async with FlashbackClient(
        "https://nonexistent.invalid", session_for(*tokens), timeouts=Timeouts(connect=3)
    ) as c:
        with pytest.raises(NetworkError) as info:
            await c.get_stats()
    assert not isinstance(info.value, TLSError)
    assert_no_secrets(info.value, *tokens)


async def test_faults_clear_and_client_recovers(
    client: FlashbackClient, demo_server: DemoServer
) -> None:
    demo_server.set_fault("server_error", count=2)
    for _ in range(2):
        with pytest.raises(ServerError):
            await client.get_stats()
    assert len((await client.get_stats()).stats) == 12


# ---------------------------------------------------------------- refresh


async def test_proactive_refresh_keeps_polling_working_in_real_time() -> None:
    with DemoServer(token_lifetime=2.0) as server:
        session = AuthSession(None, source="test")
        async with FlashbackClient(server.base_url, session) as c:
            session.replace(await c.login(DEMO_EMAIL, DEMO_PASSWORD))
            assert session.tokens is not None and session.tokens.expires_at is not None
            deadline = time.monotonic() + 5.0
            polls = 0
            while time.monotonic() < deadline:
                page = await c.get_stats()  # any error here is a 401 reaching the caller
                assert len(page.stats) == 12
                polls += 1
                await asyncio.sleep(0.1)
        statuses = [r.status for r in server.requests if r.path == STATS]
    assert polls >= 20
    assert session.refresh_count >= 2
    assert server.request_count(REFRESH) == session.refresh_count
    assert 401 not in statuses  # refreshed *before* expiry, not after a refusal


@pytest.mark.parametrize("fmt", ["iso", "seconds", "millis"])
async def test_proactive_refresh_with_every_expires_format(fmt: str) -> None:
    clock = FakeClock()
    with DemoServer(token_lifetime=60.0, clock=clock, expires_format=fmt) as server:
        session = AuthSession(None, source="test", clock=clock)
        async with FlashbackClient(server.base_url, session) as c:
            session.replace(await c.login(DEMO_EMAIL, DEMO_PASSWORD))
            for _ in range(20):  # 300 simulated seconds: five lifetimes
                clock.now += 15.0
                assert len((await c.get_stats()).stats) == 12
        statuses = [r.status for r in server.requests if r.path == STATS]
    assert session.refresh_count >= 4
    assert statuses == [200] * 20


async def test_unknown_expiry_falls_back_to_refresh_on_first_401() -> None:
    clock = FakeClock()
    with DemoServer(token_lifetime=60.0, clock=clock, expires_format="none") as server:
        session = AuthSession(None, source="test", clock=clock)
        async with FlashbackClient(server.base_url, session) as c:
            session.replace(await c.login(DEMO_EMAIL, DEMO_PASSWORD))
            assert session.tokens is not None and session.tokens.expires_at is None
            for _ in range(10):
                clock.now += 25.0
                assert len((await c.get_stats()).stats) == 12
        statuses = [r.status for r in server.requests if r.path == STATS]
    assert session.refresh_count >= 3
    assert statuses.count(401) == session.refresh_count
    assert statuses.count(200) == 10


async def test_concurrent_requests_share_one_refresh(
    client: FlashbackClient, demo_server: DemoServer
) -> None:
    await client.get_stats()
    demo_server.expire_all_access_tokens()
    pages = await asyncio.gather(*(client.get_stats() for _ in range(10)))
    assert all(len(p.stats) == 12 for p in pages)
    assert demo_server.request_count(REFRESH) == 1
    assert client.session.refresh_count == 1


@pytest.mark.parametrize("how", ["invalid", "revoked"])
async def test_refresh_failure_needs_login_and_stops_calling_the_server(
    demo_server: DemoServer, how: str
) -> None:
    access, refresh = demo_server.issue_tokens()
    session = session_for(access, refresh)
    async with FlashbackClient(demo_server.base_url, session) as c:
        if how == "invalid":
            session.tokens = TokenSet(access, "not-a-real-refresh-token")
        else:
            await c.logout(refresh, access)
        demo_server.expire_all_access_tokens()
        secrets = (access, refresh, "not-a-real-refresh-token")
        first = await fail_with(c, secrets, LoginNeededError)
        assert "refresh" in str(first)
        assert demo_server.request_count(REFRESH) == 1
        before = len(demo_server.requests)
        second = await fail_with(c, secrets, LoginNeededError)
        assert len(demo_server.requests) == before  # no new request reached the server
        assert "login" in str(second)
        with pytest.raises(LoginNeededError):
            await c.get_llms()
        assert len(demo_server.requests) == before


async def test_new_login_clears_login_needed(demo_server: DemoServer) -> None:
    session = AuthSession(None, source="test")
    async with FlashbackClient(demo_server.base_url, session) as c:
        with pytest.raises(LoginNeededError):
            await c.get_stats()
        assert demo_server.requests == []
        session.replace(await c.login(DEMO_EMAIL, DEMO_PASSWORD))
        assert len((await c.get_stats()).stats) == 12


async def test_login_with_wrong_password_never_echoes_it(demo_server: DemoServer) -> None:
    async with FlashbackClient(demo_server.base_url) as c:
        with pytest.raises(ApiError) as info:
            await c.login(DEMO_EMAIL, "hunter2-wrong")
    assert "Invalid email or password" in str(info.value)
    assert_no_secrets(info.value, "hunter2-wrong")


# ---------------------------------------------------------------- redaction


@pytest.fixture
def echo_transport() -> Iterator[Callable[[int], httpx.MockTransport]]:
    """A transport whose error message echoes the Authorization header back."""

    def make(status: int) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            auth = request.headers.get("authorization", "")
            body = {"success": False, "message": f"token {auth.split()[-1]} is not allowed"}
            return httpx.Response(status, content=json.dumps(body).encode())

        return httpx.MockTransport(handler)

    yield make


@pytest.mark.parametrize(
    ("status", "cls"), [(403, ForbiddenError), (500, ServerError), (418, ApiError)]
)
async def test_server_message_echoing_the_token_is_redacted(
    echo_transport: Callable[[int], httpx.MockTransport], status: int, cls: type[ApiError]
) -> None:
    access, refresh = "acc-SECRET-0123456789", "ref-SECRET-9876543210"
    async with FlashbackClient(
        "https://host.example", session_for(access, refresh), transport=echo_transport(status)
    ) as c:
        exc = await fail_with(c, (access, refresh), cls)
    assert "***" in str(exc)
    assert "is not allowed" in str(exc)


async def test_refresh_error_echoing_the_refresh_token_is_redacted() -> None:
    access, refresh = "acc-SECRET-0123456789", "ref-SECRET-9876543210"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/user/refresh":
            token = json.loads(request.content)["refreshToken"]
            return httpx.Response(401, json={"success": False, "message": f"bad token {token}"})
        return httpx.Response(401, json={"success": False, "message": "expired"})

    async with FlashbackClient(
        "https://host.example", session_for(access, refresh), transport=httpx.MockTransport(handler)
    ) as c:
        exc = await fail_with(c, (access, refresh), LoginNeededError)
        assert c.session.login_needed is not None
        assert refresh not in c.session.login_needed
    assert "bad token" in str(exc)


@pytest.mark.parametrize(
    "value",
    [1_777_975_200_000, "1777975200000", 1_777_975_200, "1777975200", 1_777_975_200_000.0,
     "2026-05-05T10:00:00.000Z", "2026-05-05T10:00:00+00:00"],
)  # fmt: skip
def test_expires_at_is_read_as_a_number_or_a_string(value: object) -> None:
    """The client types expiresAt as a number (epoch ms); older docs show strings."""
    assert parse_expires_at(value) == 1_777_975_200


@pytest.mark.parametrize("value", [None, True, "soon", -1, 0, [], {"ms": 1}])
def test_unreadable_expires_at_is_unknown(value: object) -> None:
    assert parse_expires_at(value) is None


async def test_login_and_refresh_answers_of_the_official_shape_give_exact_expiry() -> None:
    clock = FakeClock(1_750_000_000.0)
    with DemoServer(token_lifetime=3600.0, clock=clock) as server:
        async with FlashbackClient(server.base_url, AuthSession(None, source="t")) as c:
            first = await c.login(DEMO_EMAIL, DEMO_PASSWORD)
            assert first.expires_at == clock.now + 3600.0
            assert first.refresh_token
            clock.now += 60
            second = await c.refresh_tokens(first.refresh_token, first.access_token)
            assert second.expires_at == clock.now + 3600.0
            assert second.access_token != first.access_token
    refresh = [r for r in server.requests if r.path == "/user/refresh"]
    assert [r.bearer for r in refresh] == [True]


async def test_mfa_login_raises_with_the_partial_token_and_verify_login_finishes_it() -> None:
    with DemoServer() as server:
        async with FlashbackClient(server.base_url, AuthSession(None, source="t")) as c:
            with pytest.raises(MfaRequiredError) as info:
                await c.login(MFA_EMAIL, DEMO_PASSWORD)
            partial = info.value.partial_token
            assert partial not in str(info.value) + repr(info.value)
            assert "MFA verification required" in str(info.value)
            with pytest.raises(AuthError, match="Invalid MFA code") as bad:
                await c.verify_mfa_login(partial, "111111")
            assert "111111" not in str(bad.value)
            tokens = await c.verify_mfa_login(partial, DEMO_MFA_CODE)
            c.session.replace(tokens)
            assert len((await c.get_stats()).stats) == 12
    (verify, *_) = [r for r in server.requests if r.path == "/mfa/verify-login"]
    assert verify.bearer


@pytest.mark.parametrize(
    "body",
    [
        {"success": False, "error_code": "MFA_REQUIRED", "message": "x"},
        {"success": False, "message": "Two-factor authentication required"},
        {"success": True, "mfaRequired": True},
    ],
)
async def test_mfa_without_a_partial_token_points_at_with_token(body: dict[str, object]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    transport = httpx.MockTransport(answer)
    async with FlashbackClient("https://api.example", transport=transport) as c:
        with pytest.raises(AuthError, match="--with-token") as info:
            await c.login("a@b.c", "pw")
    assert not isinstance(info.value, MfaRequiredError)


@pytest.mark.parametrize("blank", ["", "  "])
async def test_an_empty_configuration_id_is_never_sent(
    demo_server: DemoServer, tokens: tuple[str, str], blank: str
) -> None:
    async with FlashbackClient(demo_server.base_url, session_for(*tokens)) as c:
        with pytest.raises(UsageError, match="empty"):
            await c.get_stats(blank)
    assert demo_server.requests == []
