"""TLS: verified by default, a private CA only through the documented CA-bundle option.

The server is the demo backend served over https on 127.0.0.1 with a certificate
issued by a throwaway private CA (trustme). Nothing may turn verification off
silently: no flag, no config key, no environment variable.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_helpers import Certs, make_certs
from ui_helpers import FakeClock, Harness, wait_for

from tui.app import FlashtopApp
from tui.cli import build_parser
from tui.client import FlashbackClient
from tui.demo_server import DemoServer
from tui.errors import EXIT_NETWORK, EXIT_OK, ConfigError, TLSError, UsageError
from tui.poller import ConnState
from tui.settings import _PROFILE_KEYS, Settings, resolve
from tui.tokens import AuthSession, TokenSet

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return make_certs(tmp_path, "127.0.0.1", "localhost")


@pytest.fixture
def https_server(certs: Certs) -> Iterator[DemoServer]:
    with DemoServer(tls=certs.server) as server:
        assert server.base_url.startswith("https://127.0.0.1:")
        yield server


def session_for(server: DemoServer) -> AuthSession:
    access, refresh = server.issue_tokens()
    return AuthSession(TokenSet(access, refresh), source="test")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            **(env or {}),
        },
        cwd=REPO,
        timeout=60,
        check=False,
    )


# ---------------------------------------------------------------------------- client


async def test_self_signed_server_is_refused_by_default_with_a_hint(
    https_server: DemoServer,
) -> None:
    async with FlashbackClient(https_server.base_url, session_for(https_server)) as client:
        with pytest.raises(TLSError) as info:
            await client.get_stats()
    message = str(info.value)
    assert "certificate" in message and "--ca-bundle" in message
    assert "\n" not in message
    # Refused before any request reached the API.
    assert https_server.request_count("/ai/llm/stats") == 0


async def test_private_ca_is_accepted_through_the_ca_bundle_option(
    https_server: DemoServer, certs: Certs
) -> None:
    async with FlashbackClient(
        https_server.base_url, session_for(https_server), ca_bundle=str(certs.ca_pem)
    ) as client:
        page = await client.get_stats()
    assert len(page.stats) == 12


async def test_host_name_is_still_checked_with_a_ca_bundle(tmp_path: Path) -> None:
    other = make_certs(tmp_path, "flashback.invalid")  # valid CA, wrong name
    with DemoServer(tls=other.server) as server:
        async with FlashbackClient(
            server.base_url, session_for(server), ca_bundle=str(other.ca_pem)
        ) as client:
            with pytest.raises(TLSError):
                await client.get_stats()


def test_unreadable_ca_bundle_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot use CA bundle"):
        FlashbackClient("https://127.0.0.1:1", ca_bundle=str(tmp_path / "missing.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(UsageError, match="cannot use CA bundle"):
        FlashbackClient("https://127.0.0.1:1", ca_bundle=str(junk))


# ---------------------------------------------------------------------------- CLI


def test_stats_refuses_the_self_signed_server_and_accepts_it_with_ca_bundle(
    https_server: DemoServer, certs: Certs
) -> None:
    access, _ = https_server.issue_tokens()
    env = {"FLASHBACK_TOKEN": access}
    refused = run_cli("stats", "--base-url", https_server.base_url, env=env)
    assert refused.returncode == EXIT_NETWORK, refused.stderr
    assert refused.stderr.count("\n") == 1 and "--ca-bundle" in refused.stderr
    assert refused.stdout == ""

    ok = run_cli(
        "stats", "--base-url", https_server.base_url, "--ca-bundle", str(certs.ca_pem), env=env
    )
    assert ok.returncode == EXIT_OK, ok.stderr
    assert "support-bot" in ok.stdout

    # The documented environment variable does the same as the flag.
    ok_env = run_cli(
        "stats",
        "--base-url",
        https_server.base_url,
        env={**env, "FLASHTOP_CA_BUNDLE": str(certs.ca_pem)},
    )
    assert ok_env.returncode == EXIT_OK, ok_env.stderr


def test_the_usual_tls_environment_variables_do_not_silently_change_trust(
    https_server: DemoServer, certs: Certs
) -> None:
    access, _ = https_server.issue_tokens()
    proc = run_cli(
        "stats",
        "--base-url",
        https_server.base_url,
        env={
            "FLASHBACK_TOKEN": access,
            "SSL_CERT_FILE": str(certs.ca_pem),
            "SSL_CERT_DIR": str(certs.ca_pem.parent),
            "REQUESTS_CA_BUNDLE": str(certs.ca_pem),
            "CURL_CA_BUNDLE": "",
            "PYTHONHTTPSVERIFY": "0",
            "HTTPX_SSL_VERIFY": "0",
            "FLASHTOP_INSECURE": "1",
            "FLASHTOP_VERIFY": "0",
            "FLASHTOP_TLS_VERIFY": "false",
        },
    )
    assert proc.returncode == EXIT_NETWORK, proc.stderr
    assert "--ca-bundle" in proc.stderr


def _all_option_strings() -> list[str]:
    parser = build_parser()
    options = [s for a in parser._actions for s in a.option_strings]
    for action in parser._actions:
        for sub in getattr(action, "choices", None) or {}:
            subparser = action.choices[sub]  # type: ignore[index]
            options += [s for a in subparser._actions for s in a.option_strings]
    return options


def test_no_option_or_config_key_turns_tls_verification_off() -> None:
    words = ("verify", "insecure-tls", "no-tls", "skip", "unsafe", "trust-all", "no-check")
    for option in _all_option_strings():
        assert not any(w in option for w in words), option
        if "insecure" in option:
            assert option == "--insecure-storage"  # token storage, not TLS
    assert not any("verify" in k or "insecure" in k or "tls" in k for k in _PROFILE_KEYS)


def test_config_file_cannot_disable_verification(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.default]\nverify = false\nbase_url = "https://x.example"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'profiles\.default\.verify'"):
        resolve({"config": str(config)}, env={})


# ---------------------------------------------------------------------------- app


async def test_app_shows_the_tls_refusal_and_keeps_running(https_server: DemoServer) -> None:
    clock = FakeClock()
    settings = Settings(profile="test", base_url=https_server.base_url, interval=60.0)
    app = FlashtopApp(settings, session_for(https_server), clock=clock)
    h = Harness(app=app, server=https_server, clock=clock)
    async with h.app.run_test() as pilot:
        await wait_for(
            pilot, lambda: app.monitor.poller.status.state is ConnState.RETRYING, message="retrying"
        )
        text = str(app.overview.status_bar.content)
        assert "TLS certificate" in text and "--ca-bundle" in text
        assert app.is_running and not app.overview.rows
