"""The one helper that starts the simulated backend for `--demo` (CLI and TUI alike).

It starts a :class:`~tui.demo_server.DemoServer` on loopback, points the settings at
it and hands back a session already logged in, so no other module needs to know the
demo's credentials or how to start its server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from tui.demo_server import DemoServer, day_epoch
from tui.settings import Settings
from tui.tokens import AuthSession, TokenSet


@dataclass(frozen=True, slots=True)
class DemoBackend:
    """A running simulated backend, settings pointing at it and a logged-in session."""

    server: DemoServer
    settings: Settings
    session: AuthSession

    def stop(self) -> None:
        self.server.stop()


def start_demo(settings: Settings) -> DemoBackend:
    """Start the simulated backend (its counters continue from midnight UTC, so a
    restarted demo picks up where it left off) and log in to it."""
    server = DemoServer(epoch=day_epoch()).start()
    access, refresh = server.issue_tokens()
    now = server.clock()
    tokens = TokenSet(access, refresh, expires_at=now + server.token_lifetime, obtained_at=now)
    session = AuthSession(tokens, source="demo")
    # Loopback, plain http: a profile's private CA bundle has nothing to do here.
    demo = replace(settings, base_url=server.base_url, demo=True, profile="demo", ca_bundle=None)
    return DemoBackend(server, demo, session)


@contextmanager
def demo_backend(settings: Settings) -> Iterator[DemoBackend]:
    """:func:`start_demo` for the length of a ``with`` block."""
    backend = start_demo(settings)
    try:
        yield backend
    finally:
        backend.stop()
