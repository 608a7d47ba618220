"""Shared pytest fixtures."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tui.demo_server import DemoServer


@pytest.fixture
def demo_server() -> Iterator[DemoServer]:
    """A real simulated Flashback backend on 127.0.0.1, fresh for each test."""
    with DemoServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep every test away from the user's real config, data and keyring."""
    root = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        path = root / sub
        path.mkdir()
        monkeypatch.setenv(var, str(path))
    for var in ("FLASHBACK_TOKEN", "FLASHBACK_BASE_URL", "FLASHTOP_CONFIG", "FLASHTOP_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    # The status bar shows local wall-clock times: the same in every test and snapshot.
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
