"""The one helper that starts the simulated backend for `--demo` (CLI and TUI alike).

It starts a :class:`~tui.demo_server.DemoServer` on loopback, points the settings at
it and hands back a session already logged in, so no other module needs to know the
demo's credentials or how to start its server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal

from tui.demo_server import DemoServer, day_epoch
from tui.settings import BudgetSpec, Settings
from tui.tokens import AuthSession, TokenSet

#: The demo profile's models, so a new user sees cost at once (the config file's
#: ``[profiles.demo.models]`` replaces them). sandbox-llama stays unpriced: ``n/a``.
DEMO_MODELS: dict[str, str] = {
    "support-bot": "gpt-4o",
    "code-review": "claude-sonnet-4-5",
    "sql-assistant": "claude-sonnet-4-5",
    "doc-summarizer": "claude-haiku-4-5",
    "search-rerank": "gemini-2.5-flash",
    "analytics-agent": "gemini-2.5-pro",
    # email-triage is left out: priced by the model mix the server reports (/aistats).
    "legacy-chat": "gpt-4o-mini",
    "nightly-batch": "aws/amazon.nova-pro-v1:0",
    "translation": "aws/amazon.nova-lite-v1:0",
    "prompt-playground": "playground-finetune",
}
#: A model the price table does not know, priced in the profile (USD per 1M tokens).
DEMO_PRICES = {"playground-finetune": (Decimal("2"), Decimal("8"))}
DEMO_BUDGETS = (
    BudgetSpec(match="*", period="day", usd=Decimal(500), name="organization / day"),
    BudgetSpec(match="anthropic", period="month", usd=Decimal(50000), name="Anthropic / month"),
    BudgetSpec(match="support-*", period="day", tokens=100_000_000, name="support tokens / day"),
)


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
    if not demo.models:
        demo = replace(demo, models=DEMO_MODELS, prices={**DEMO_PRICES, **demo.prices})
    if not demo.budgets:
        demo = replace(demo, budgets=DEMO_BUDGETS)
    return DemoBackend(server, demo, session)


@contextmanager
def demo_backend(settings: Settings) -> Iterator[DemoBackend]:
    """:func:`start_demo` for the length of a ``with`` block."""
    backend = start_demo(settings)
    try:
        yield backend
    finally:
        backend.stop()
