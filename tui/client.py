"""The async HTTP client for the Flashback API.

One :class:`FlashbackClient` (and so one long-lived ``httpx.AsyncClient``) per base
URL. It sends ``Authorization: Bearer`` and ``Accept: application/json``, refreshes
the access token before it expires and once after a 401 (one refresh at a time,
however many requests are waiting), caps the body size, and turns every failure
into one of the typed errors in :mod:`tui.errors` with a one-line message. No
message, log line or exception it produces contains a token.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import functools
import importlib.util
import ipaddress
import json
import logging
import socket
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import SplitResult, urlsplit

import httpx

from tui import __version__
from tui.aistats import AiStatsPage, AiStatsQuery, parse_aistats_response
from tui.errors import (
    ApiError,
    ApiTimeoutError,
    AuthError,
    BadResponseError,
    FlashtopError,
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
    one_line,
)
from tui.logsetup import track_secrets
from tui.models import (
    LlmConfig,
    LlmStats,
    StatsPage,
    Workspace,
    parse_llms_response,
    parse_stats_response,
    parse_workspaces_response,
)
from tui.tokens import AuthSession, TokenSet, parse_expires_at

# httpcore asks which async library it runs under a few times a request by importing
# sniffio; where sniffio is not installed, each ask is an import that fails after
# searching sys.path again (~0.1 ms a poll). None in sys.modules fails it at once.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

log = logging.getLogger("flashtop.client")

DEFAULT_BASE_URL = "https://backend.flashback.tech"
#: Bodies larger than this are refused rather than read into memory.
MAX_BODY_BYTES = 32 * 1024 * 1024
#: Successful bodies larger than this are decoded and parsed on a worker thread
#: (about 200 configurations; 10,000 take ~35 ms, which a key press should not wait for).
OFF_LOOP_BYTES = 64 * 1024
#: A Retry-After longer than this is treated as this.
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Explicit timeouts in seconds; httpx's default of 5 s for everything is not ours."""

    connect: float = 5.0
    read: float = 20.0
    write: float = 10.0
    pool: float = 5.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url_port(parts: SplitResult, what: str) -> None:
    """A usage error unless the URL's port, when it has one, is a number 1..65535."""
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raw = parts.netloc.rpartition(":")[2]
        raise UsageError(
            f"{what} has an invalid port {one_line(raw, 20)!r}: expected a number from 1 to 65535"
        )


def normalize_base_url(url: str) -> str:
    """Validate a base URL and return it without a trailing slash.

    Plain ``http://`` is accepted only for loopback hosts; credentials in the URL
    are refused because they would show up in process lists and logs.
    """
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"invalid base URL {one_line(text, 80)!r}: expected https://host[/prefix]")
    if parts.username or parts.password:
        raise UsageError("the base URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise UsageError("the base URL must not contain a query or fragment")
    check_url_port(parts, "the base URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise InsecureURLError(
            f"refusing plain http:// to {parts.hostname}: tokens would travel unencrypted; "
            "use https:// (http is allowed only for localhost)"
        )
    return text.rstrip("/")


def _header_safe(token: str) -> bool:
    """True when ``token`` can travel in an Authorization header: printable ASCII, no spaces."""
    return token.isascii() and token.isprintable() and " " not in token


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return min(float(text), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return min(max(when.timestamp() - now, 0.0), MAX_RETRY_AFTER)


def _server_message(body: bytes) -> str | None:
    """The ``message`` of a JSON error body, as one safe line; None if there is none."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict):
        msg = data.get("message") or data.get("error")
        if isinstance(msg, str) and msg.strip():
            return one_line(msg)
    return None


class ClientSettings(Protocol):
    """What building a client needs of the resolved settings (tui.settings.Settings)."""

    @property
    def base_url(self) -> str: ...

    @property
    def ca_bundle(self) -> str | None: ...


def client_for(
    settings: ClientSettings, session: AuthSession | None = None, **options: Any
) -> FlashbackClient:
    """The one way flashtop builds a client: from the resolved settings and a session
    (``options``: timeouts, max_body, transport, for tests)."""
    return FlashbackClient(settings.base_url, session, ca_bundle=settings.ca_bundle, **options)


class FlashbackClient:
    """Talks to one Flashback base URL with one connection pool."""

    def __init__(
        self,
        base_url: str,
        session: AuthSession | None = None,
        *,
        timeouts: Timeouts | None = None,
        ca_bundle: str | None = None,
        max_body: int = MAX_BODY_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.session = session or AuthSession(None, source="none")
        track_secrets(self.session)
        self.max_body = max_body
        self._refresh_lock = asyncio.Lock()
        #: The last page of every configuration, by id (see :func:`parse_stats_response`).
        self._known_stats: dict[str, LlmStats] = {}
        verify: ssl.SSLContext | bool = True
        if ca_bundle:
            try:
                verify = ssl.create_default_context(cafile=ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                reason = exc.strerror or exc
                raise UsageError(f"cannot use CA bundle {ca_bundle}: {reason}") from None
        self._http = httpx.AsyncClient(
            timeout=(timeouts or Timeouts()).to_httpx(),
            verify=verify,
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
            headers={"User-Agent": f"flashtop/{__version__}", "Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> FlashbackClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ endpoints

    async def get_stats(self, ai_llm_id: str | None = None) -> StatsPage:
        """``GET /ai/llm/stats``, optionally for one configuration.

        An empty id is refused rather than sent: ``aiLlmId=`` could mean every
        configuration or none, depending on the server.
        """
        if ai_llm_id is not None and not ai_llm_id.strip():
            raise UsageError("the configuration id is empty")
        params = {"aiLlmId": ai_llm_id} if ai_llm_id is not None else None
        # Every configuration: parse only those that changed since the last such page.
        parse = (
            functools.partial(parse_stats_response, known=self._known_stats)
            if ai_llm_id is None
            else parse_stats_response
        )
        page = await self.request("GET", "ai/llm/stats", params=params, parse=parse)
        assert isinstance(page, StatsPage)
        return page

    async def get_aistats_minute(self, query: AiStatsQuery | None = None) -> AiStatsPage:
        """``GET /aistats/minute``: per-minute rows (see :mod:`tui.aistats`)."""
        return await self._aistats("aistats/minute", query or AiStatsQuery())

    async def get_aistats_daily(self, query: AiStatsQuery | None = None) -> AiStatsPage:
        """``GET /aistats/daily``: per-day rows, the same shape as the minute ones."""
        return await self._aistats("aistats/daily", query or AiStatsQuery())

    async def _aistats(self, path: str, query: AiStatsQuery) -> AiStatsPage:
        local: frozenset[str] | None = None
        if query.ids_too_long():
            if query.repo_ids or query.repo_ai_api_key_ids:
                # Those are OR-ed with aiLlmId on the server: dropping it would change
                # what comes back, not just how much.
                raise UsageError("too many aiLlmId values to send together with repository filters")
            # Too long for a URL: ask for every configuration, keep the wanted ones here.
            local = frozenset(query.ai_llm_ids)
            query = dataclasses.replace(query, ai_llm_ids=())
        page = await self.request("GET", path, params=query.params(), parse=parse_aistats_response)
        assert isinstance(page, AiStatsPage)
        if local is not None:
            page = dataclasses.replace(
                page, rows=tuple(r for r in page.rows if r.ai_llm_id in local)
            )
        return page

    async def get_llms(self) -> tuple[LlmConfig, ...]:
        """``GET /ai/llm``: names and providers of the configurations."""
        return parse_llms_response(await self.request("GET", "ai/llm"))

    async def get_workspaces(self) -> tuple[Workspace, ...]:
        """``GET /workspace``."""
        return parse_workspaces_response(await self.request("GET", "workspace"))

    async def health(self) -> Mapping[str, Any]:
        """``GET /health`` (no token needed); raises if the API does not answer ok."""
        body = await self.request("GET", "health", auth=False)
        if not isinstance(body, dict):
            raise BadResponseError("unexpected /health response: not a JSON object")
        if body.get("status") != "ok":
            raise ServerError(f"the API reports it is unhealthy: {one_line(body.get('error'))}")
        return body

    async def login(self, email: str, password: str) -> TokenSet:
        """``POST /user/login``; returns the new tokens (the caller stores them).

        Raises :class:`~tui.errors.MfaRequiredError` (holding the partial token) when
        the account needs a second factor: finish with :meth:`verify_mfa_login`.
        """
        body = await self.request(
            "POST",
            "user/login",
            json_body={"email": email, "password": password},
            auth=False,
            secrets=(password,),
            action="login",
        )
        _raise_if_mfa(body)
        return self._tokens_from(body, "login", previous_refresh=None)

    async def verify_mfa_login(
        self, partial_token: str, code: str, mfa_type: str = "GOOGLE_AUTH"
    ) -> TokenSet:
        """``POST /mfa/verify-login`` with the partial token as Bearer and a one-time code.

        The answer's ``fullAccessToken`` and ``refreshToken`` become the new tokens;
        its expiry is unknown unless the server adds ``expiresAt``.
        """
        body = await self.request(
            "POST",
            "mfa/verify-login",
            json_body={"mfaType": mfa_type, "code": code},
            auth=False,
            bearer=partial_token,
            secrets=(partial_token, code),
            action="MFA verification",
        )
        return self._tokens_from(
            body, "MFA verification", previous_refresh=None, secrets=(partial_token, code)
        )

    async def logout(self, refresh_token: str, access_token: str | None = None) -> None:
        """``POST /user/logout``: revoke a refresh token (with ``access_token`` as
        Bearer when given: a server may refuse, and revoke nothing, without it)."""
        await self.request(
            "POST",
            "user/logout",
            json_body={"refresh_token": refresh_token, "refreshToken": refresh_token},
            auth=False,
            bearer=access_token,
            secrets=(refresh_token, *((access_token,) if access_token else ())),
            action="logout",
        )

    async def revoke(self, tokens: TokenSet) -> None:
        """Log out with stored tokens: revoke the refresh token with the access token
        as Bearer; if the server refuses that (the access token expired meanwhile),
        refresh once and revoke the refresh token that the refresh handed out."""
        if not tokens.refresh_token:
            raise UsageError("no refresh token to revoke")
        try:
            await self.logout(tokens.refresh_token, tokens.access_token)
        except AuthError:
            fresh = await self.refresh_tokens(tokens.refresh_token, tokens.access_token)
            await self.logout(fresh.refresh_token or tokens.refresh_token, fresh.access_token)

    async def refresh_tokens(self, refresh_token: str, access_token: str | None = None) -> TokenSet:
        """``POST /user/refresh`` with both spellings of the body key, and the (perhaps
        stale) access token as Bearer when there is one, as the official client does."""
        body = await self.request(
            "POST",
            "user/refresh",
            json_body={"refreshToken": refresh_token, "refresh_token": refresh_token},
            auth=False,
            bearer=access_token,
            secrets=(refresh_token, *((access_token,) if access_token else ())),
            action="refresh",
        )
        return self._tokens_from(body, "refresh", previous_refresh=refresh_token)

    # ------------------------------------------------------------------ auth

    async def _access_token(self) -> str:
        s = self.session
        if s.login_needed or s.tokens is None:
            raise LoginNeededError(f"login needed: {s.login_needed or 'not logged in'}")
        if s.needs_refresh_soon():
            await self._refresh(s.tokens.access_token)
        assert s.tokens is not None
        return s.tokens.access_token

    async def _refresh(self, stale_access: str) -> str:
        """Refresh once for everyone waiting; return the access token to use now."""
        s = self.session
        async with self._refresh_lock:
            current = s.tokens
            if s.login_needed:
                raise LoginNeededError(f"login needed: {s.login_needed}")
            if current is None:
                raise LoginNeededError("login needed: not logged in")
            # Someone else refreshed while we waited for the lock: use theirs.
            if current.access_token != stale_access and not s.needs_refresh_soon():
                return current.access_token
            if not current.refresh_token:
                reason = (
                    f"the access token from {s.source} was refused or has expired and "
                    "cannot be refreshed"
                )
                s.login_needed = reason
                raise LoginNeededError(f"login needed: {reason}")
            try:
                fresh = await self.refresh_tokens(current.refresh_token, current.access_token)
            except (AuthError, UnsuccessfulError, ForbiddenError, BadResponseError) as exc:
                adopted = await self._adopt_stored(current)
                if adopted is not None:
                    return adopted
                s.login_needed = f"token refresh failed: {exc.message}"
                raise LoginNeededError(f"login needed: {s.login_needed}") from None
            s.tokens = fresh
            s.refresh_count += 1
            log.info("access token refreshed (%d so far)", s.refresh_count)
            if s.persist is not None:
                try:
                    await asyncio.to_thread(s.persist, fresh)
                    s.persist_error = None
                except Exception as exc:  # storage trouble must not stop monitoring
                    s.persist_error = one_line(f"could not store refreshed tokens: {exc}")
                    log.warning("%s", s.persist_error)
            return fresh.access_token

    async def _adopt_stored(self, current: TokenSet) -> str | None:
        """After a refused refresh, use tokens another process stored meanwhile, if any."""
        s = self.session
        if s.reload is None:
            return None
        try:
            stored = await asyncio.to_thread(s.reload)
        except Exception:  # storage trouble: fall through to "login needed"
            return None
        if stored is None or stored.refresh_token in (None, current.refresh_token):
            return None
        log.info("adopted tokens rotated by another flashtop process")
        s.tokens = stored
        return stored.access_token

    def _tokens_from(
        self,
        body: object,
        action: str,
        previous_refresh: str | None,
        secrets: tuple[str, ...] = (),
    ) -> TokenSet:
        if not isinstance(body, dict):
            raise BadResponseError(f"unexpected {action} response: not a JSON object")
        if body.get("success") is False:
            msg = body.get("message")
            text = one_line(msg) if isinstance(msg, str) and msg.strip() else "no reason given"
            raise UnsuccessfulError(self._redact(f"{action} failed: {text}", secrets))
        # Login and refresh say accessToken (refresh also `token`, the same value);
        # MFA verification says fullAccessToken.
        access = next(
            (
                v
                for v in (body.get(k) for k in ("accessToken", "fullAccessToken", "token"))
                if isinstance(v, str) and v
            ),
            None,
        )
        if not isinstance(access, str) or not access:
            raise BadResponseError(f"unexpected {action} response: no access token")
        if not _header_safe(access):
            # It could never be sent (httpx would raise UnicodeEncodeError on every poll).
            raise BadResponseError(
                f"unexpected {action} response: the access token is not printable ASCII"
            )
        refresh = body.get("refreshToken")
        return TokenSet(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else previous_refresh,
            expires_at=parse_expires_at(body.get("expiresAt")),
            obtained_at=self.session.clock(),
        )

    # ------------------------------------------------------------------ transport

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: object = None,
        auth: bool = True,
        bearer: str | None = None,
        secrets: tuple[str, ...] = (),
        action: str | None = None,
        parse: Callable[[Any], object] | None = None,
    ) -> object:
        """Send one request and return its JSON body, or raise a typed error.

        ``parse`` turns the body into the caller's model; a large body is decoded
        and parsed on a worker thread, so keys are not queued behind it. With
        ``auth=False``, ``bearer`` (if any, and sendable) goes out as the
        Authorization header as it is: no refresh, no retry.
        """
        try:
            if not auth:
                token = bearer if bearer and _header_safe(bearer) else None
                return await self._once(method, path, params, json_body, token, action, parse)
            token = await self._access_token()
            if not _header_safe(token):
                reason = (
                    f"the access token from {self.session.source} holds characters "
                    "that cannot be sent in an HTTP header"
                )
                self.session.login_needed = reason
                raise LoginNeededError(f"login needed: {reason}")
            try:
                return await self._once(method, path, params, json_body, token, action, parse)
            except AuthError:
                token = await self._refresh(token)
                try:
                    return await self._once(method, path, params, json_body, token, action, parse)
                except AuthError as exc:
                    reason = f"the server refused a freshly refreshed token ({exc.message})"
                    self.session.login_needed = reason
                    raise LoginNeededError(f"login needed: {reason}") from None
        except FlashtopError as exc:
            exc.message = self._redact(exc.message, secrets)
            exc.args = (exc.message,)
            raise

    def _redact(self, text: str, extra: tuple[str, ...]) -> str:
        for secret in (*self.session.secrets(), *extra):
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def url_for(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json_body: object,
        token: str | None,
        action: str | None,
        parse: Callable[[Any], object] | None = None,
    ) -> object:
        url = self.url_for(path)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.monotonic()
        host = urlsplit(self.base_url).netloc
        try:
            async with self._http.stream(
                method, url, params=params, json=json_body, headers=headers
            ) as resp:
                body = await self._read_capped(resp)
        except httpx.TimeoutException as exc:
            kind = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for"
            raise ApiTimeoutError(f"timed out {kind} {host}") from None
        except httpx.ConnectError as exc:
            raise _connect_error(exc, host) from None
        except httpx.RemoteProtocolError:
            raise NetworkError(
                f"connection to {host} closed before the response was complete"
            ) from None
        except (httpx.ReadError, httpx.WriteError):
            raise NetworkError(f"connection to {host} was reset") from None
        except httpx.HTTPError as exc:
            raise NetworkError(f"request to {host} failed: {type(exc).__name__}") from None
        log.debug(
            "%s /%s -> %d (%d bytes, %.0f ms)",
            method,
            path.lstrip("/"),
            resp.status_code,
            len(body),
            (time.monotonic() - started) * 1000,
        )
        if len(body) > OFF_LOOP_BYTES and 200 <= resp.status_code < 300:
            return await asyncio.to_thread(self._interpret, resp, body, path, action, parse)
        return self._interpret(resp, body, path, action, parse)

    async def _read_capped(self, resp: httpx.Response) -> bytes:
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise BadResponseError(
                f"response too large ({int(declared) // (1024 * 1024)} MiB; "
                f"limit {self.max_body // (1024 * 1024)} MiB)"
            )
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.aiter_bytes():
            total += len(chunk)
            if total > self.max_body:
                raise BadResponseError(
                    f"response too large (over {self.max_body // (1024 * 1024)} MiB)"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _interpret(
        self,
        resp: httpx.Response,
        body: bytes,
        path: str,
        action: str | None,
        parse: Callable[[Any], object] | None = None,
    ) -> object:
        status = resp.status_code
        if 200 <= status < 300:
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                ctype = one_line(resp.headers.get("content-type", "no content type"), 60)
                raise BadResponseError(
                    f"the server sent a body that is not JSON (HTTP {status}, {ctype})"
                ) from None
            return parse(data) if parse is not None else data
        message = _server_message(body)
        if action is not None and status in (400, 401, 403):
            raise AuthError(f"{action} failed: {message or _status_line(resp)}")
        if status == 401:
            raise AuthError("the server refused the access token (expired or invalid)")
        if status == 403:
            raise ForbiddenError(f"insufficient permissions: {message or 'access denied'}")
        if status == 404:
            raise NotFoundError(
                f"not found: /{path.lstrip('/')} (is the base URL {self.base_url} right?)"
            )
        if status == 429:
            wait = _retry_after(resp.headers.get("retry-after"), time.time())
            hint = f"; retry after {wait:.0f} s" if wait is not None else ""
            raise RateLimitedError(f"rate limited by the server{hint}", retry_after=wait)
        if status >= 500:
            raise ServerError(f"server error: {message or _status_line(resp)}")
        detail = f": {message}" if message else ""
        raise ApiError(f"request rejected: {_status_line(resp)}{detail}")


#: Words in a login answer's message or error_code that mean "a second factor is due".
_MFA_WORDS = ("mfa", "multi-factor", "two-factor", "2fa", "verify-login")
#: Flags a login answer may use to say MFA is pending (none is documented).
_MFA_FLAGS = ("mfaRequired", "requiresMfa", "mfa_required", "mfaPending", "requireMfa")
#: Where the partial token may be (the documented LoginResponse has only accessToken).
_PARTIAL_KEYS = ("accessToken", "partialToken", "mfaToken", "token", "tempToken")


def _mentions_mfa(value: object) -> bool:
    return isinstance(value, str) and any(w in value.lower() for w in _MFA_WORDS)


def _raise_if_mfa(body: object) -> None:
    """Raise MfaRequiredError when a login answer says a second factor is needed.

    How Flashback signals it is not documented, so both forms count: a failure whose
    ``error_code`` or ``message`` mentions MFA, and a success that carries an MFA
    flag (or, with no refresh token, a message about MFA). Without a partial token
    nothing can be verified: that is an AuthError pointing at ``--with-token``.
    """
    if not isinstance(body, dict):
        return
    flagged = any(body.get(k) is True for k in _MFA_FLAGS)
    code, message = body.get("error_code"), body.get("message")
    if body.get("success") is False:
        pending = flagged or _mentions_mfa(code) or _mentions_mfa(message)
    else:
        pending = flagged or (
            not body.get("refreshToken") and (_mentions_mfa(code) or _mentions_mfa(message))
        )
    if not pending:
        return
    partial = next(
        (v for v in (body.get(k) for k in _PARTIAL_KEYS) if isinstance(v, str) and v), None
    )
    text = one_line(message) if isinstance(message, str) and message.strip() else ""
    if partial is not None:
        text = text.replace(partial, "***")
    if partial is None or not _header_safe(partial):
        raise AuthError(
            f"login failed: {text or 'multi-factor authentication required'} (this account "
            "uses multi-factor authentication and the server sent no token to complete it "
            "with; get a token from Flashback and use `flashtop login --with-token`)"
        )
    raise MfaRequiredError(text or "multi-factor authentication required", partial)


def _status_line(resp: httpx.Response) -> str:
    return f"HTTP {resp.status_code} {one_line(resp.reason_phrase, 60)}".strip()


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from (httpx wraps the OS error)."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def _connect_error(exc: httpx.ConnectError, host: str) -> NetworkError:
    chain = _causes(exc)
    low = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ssl.SSLError) for e in chain) or "certificate" in low:
        return TLSError(
            f"TLS certificate of {host} could not be verified; if it is signed by a private "
            "CA, pass it with --ca-bundle FILE"
        )
    if any(isinstance(e, socket.gaierror) for e in chain) or (
        "name or service not known" in low
        or "nodename nor servname" in low
        or "name resolution" in low
        or "no address associated" in low
    ):
        return NetworkError(f"cannot resolve host {host.rsplit(':', 1)[0]}")
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in low:
        return NetworkError(f"connection refused by {host}")
    if "unreachable" in low:
        return NetworkError(f"network unreachable: {host}")
    return NetworkError(f"cannot connect to {host}")
