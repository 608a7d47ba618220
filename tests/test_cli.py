"""End-to-end tests of the command line, each in a fresh ``python -m tui`` process.

The backend is either the built-in ``--demo`` one or a DemoServer started in this
process and reached over loopback with ``--base-url`` and ``FLASHBACK_TOKEN``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tui.demo_server import (
    COUNTERS,
    DEMO_EMAIL,
    DEMO_MFA_CODE,
    DEMO_PASSWORD,
    MFA_EMAIL,
    DemoServer,
)
from tui.errors import EXIT_AUTH, EXIT_NETWORK, EXIT_SERVER, EXIT_USAGE

REPO = Path(__file__).resolve().parent.parent
STATS = "/ai/llm/stats"
FORTY = "1234567890123456789012345678901234567890"
CSV_HEADER = ["aiLlmId", "name", "aiType", *COUNTERS, "model", "cost_usd"]
HOSTILE_NAME = "\x1b]52;c;aGk=\x07[bold]x[/oops]"
HOSTILE_ID = "evil-\x1b[2J\x1b]0;pwned\x07-\x1b[31mid"
HOSTILE_TYPE = "\x1b[5mOPENAI\x1b[0m"


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    program: list[str] | None = None,
    timeout: float = 30.0,
) -> subprocess.CompletedProcess[str]:
    """Run flashtop in a fresh interpreter with the test's isolated environment."""
    full_env = {
        **os.environ,  # already isolated (XDG dirs, no FLASHBACK_*) by conftest
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "NO_COLOR": "1",
        "COLUMNS": "200",
        **(env or {}),
    }
    return subprocess.run(
        [*(program or [sys.executable, "-m", "tui"]), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=timeout,
        cwd=REPO,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_failure(
    proc: subprocess.CompletedProcess[str], code: int, *secrets: str
) -> str:
    """Exit ``code``, exactly one line on stderr, no traceback, no secret anywhere."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert proc.stderr.endswith("\n")
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for secret in secrets:
        assert secret not in proc.stderr
        assert secret not in proc.stdout
    return lines[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def against(server: DemoServer, *args: str) -> list[str]:
    """Arguments for ``stats`` against ``server``."""
    return ["stats", "--base-url", server.base_url, *args]


def token_env(server: DemoServer) -> dict[str, str]:
    access, _refresh = server.issue_tokens()
    return {"FLASHBACK_TOKEN": access}


def counters_of(value: str) -> dict[str, str]:
    return dict.fromkeys(COUNTERS, value)


# ---------------------------------------------------------------- basics


def test_version_prints_name_and_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert re.fullmatch(r"flashtop \d+\.\d+\.\d+\S*\n", proc.stdout)


def test_console_script_runs() -> None:
    script = Path(sys.executable).parent / "flashtop"
    assert script.exists(), f"no console script at {script}"
    proc = run_cli("--version", program=[str(script)])
    assert proc.returncode == 0
    assert proc.stdout.startswith("flashtop ")


def test_help_lists_every_exit_status() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    assert "exit status" in proc.stdout
    section = proc.stdout.split("exit status", 1)[1]
    for code, word in [
        (0, "success"),
        (1, "internal"),
        (2, "usage"),
        (3, "auth"),
        (4, "network"),
        (5, "server"),
        (6, "keyring"),
    ]:
        assert re.search(rf"^\s+{code}\s+.*{word}", section, re.MULTILINE | re.IGNORECASE), code


def test_unknown_option_is_usage_error_in_one_line() -> None:
    proc = run_cli("--no-such-option")
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert "--no-such-option" in line


def test_unknown_stats_option_is_usage_error_in_one_line() -> None:
    proc = run_cli("stats", "--demo", "--bogus")
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert "--bogus" in line


def test_json_and_csv_together_are_refused() -> None:
    proc = run_cli("stats", "--demo", "--json", "--csv")
    assert_one_line_failure(proc, EXIT_USAGE)


# ---------------------------------------------------------------- --demo output formats


def test_stats_demo_prints_an_aligned_table() -> None:
    proc = run_cli("stats", "--demo")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "PROVIDER", "CALLS"]
    assert len(lines) == 13  # header + twelve configurations
    assert any(line.startswith("support-bot ") for line in lines)
    # Numbers are right-aligned under right-aligned headers: every line ends at one column.
    assert len({len(line) for line in lines}) == 1, lines
    for line in lines[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        # The demo profile names models: MODEL and COST follow the counters.
        assert len(cells) == 12, line
        assert all(re.fullmatch(r"[0-9,]+|\?|-", c) for c in cells[2:10]), line
        assert re.fullmatch(r"\$[0-9,]+(\.[0-9]{2})?|<\$0\.01|n/a", cells[11]), line
    # The provider column starts at the same offset on every line.
    starts = {line.index(line.split()[1], len(line.split()[0])) for line in lines}
    assert len(starts) == 1


def test_stats_demo_json_has_string_counters_names_and_types() -> None:
    proc = run_cli("stats", "--demo", "--json")
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert body["success"] is True
    assert len(body["stats"]) == 12
    names = set()
    for obj in body["stats"]:
        for counter in COUNTERS:
            assert isinstance(obj[counter], str) and re.fullmatch(r"[0-9]+", obj[counter])
        assert isinstance(obj["aiLlmId"], str)
        assert isinstance(obj["name"], str)
        assert obj["aiType"] in {"OPENAI", "GOOGLE", "ANTHROPIC", "AWS", "OTHER"}
        names.add(obj["name"])
        if obj["name"] == "support-bot":
            # The demo profile prices it as gpt-4o: $2.50 in, $10 out per million
            # LLM tokens (the published prices), as an exact decimal string.
            assert obj["model"] == "gpt-4o"
            by_hand = (
                Decimal(obj["totalLlmTokensIn"]) * Decimal("2.5")
                + Decimal(obj["totalLlmTokensOut"]) * 10
            ) / 1_000_000
            assert Decimal(obj["cost_usd"]) == by_hand
        if obj["name"] == "sandbox-llama":  # no model for it: null, never $0
            assert obj["model"] is None and obj["cost_usd"] is None
    assert "support-bot" in names


def test_stats_demo_csv_has_header_and_one_row_per_configuration() -> None:
    proc = run_cli("stats", "--demo", "--csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    assert rows[0] == CSV_HEADER
    assert len(rows) == 13
    assert all(len(r) == len(CSV_HEADER) for r in rows)
    assert all(re.fullmatch(r"[0-9]+", cell) for r in rows[1:] for cell in r[3:11])
    assert all(re.fullmatch(r"[0-9]+(\.[0-9]+)?|", r[12]) for r in rows[1:])
    assert "support-bot" in [r[1] for r in rows]


# ---------------------------------------------------------------- against a DemoServer


def test_stats_id_sends_the_filter_and_prints_only_that_row(demo_server: DemoServer) -> None:
    wanted = demo_server.llms[0]
    assert wanted["name"] == "support-bot"
    proc = run_cli(*against(demo_server, "--id", wanted["id"]), env=token_env(demo_server))
    assert proc.returncode == 0, proc.stderr
    assert demo_server.request_count(STATS, aiLlmId=wanted["id"]) == 1
    assert demo_server.request_count(STATS) == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("support-bot ")
    assert "code-review" not in proc.stdout


def test_stats_id_json_has_only_that_object(demo_server: DemoServer) -> None:
    wanted = demo_server.llms[2]["id"]
    proc = run_cli(*against(demo_server, "--id", wanted, "--json"), env=token_env(demo_server))
    assert proc.returncode == 0, proc.stderr
    assert [o["aiLlmId"] for o in json.loads(proc.stdout)["stats"]] == [wanted]


def test_forty_digit_counter_is_printed_exactly() -> None:
    extra = {"aiLlmId": "big-one", **counters_of("7"), "totalApiCalls": FORTY}
    llm = {"id": "big-one", "name": "bignum", "aiType": "OTHER"}
    with DemoServer(extra_stats=[extra], extra_llms=[llm]) as server:
        env = token_env(server)
        as_json = run_cli(*against(server, "--json"), env=env)
        as_csv = run_cli(*against(server, "--csv"), env=env)
        as_table = run_cli(*against(server), env=env)
    assert as_json.returncode == as_csv.returncode == as_table.returncode == 0, as_json.stderr
    (obj,) = [o for o in json.loads(as_json.stdout)["stats"] if o["aiLlmId"] == "big-one"]
    assert obj["totalApiCalls"] == FORTY
    assert obj["name"] == "bignum"
    (row,) = [r for r in csv.reader(io.StringIO(as_csv.stdout)) if r[0] == "big-one"]
    assert row[3] == FORTY
    assert row[4:11] == ["7"] * 7
    assert row[11:] == ["", ""]  # no model for it in the profile: no cost
    assert f"{int(FORTY):,}" in as_table.stdout  # exact, with thousands separators


def test_invalid_and_missing_counters_show_as_question_mark_and_dash() -> None:
    extra = {"aiLlmId": "odd-one", **counters_of("3"), "totalApiCalls": "1e3"}
    del extra["totalBlocks"]
    llm = {"id": "odd-one", "name": "oddity", "aiType": "OTHER"}
    with DemoServer(extra_stats=[extra], extra_llms=[llm]) as server:
        proc = run_cli(*against(server), env=token_env(server))
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("oddity ")]
    cells = re.split(r"\s{2,}", line.strip())
    assert cells[2] == "?"
    assert cells[-1] == "-"
    assert "not decimal" in proc.stderr


@pytest.mark.parametrize("fmt", [[], ["--csv"], ["--json"]], ids=["table", "csv", "json"])
def test_hostile_names_and_ids_never_put_escapes_on_the_terminal(fmt: list[str]) -> None:
    extra_stats: list[object] = [{"aiLlmId": HOSTILE_ID, **counters_of("5")}]
    extra_llms: list[object] = [
        {"id": HOSTILE_ID, "name": HOSTILE_NAME, "aiType": HOSTILE_TYPE, "key": "sk-LEAK"},
    ]
    with DemoServer(extra_stats=extra_stats, extra_llms=extra_llms) as server:
        proc = run_cli(*against(server, *fmt), env=token_env(server))
    assert proc.returncode == 0, proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert "\x1b" not in stream
        assert "\x07" not in stream
        assert "\x9b" not in stream  # the 8-bit CSI
    assert "sk-LEAK" not in proc.stdout
    assert "support-bot" in proc.stdout  # the normal rows are still there
    if fmt == ["--json"]:
        # JSON keeps the data faithfully, as escapes that a terminal does not act on.
        objs = {o["aiLlmId"]: o for o in json.loads(proc.stdout)["stats"]}
        assert objs[HOSTILE_ID]["name"] == HOSTILE_NAME
    else:
        assert "[bold]x[/oops]" in proc.stdout  # shown as text, not markup


# ---------------------------------------------------------------- failures and exit codes


def test_refused_token_exits_3_without_echoing_it(demo_server: DemoServer) -> None:
    token = "not-a-valid-token-0123456789abcdef"
    proc = run_cli(*against(demo_server), env={"FLASHBACK_TOKEN": token})
    line = assert_one_line_failure(proc, EXIT_AUTH, token)
    assert "FLASHBACK_TOKEN" in line or "login" in line
    assert proc.stdout == ""
    assert demo_server.request_count(STATS) >= 1


def test_forbidden_exits_3(demo_server: DemoServer) -> None:
    demo_server.set_fault("forbidden")
    env = token_env(demo_server)
    proc = run_cli(*against(demo_server), env=env)
    line = assert_one_line_failure(proc, EXIT_AUTH, env["FLASHBACK_TOKEN"])
    assert "Insufficient permissions" in line


def test_connection_refused_exits_4() -> None:
    token = "tok-0123456789abcdef"
    proc = run_cli(
        "stats", "--base-url", f"http://127.0.0.1:{free_port()}", env={"FLASHBACK_TOKEN": token}
    )
    line = assert_one_line_failure(proc, EXIT_NETWORK, token)
    assert "127.0.0.1" in line


def test_server_error_exits_5(demo_server: DemoServer) -> None:
    demo_server.set_fault("server_error")
    env = token_env(demo_server)
    proc = run_cli(*against(demo_server), env=env)
    line = assert_one_line_failure(proc, EXIT_SERVER, env["FLASHBACK_TOKEN"])
    assert "Failed to retrieve statistics" in line
    assert proc.stdout == ""


def test_malformed_body_exits_5(demo_server: DemoServer) -> None:
    demo_server.set_fault("malformed")
    env = token_env(demo_server)
    proc = run_cli(*against(demo_server, "--json"), env=env)
    line = assert_one_line_failure(proc, EXIT_SERVER, env["FLASHBACK_TOKEN"])
    assert "not JSON" in line


def test_plain_http_to_a_remote_host_exits_2() -> None:
    token = "tok-0123456789abcdef"
    proc = run_cli("stats", "--base-url", "http://example.com", env={"FLASHBACK_TOKEN": token})
    line = assert_one_line_failure(proc, EXIT_USAGE, token)
    assert "http://" in line and "example.com" in line


def test_plain_http_from_the_environment_exits_2() -> None:
    proc = run_cli("stats", env={"FLASHBACK_BASE_URL": "http://example.com/api"})
    assert_one_line_failure(proc, EXIT_USAGE)


def test_unknown_config_key_exits_2_naming_key_and_file() -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "flashtop" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[profiles.default]\nbase_url = "https://a.example"\nintervall = 5\n')
    proc = run_cli("stats", "--demo")
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert "intervall" in line
    assert str(config) in line
    assert proc.stdout == ""


def test_unknown_config_key_in_config_flag_file_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "my flashtop.toml"
    config.write_text("colour = true\n")
    proc = run_cli("stats", "--demo", "--config", str(config))
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert "colour" in line
    assert str(config) in line


def test_invalid_interval_flag_exits_2() -> None:
    proc = run_cli("stats", "--demo", "--interval", "0.5")
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert "interval" in line


def test_unknown_keymap_id_exits_2_naming_the_id_and_file_before_the_screen_starts(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[keymap]\nrefrsh = "f5"\n')
    proc = run_cli("--demo", "--config", str(config))
    line = assert_one_line_failure(proc, EXIT_USAGE)
    assert "'refrsh'" in line and str(config) in line and "refresh" in line  # known ids listed
    assert "\x1b[" not in proc.stdout + proc.stderr  # no screen was drawn


def test_demo_login_and_logout_are_usage_errors() -> None:
    for command in ("login", "logout"):
        proc = run_cli(command, "--demo")
        line = assert_one_line_failure(proc, EXIT_USAGE)
        assert f"`{command}` does not apply to --demo" in line


# ---------------------------------------------------------------- stats --by (issue 17)

BY_FIELDS = [
    "apiCalls", "tokensIn", "tokensOut", "llmTokensIn", "llmTokensOut", "policyViolations",
    "numAlerts", "numBlocks", "numSeverityLow", "numSeverityMedium", "numSeverityHigh",
]  # fmt: skip
GROWTH_OF = {
    "apiCalls": "totalApiCalls",
    "tokensIn": "totalTokensIn",
    "tokensOut": "totalTokensOut",
    "llmTokensIn": "totalLlmTokensIn",
    "llmTokensOut": "totalLlmTokensOut",
    "policyViolations": "totalPolicyViolations",
    "numAlerts": "totalAlerts",
    "numBlocks": "totalBlocks",
}


class FrozenClock:
    """The server's time stands still, so its answer and the check use the same instant."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_stats_by_model_demo_json_is_exact_and_adds_up() -> None:
    proc = run_cli("stats", "--demo", "--by", "model", "--json")
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert body["by"] == "model" and body["source"] == "/aistats/minute"
    assert body["aiLlmId"] is None and body["since"].endswith("Z")
    items = body["items"]
    assert len(items) >= 6 and len({i["model"] for i in items}) == len(items)
    for field in BY_FIELDS:
        assert all(re.fullmatch(r"[0-9]+", i[field]) for i in items), field
        assert sum(int(i[field]) for i in items) == int(body["total"][field]), field
    assert abs(sum(Decimal(i["share"]) for i in items) - 1) < Decimal("0.0001")
    tokens = [int(i["tokensIn"]) + int(i["tokensOut"]) for i in items]
    assert tokens == sorted(tokens, reverse=True)
    assert all(200 < i["latencyMs"] < 5000 for i in items if int(i["apiCalls"]))


def test_stats_by_host_sums_to_the_configurations_growth_over_the_window() -> None:
    """`--by host --since 30m --id ID --csv`: one /aistats/minute request filtered by
    that id, and the per-host totals add up to how far the configuration's
    /ai/llm/stats counters grew over the same span, exactly."""
    clock = FrozenClock()
    with DemoServer(clock=clock) as server:
        wanted = server.llms[0]["id"]  # support-bot
        args = against(server, "--by", "host", "--since", "30m", "--id", wanted, "--csv")
        proc = run_cli(*args, env=token_env(server))
        assert proc.returncode == 0, proc.stderr
        (req,) = [r for r in server.requests if r.path == "/aistats/minute"]
        assert req.query["aiLlmId"] == wanted
        start = datetime.fromisoformat(req.query["startDate"].replace("Z", "+00:00")).timestamp()
        assert 30 * 60 <= clock.now - start < 31 * 60 and start % 60 == 0
        before, after = server.totals_at(start)[wanted], server.totals_at(clock.now)[wanted]
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert list(rows[0])[:2] == ["host", "configs"]
    assert 2 <= len(rows) <= 3 and all(r["configs"] == "1" for r in rows)
    for field, counter in GROWTH_OF.items():
        assert sum(int(r[field]) for r in rows) == after[counter] - before[counter], field
    assert after["totalTokensIn"] > before["totalTokensIn"]


def test_stats_by_table_has_a_total_and_names_the_window_on_stderr(demo_server: DemoServer) -> None:
    proc = run_cli(*against(demo_server, "--by", "model"), env=token_env(demo_server))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "CONFIGS", "CALLS"]
    assert lines[-1].startswith("TOTAL ") and "100.0%" in lines[-1]
    assert len({len(line) for line in lines}) == 1  # aligned
    assert "/aistats/minute from " in proc.stderr and "weighted by calls" in proc.stderr


@pytest.mark.parametrize("fmt", [[], ["--csv"], ["--json"]], ids=["table", "csv", "json"])
def test_stats_by_never_puts_hostile_model_names_on_the_terminal(fmt: list[str]) -> None:
    clock = FrozenClock()
    extra: list[object] = [
        {"timestamp": int(clock.now // 60 * 60 * 1000), "aiLlmId": HOSTILE_ID,
         "llmModel": HOSTILE_NAME, "host": HOSTILE_TYPE, "tokensIn": FORTY, "tokensOut": "1",
         "apiCalls": 1, "latency_ms": 10},
    ]  # fmt: skip
    with DemoServer(clock=clock, extra_aistats=extra) as server:
        proc = run_cli(*against(server, "--by", "model", *fmt), env=token_env(server))
    assert proc.returncode == 0, proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert "\x1b" not in stream and "\x07" not in stream and "\x9b" not in stream
    if fmt == ["--json"]:
        (item,) = [i for i in json.loads(proc.stdout)["items"] if i["model"] == HOSTILE_NAME]
        assert item["tokensIn"] == FORTY  # every digit
    else:
        assert "[bold]x[/oops]" in proc.stdout
        assert FORTY in proc.stdout.replace(",", "")


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "1h"],
        ["--by", "region"],
        ["--by", "model", "--since", "0"],
        ["--by", "model", "--since", "soon"],
        ["--by", "model", "--id", ""],
        ["--by", "model", "--id", "a,b"],
    ],
)
def test_stats_by_usage_errors_exit_2(args: list[str]) -> None:
    proc = run_cli("stats", "--base-url", "http://127.0.0.1:9", *args)
    assert_one_line_failure(proc, EXIT_USAGE)


# ---------------------------------------------------------------- login and logout (issue 17)


def run_with_input(*args: str, text: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        env=env,
    )


@pytest.mark.parametrize("email", ["demo", "mfa"])
def test_logout_leaves_no_refresh_token_alive_on_the_server(email: str) -> None:
    """`flashtop logout` sends the access token as Bearer (the demo, like a server that
    requires it, revokes nothing otherwise): afterwards the server holds no live
    refresh token. The MFA account logs in with the code on stdin's second line."""
    with DemoServer() as server:
        common = ["--base-url", server.base_url, "--insecure-storage"]
        address = DEMO_EMAIL if email == "demo" else MFA_EMAIL
        text = f"{DEMO_PASSWORD}\n" + (f"{DEMO_MFA_CODE}\n" if email == "mfa" else "")
        proc = run_with_input("login", *common, "--email", address, "--password-stdin", text=text)
        assert proc.returncode == 0, proc.stderr
        assert len(server._refresh) == 1
        (alive,) = server._refresh
        assert server.request_count("/mfa/verify-login") == (email == "mfa")
        proc = run_with_input("logout", *common, text="")
        assert proc.returncode == 0, proc.stderr
        assert "revoked" in proc.stdout
        (logout,) = [r for r in server.requests if r.path == "/user/logout"]
        assert logout.bearer and logout.status == 200
        assert not server._refresh
        body = json.dumps({"refreshToken": alive}).encode()
        assert server.route("POST", "/user/refresh", {}, body, False)[0] == 401
        for stream in (proc.stdout, proc.stderr):
            assert alive not in stream and DEMO_MFA_CODE not in stream
