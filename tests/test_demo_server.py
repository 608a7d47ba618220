"""Tests of the simulated Flashback backend, over real HTTP with only the standard library.

Other tests and the benchmarks trust :mod:`tui.demo_server` to behave like the documented
API and to fail in exactly the advertised ways, so these tests pin both down.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tui.demo_server import (
    COUNTERS,
    DEMO_EMAIL,
    DEMO_MFA_CODE,
    DEMO_PASSWORD,
    MFA_EMAIL,
    DemoServer,
)

STATS = "/ai/llm/stats"
ROOT = Path(__file__).resolve().parent.parent


class FakeClock:
    """A clock the test moves by hand: ``clock.now += 60``."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Reply:
    """One HTTP answer: status, headers (lower-case names) and raw body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def connect(srv: DemoServer, timeout: float = 5.0) -> http.client.HTTPConnection:
    url = urlsplit(srv.base_url)
    assert url.hostname is not None and url.port is not None
    return http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)


def call(
    srv: DemoServer,
    method: str,
    path: str,
    body: object = None,
    token: str | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> Reply:
    """Send one request (on ``conn`` if given, to test keep-alive) and read it all."""
    own = conn is None
    conn = conn or connect(srv)
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    raw = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    if raw is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=raw, headers=headers)
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        if own:
            conn.close()


def login(srv: DemoServer) -> dict[str, Any]:
    reply = call(srv, "POST", "/user/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert reply.status == 200
    data: dict[str, Any] = reply.json()
    return data


def stats(srv: DemoServer, token: str, query: str = "") -> list[dict[str, Any]]:
    reply = call(srv, "GET", STATS + query, token=token)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["success"] is True
    result: list[dict[str, Any]] = body["stats"]
    return result


def names(srv: DemoServer, token: str) -> dict[str, str]:
    return {c["name"]: c["id"] for c in call(srv, "GET", "/ai/llm", token=token).json()["aiLlms"]}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def srv(clock: FakeClock) -> Iterator[DemoServer]:
    with DemoServer(clock=clock, token_lifetime=600.0) as server:
        yield server


@pytest.fixture
def token(srv: DemoServer) -> str:
    return srv.issue_tokens()[0]


# -- basics ---------------------------------------------------------------------------


def test_base_url_health_and_keep_alive(srv: DemoServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", srv.base_url)
    conn = connect(srv)
    try:
        first = call(srv, "GET", "/health", conn=conn)
        second = call(srv, "GET", "/health", conn=conn)  # same socket: keep-alive works
    finally:
        conn.close()
    for reply in (first, second):
        assert reply.status == 200
        assert reply.headers["content-type"].startswith("application/json")
        assert int(reply.headers["content-length"]) == len(reply.body)
        body = reply.json()
        assert body["status"] == "ok" and body["error"] is None
        assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).tzinfo
    assert srv.request_count("/health") == 2


def test_unknown_path_is_json_404(srv: DemoServer, token: str) -> None:
    reply = call(srv, "GET", "/no/such/thing", token=token)
    assert reply.status == 404
    assert reply.json() == {"success": False, "message": "Not found"}


def test_stop_is_idempotent_and_closes_port(clock: FakeClock) -> None:
    server = DemoServer(clock=clock).start()
    url = server.base_url
    server.stop()
    server.stop()
    host, port = urlsplit(url).hostname, urlsplit(url).port
    with pytest.raises(OSError):
        http.client.HTTPConnection(host or "", port, timeout=1).request("GET", "/health")


# -- authentication -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["iso", "seconds", "millis", "none"])
def test_login_ok_with_each_expires_format(clock: FakeClock, fmt: str) -> None:
    with DemoServer(clock=clock, expires_format=fmt) as server:
        body = login(server)
    assert body["success"] is True
    assert body["accessToken"] and body["refreshToken"] and body["tokenId"]
    assert body["user"]["email"] == DEMO_EMAIL
    assert set(body["user"]) == {"id", "email", "name", "orgId", "orgRole"}
    expected = clock.now + 3600
    if fmt == "none":
        assert "expiresAt" not in body
    elif fmt == "iso":
        when = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
        assert abs(when.timestamp() - expected) < 1
    else:
        scale = 1000 if fmt == "millis" else 1
        assert isinstance(body["expiresAt"], int)
        assert abs(body["expiresAt"] / scale - expected) < 1


def test_login_wrong_password_mfa_and_malformed(srv: DemoServer) -> None:
    bad = call(srv, "POST", "/user/login", {"email": DEMO_EMAIL, "password": "nope"})
    assert bad.status == 401
    assert bad.json() == {"success": False, "message": "Invalid email or password"}
    wrong = call(srv, "POST", "/user/login", {"email": MFA_EMAIL, "password": "anything"})
    assert wrong.status == 401
    for junk in (b"{not json", b"[1, 2]", json.dumps({"email": DEMO_EMAIL}).encode()):
        reply = call(srv, "POST", "/user/login", junk)
        assert reply.status == 400
        assert reply.json()["success"] is False and reply.json()["message"]


# -- the official client's types (issue 17) ----------------------------------------------


def test_login_answer_fits_the_clients_login_response(srv: DemoServer, clock: FakeClock) -> None:
    """LoginResponse: expiresAt?: number (epoch ms here), user.orgRole?: number."""
    body = login(srv)
    assert isinstance(body["expiresAt"], int) and not isinstance(body["expiresAt"], bool)
    assert body["expiresAt"] == int((clock.now + 600) * 1000)
    user = body["user"]
    assert set(user) == {"id", "email", "name", "orgId", "orgRole"}
    assert isinstance(user["orgRole"], int) and not isinstance(user["orgRole"], bool)
    assert all(isinstance(user[k], str) for k in ("id", "email", "name", "orgId"))


def test_refresh_answer_fits_the_clients_refresh_token_response(srv: DemoServer) -> None:
    """RefreshTokenResponse: {success, token, accessToken, refreshToken, expiresAt: number}."""
    first = login(srv)
    body = call(srv, "POST", "/user/refresh", {"refresh_token": first["refreshToken"]}).json()
    assert set(body) == {"success", "token", "accessToken", "refreshToken", "expiresAt"}
    assert body["token"] == body["accessToken"] and isinstance(body["expiresAt"], int)
    assert call(srv, "GET", STATS, token=body["token"]).status == 200


def test_workspace_users_have_the_clients_shape(srv: DemoServer, token: str) -> None:
    """GetWorkspacesResponse.workspaces[].users: WorkspaceUser[]."""
    for ws in call(srv, "GET", "/workspace", token=token).json()["workspaces"]:
        assert set(ws) == {"id", "name", "orgId", "users"}
        for member in ws["users"]:
            assert set(member) == {"userId", "role", "user"}
            assert member["role"] in ("READ", "WRITE", "ADMIN")
            assert set(member["user"]) == {"id", "name", "lastName", "email", "orgRole"}
            assert member["user"]["id"] == member["userId"]
            assert member["user"]["orgRole"] is None or isinstance(member["user"]["orgRole"], int)


@pytest.mark.parametrize("style", ["pending", "refused"])
def test_mfa_login_gives_a_partial_token_that_only_verify_login_accepts(
    clock: FakeClock, style: str
) -> None:
    with DemoServer(clock=clock, mfa_style=style) as server:
        reply = call(server, "POST", "/user/login", {"email": MFA_EMAIL, "password": DEMO_PASSWORD})
        assert reply.status == 200
        body = reply.json()
        assert body["success"] is (style == "pending")
        assert body.get("mfaRequired") is True or body.get("error_code") == "MFA_REQUIRED"
        assert "refreshToken" not in body and "MFA" in body["message"]
        partial = body["accessToken"]
        assert call(server, "GET", STATS, token=partial).status == 401  # not a real token
        verify = "/mfa/verify-login"
        good = {"mfaType": "GOOGLE_AUTH", "code": DEMO_MFA_CODE}
        assert call(server, "POST", verify, good).status == 401  # no Bearer
        assert call(server, "POST", verify, {**good, "code": "000000"}, token=partial).status == 401
        assert (
            call(server, "POST", verify, {**good, "mfaType": "PASSKEY"}, token=partial).status
            == 400
        )
        ok = call(server, "POST", verify, good, token=partial)
        assert ok.status == 200
        full = ok.json()
        assert set(full) == {"success", "message", "fullAccessToken", "refreshToken"}
        assert call(server, "GET", STATS, token=full["fullAccessToken"]).status == 200
        assert (
            call(server, "POST", "/user/refresh", {"refreshToken": full["refreshToken"]}).status
            == 200
        )
        assert call(server, "POST", verify, good, token=partial).status == 401  # used up


@pytest.mark.parametrize("key", ["refreshToken", "refresh_token"])
def test_refresh_accepts_either_key_and_rotates(srv: DemoServer, key: str) -> None:
    first = login(srv)
    reply = call(srv, "POST", "/user/refresh", {key: first["refreshToken"]})
    assert reply.status == 200
    second = reply.json()
    assert second["success"] is True and "expiresAt" in second
    assert second["refreshToken"] != first["refreshToken"]
    again = call(srv, "POST", "/user/refresh", {key: first["refreshToken"]})
    assert again.status == 401
    assert again.json() == {"success": False, "message": "Invalid refresh token"}
    # Both access tokens work: rotation does not revoke the old one early.
    assert call(srv, "GET", STATS, token=first["accessToken"]).status == 200
    assert call(srv, "GET", STATS, token=second["accessToken"]).status == 200
    assert call(srv, "POST", "/user/refresh", {key: second["refreshToken"]}).status == 200


def test_refresh_rejects_missing_and_unknown(srv: DemoServer) -> None:
    for body in ({}, {"refreshToken": "made-up"}, b"garbage"):
        reply = call(srv, "POST", "/user/refresh", body)
        assert reply.status == 401
        assert reply.json()["message"] == "Invalid refresh token"


@pytest.mark.parametrize("key", ["refresh_token", "refreshToken"])
def test_logout_revokes_refresh_token(srv: DemoServer, key: str) -> None:
    access, refresh = srv.issue_tokens()
    # Like a server that requires the Bearer header (the official client sends it):
    # without it, or with a bad one, nothing is revoked.
    for token in (None, "not-a-token"):
        refused = call(srv, "POST", "/user/logout", {key: refresh}, token=token)
        assert refused.status == 401 and refused.json()["success"] is False
    reply = call(srv, "POST", "/user/logout", {key: refresh}, token=access)
    assert reply.status == 200 and reply.json() == {"success": True}
    assert call(srv, "POST", "/user/refresh", {"refreshToken": refresh}).status == 401
    assert [r.bearer for r in srv.requests] == [False, True, True, False]


@pytest.mark.parametrize("path", ["/ai/llm", STATS, "/workspace"])
def test_protected_endpoints_need_a_valid_token(srv: DemoServer, path: str) -> None:
    for token in (None, "not-a-token"):
        reply = call(srv, "GET", path, token=token)
        assert reply.status == 401
        assert reply.json() == {"success": False, "message": "Invalid or expired token"}
    assert call(srv, "GET", path, token=srv.issue_tokens()[0]).status == 200
    assert [r.authorized for r in srv.requests] == [False, False, True]


def test_access_token_expires_on_the_injected_clock(srv: DemoServer, clock: FakeClock) -> None:
    token = srv.issue_tokens()[0]
    clock.now += 599
    assert call(srv, "GET", STATS, token=token).status == 200
    clock.now += 2
    assert call(srv, "GET", STATS, token=token).status == 401
    fresh = srv.issue_tokens()[0]
    srv.expire_all_access_tokens()
    assert call(srv, "GET", STATS, token=fresh).status == 401


# -- data -----------------------------------------------------------------------------


def test_configurations_and_workspaces(srv: DemoServer, token: str) -> None:
    llms = call(srv, "GET", "/ai/llm", token=token).json()["aiLlms"]
    assert len(llms) == 12
    assert {c["aiType"] for c in llms} == {"OPENAI", "GOOGLE", "ANTHROPIC", "AWS", "OTHER"}
    for c in llms:
        assert {
            "id",
            "orgId",
            "workspaceId",
            "userId",
            "name",
            "aiType",
            "endpoint",
            "key",
            "createdAt",
        } <= set(c)
        assert c["key"] is None or re.fullmatch(r"sk-\*{4}[0-9a-f]{4}", c["key"])
    workspaces = call(srv, "GET", "/workspace", token=token).json()["workspaces"]
    assert len(workspaces) == 2
    by_ws = {w["id"]: [c["name"] for c in llms if c["workspaceId"] == w["id"]] for w in workspaces}
    assert all(by_ws.values()) and sum(map(len, by_ws.values())) == 12
    for ws_id, ws_names in by_ws.items():
        assert len(set(ws_names)) == len(ws_names)
        only = call(srv, "GET", f"/ai/llm?workspaceId={ws_id}", token=token).json()["aiLlms"]
        assert [c["name"] for c in only] == ws_names


def test_stats_are_decimal_strings_for_every_configuration(srv: DemoServer, token: str) -> None:
    items = stats(srv, token)
    llm_ids = {c["id"] for c in call(srv, "GET", "/ai/llm", token=token).json()["aiLlms"]}
    assert {s["aiLlmId"] for s in items} == llm_ids
    for item in items:
        assert set(item) == {"aiLlmId", *COUNTERS}
        for name in COUNTERS:
            assert isinstance(item[name], str) and re.fullmatch(r"0|[1-9][0-9]*", item[name])
        tin, tout = int(item["totalTokensIn"]), int(item["totalTokensOut"])
        assert tin >= 1000, "start values are running totals, not zero"
        assert tin <= tout <= 3 * tin + 1
        assert tin != int(item["totalLlmTokensIn"]) and 0.9 * tin < int(item["totalLlmTokensIn"])
        assert tin / 1000 < int(item["totalApiCalls"]) < tin / 200


def test_filter_by_ai_llm_id(srv: DemoServer, token: str) -> None:
    everything = stats(srv, token)
    wanted = everything[3]
    assert stats(srv, token, f"?aiLlmId={wanted['aiLlmId']}") == [wanted]
    assert stats(srv, token, "?aiLlmId=00000000-0000-4000-8000-000000000000") == []
    assert srv.request_count(STATS, aiLlmId=wanted["aiLlmId"]) == 1


def test_counters_never_decrease_except_the_reset_once(
    srv: DemoServer, clock: FakeClock, token: str
) -> None:
    ids = names(srv, token)
    start = clock.now
    series: dict[str, list[tuple[int, ...]]] = {i: [] for i in ids.values()}
    for second in range(0, 121, 1):
        clock.now = start + second + 0.5
        for item in stats(srv, token):
            series[item["aiLlmId"]].append(tuple(int(item[c]) for c in COUNTERS))
    drops = {
        name: [
            t
            for t, (a, b) in enumerate(zip(series[i], series[i][1:], strict=False))
            if any(y < x for x, y in zip(a, b, strict=True))
        ]
        for name, i in ids.items()
    }
    assert drops.pop("analytics-agent") == [44]  # only between seconds 44 and 45
    assert all(d == [] for d in drops.values()), drops
    reset = series[ids["analytics-agent"]]
    assert reset[45][1] < 1000 < reset[44][1] and reset[120][1] > reset[45][1]
    assert series[ids["support-bot"]][120][1] > series[ids["support-bot"]][0][1]
    assert series[ids["legacy-chat"]][0] == series[ids["legacy-chat"]][120]  # idle


def test_violator_shows_new_violations_within_a_minute(
    srv: DemoServer, clock: FakeClock, token: str
) -> None:
    violator = names(srv, token)["prompt-playground"]
    start = clock.now

    def counters(at: float) -> dict[str, int]:
        clock.now = start + at
        (item,) = stats(srv, token, f"?aiLlmId={violator}")
        return {c: int(item[c]) for c in COUNTERS}

    before = counters(0)
    assert counters(60)["totalPolicyViolations"] > before["totalPolicyViolations"]
    later = counters(180)
    for name in ("totalPolicyViolations", "totalAlerts", "totalBlocks"):
        assert later[name] > before[name]


def test_same_seed_and_elapsed_time_give_identical_stats() -> None:
    answers = []
    for seed, origin in ((7, 1000.0), (7, 5_000_000.0), (8, 1000.0)):
        clock = FakeClock(origin)
        with DemoServer(clock=clock, seed=seed) as server:
            clock.now += 77.25
            answers.append(stats(server, server.issue_tokens()[0]))
    assert answers[0] == answers[1]
    assert answers[0] != answers[2]


def test_ten_thousand_configurations(clock: FakeClock) -> None:
    with DemoServer(clock=clock, n_configs=10_000) as server:
        token = server.issue_tokens()[0]
        clock.now += 3000  # a big jump must not cost O(seconds)
        began = time.perf_counter()
        items = stats(server, token)
        took = time.perf_counter() - began
        llms = call(server, "GET", "/ai/llm", token=token).json()["aiLlms"]
    assert len(items) == 10_000 and len({s["aiLlmId"] for s in items}) == 10_000
    assert took < 1.0
    assert llms[12]["name"] == "llm-00013" and llms[-1]["name"] == "llm-10000"


def test_extras_are_appended_verbatim(clock: FakeClock) -> None:
    extra_stats: list[object] = [
        {"aiLlmId": "x", "totalApiCalls": 1.5},
        "junk",
        None,
        {"aiLlmId": "y", "totalTokensIn": "-5"},
        2**70,
    ]
    extra_llms: list[object] = [{"id": "x", "name": None, "workspaceId": "w"}, []]
    with DemoServer(clock=clock, extra_stats=extra_stats, extra_llms=extra_llms) as server:
        token = server.issue_tokens()[0]
        assert stats(server, token)[-5:] == extra_stats
        assert stats(server, token, "?aiLlmId=x") == [extra_stats[0]]
        llms = call(server, "GET", "/ai/llm", token=token).json()["aiLlms"]
        assert llms[-2:] == extra_llms
        only = call(server, "GET", "/ai/llm?workspaceId=w", token=token).json()["aiLlms"]
        assert only == [extra_llms[0]]


def test_request_log_and_count_with_query(srv: DemoServer, token: str) -> None:
    for query in ("?aiLlmId=a", "?aiLlmId=a&x=1", "?aiLlmId=b", ""):
        call(srv, "GET", STATS + query, token=token)
    assert srv.request_count(STATS) == 4
    assert srv.request_count(STATS, aiLlmId="a") == 2
    assert srv.request_count(STATS, aiLlmId="a", x="1") == 1
    assert srv.request_count("/ai/llm") == 0
    last = srv.requests[-1]
    assert (last.method, last.path, last.query, last.authorized, last.status) == (
        "GET",
        STATS,
        {},
        True,
        200,
    )
    srv.clear_requests()
    assert srv.request_count(STATS) == 0 and srv.requests == []


# -- faults ---------------------------------------------------------------------------

JSON_FAULTS = [
    ("expired", 401, {"success": False, "message": "Token expired"}),
    (
        "forbidden",
        403,
        {"success": False, "message": "Insufficient permissions to view AI LLM statistics"},
    ),
    ("rate_limit", 429, {"success": False, "message": "Too many requests"}),
    ("server_error", 500, {"success": False, "message": "Failed to retrieve statistics"}),
    ("unsuccessful", 200, {"success": False, "message": "Statistics temporarily unavailable"}),
    ("wrong_shape", 200, {"success": True, "stats": {"not": "a list"}}),
    ("not_found", 404, {"success": False, "message": "Not found"}),
]


@pytest.mark.parametrize(("name", "status", "body"), JSON_FAULTS)
def test_json_faults(
    srv: DemoServer, token: str, name: str, status: int, body: dict[str, Any]
) -> None:
    srv.set_fault(name)
    reply = call(srv, "GET", STATS, token=token)
    assert (reply.status, reply.json()) == (status, body)
    assert reply.headers["content-type"].startswith("application/json")
    assert "retry-after" not in reply.headers
    assert srv.requests[-1].status == status
    assert call(srv, "GET", "/ai/llm", token=token).status == 200  # other paths unaffected


def test_rate_limit_retry_after_header(srv: DemoServer) -> None:
    srv.set_fault("rate_limit", retry_after=7)
    reply = call(srv, "GET", STATS)  # the fault wins over auth
    assert reply.status == 429 and reply.headers["retry-after"] == "7"


@pytest.mark.parametrize(("name", "status"), [("bad_gateway", 502), ("unavailable", 503)])
def test_html_faults(srv: DemoServer, token: str, name: str, status: int) -> None:
    srv.set_fault(name)
    reply = call(srv, "GET", STATS, token=token)
    assert reply.status == status
    assert reply.headers["content-type"].startswith("text/html")
    assert reply.body.lstrip().startswith(b"<html")


def test_malformed_body_is_not_json(srv: DemoServer, token: str) -> None:
    srv.set_fault("malformed")
    reply = call(srv, "GET", STATS, token=token)
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        reply.json()


def test_reset_closes_without_answer(srv: DemoServer, token: str) -> None:
    srv.set_fault("reset")
    with pytest.raises(ConnectionError) as caught:
        call(srv, "GET", STATS, token=token)
    if sys.platform == "linux":  # SO_LINGER 0 gives a real RST there, not a clean EOF
        assert not isinstance(caught.value, http.client.RemoteDisconnected)
    assert srv.requests[-1].status == 0
    srv.set_fault(None)
    assert call(srv, "GET", STATS, token=token).status == 200


def test_truncated_body(srv: DemoServer, token: str) -> None:
    srv.set_fault("truncated")
    conn = connect(srv)
    try:
        conn.request("GET", STATS, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        assert resp.status == 200
        with pytest.raises(http.client.IncompleteRead):
            resp.read()
    finally:
        conn.close()


def test_slow_delays_only_authorised_requests(srv: DemoServer, token: str) -> None:
    srv.set_fault("slow", delay=0.5)
    began = time.perf_counter()
    assert call(srv, "GET", STATS).status == 401
    assert time.perf_counter() - began < 0.4  # auth first: no delay, count not used
    began = time.perf_counter()
    assert call(srv, "GET", STATS, token=token).status == 200
    assert time.perf_counter() - began >= 0.5


def test_huge_streams_and_stays_quiet_when_client_leaves(
    srv: DemoServer, token: str, capfd: pytest.CaptureFixture[str]
) -> None:
    srv.set_fault("huge")
    conn = connect(srv)
    try:
        conn.request("GET", STATS, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert int(resp.headers["Content-Length"]) >= 50_000_000
        assert resp.read(4096).startswith(b'{"success":true')
    finally:
        conn.close()
    srv.set_fault(None)
    time.sleep(0.2)  # let the server hit the broken pipe
    assert call(srv, "GET", "/health").status == 200
    assert capfd.readouterr().err == ""


def test_fault_count_clears_itself(srv: DemoServer, token: str) -> None:
    srv.set_fault("server_error", count=2, paths=(STATS, "/workspace"))
    statuses = [
        call(srv, "GET", p, token=token).status for p in ("/ai/llm", STATS, "/workspace", STATS)
    ]
    assert statuses == [200, 500, 500, 200]
    assert srv.request_count(STATS) == 2


def test_unknown_fault_name_is_refused(srv: DemoServer) -> None:
    with pytest.raises(ValueError):
        srv.set_fault("gremlins")


# -- command line ---------------------------------------------------------------------


def test_main_serves_until_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.demo_server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert DEMO_EMAIL in line and DEMO_PASSWORD in line
        assert MFA_EMAIL in proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=5)
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
        conn.close()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- every answer against the official client's TypeScript types (issue 17) -------------

NUM, STR, BOOL = "number", "string", "boolean"
#: src/api/types/ai/stats.ts AiStatsData: tokens are `bigint | string` (a string on the wire).
AI_STATS_DATA = {
    "timestamp": NUM, "repoId": STR, "aiLlmId": STR, "repoAiApiKeyId": STR,
    "tokensIn": STR, "tokensOut": STR, "llmTokensIn": STR, "llmTokensOut": STR,
    "activeConversations": NUM, "apiCalls": NUM, "policyViolations": NUM, "numAlerts": NUM,
    "numBlocks": NUM, "numSeverityLow": NUM, "numSeverityMedium": NUM, "numSeverityHigh": NUM,
    "latency_ms": NUM, "llmType": STR, "llmModel": STR, "host": STR, "userUuid": STR,
    "conversationUuid": STR,
}  # fmt: skip
#: src/api/types/ai/aillm.ts AiLlmDTO (key: string | null; apiKeyId and repos optional).
AI_LLM_DTO = {
    "id": STR, "orgId": STR, "workspaceId": STR, "userId": STR, "name": STR, "aiType": STR,
    "endpoint": STR, "createdAt": STR,
}  # fmt: skip


def ts_type(value: object) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float):
        return NUM
    return STR if isinstance(value, str) else type(value).__name__


def test_aistats_and_ai_llm_answers_fit_the_clients_types(
    srv: DemoServer, token: str, clock: FakeClock
) -> None:
    clock.now += 300  # the token lives 600 s
    body = call(srv, "GET", "/aistats/minute", token=token).json()
    assert set(body) == {"success", "data"} and body["success"] is True
    assert body["data"]
    for row in body["data"]:
        assert {k: ts_type(v) for k, v in row.items()} == AI_STATS_DATA
    daily = call(srv, "GET", "/aistats/daily", token=token).json()
    assert daily["data"] and all(set(r) == set(AI_STATS_DATA) for r in daily["data"])
    llms = call(srv, "GET", "/ai/llm", token=token).json()
    assert set(llms) == {"success", "aiLlms"}
    for llm in llms["aiLlms"]:
        assert set(llm) - set(AI_LLM_DTO) <= {"key", "apiKeyId", "repos"}
        assert {k: ts_type(llm[k]) for k in AI_LLM_DTO} == AI_LLM_DTO
        assert llm["key"] is None or isinstance(llm["key"], str)
        assert llm["aiType"] in {"OPENAI", "GOOGLE", "ANTHROPIC", "AWS", "OTHER"}
        for repo in llm["repos"]:
            assert {k: ts_type(v) for k, v in repo.items()} == {
                "id": STR, "name": STR, "createdAt": STR,
            }  # fmt: skip
    for stats in call(srv, "GET", STATS, token=token).json()["stats"]:
        assert all(isinstance(v, str) for v in stats.values())  # AiLlmStats: strings
