"""Regenerate the screenshots in this folder from the real app on the demo backend.

    python screenshots/make_screenshots.py

Runs flashtop headless (Textual's test driver) against the simulated backend with
a fake clock, so the pictures are the same from run to run, and writes SVG files
here. When `rsvg-convert` (librsvg) is on the PATH it also writes PNG copies.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ["TZ"] = "UTC"  # the status bar shows wall-clock times: the same on every machine
time.tzset()
sys.path.insert(0, str(HERE.parent))

from tui.app import FlashtopApp  # noqa: E402
from tui.demo import DEMO_BUDGETS, DEMO_MODELS, DEMO_PRICES  # noqa: E402
from tui.demo_server import DemoServer  # noqa: E402
from tui.settings import Settings  # noqa: E402
from tui.tokens import AuthSession, TokenSet  # noqa: E402

START = 1_800_000_000.0
SHOWN_URL = "http://127.0.0.1:8787"


class FakeClock:
    """Wall clock that moves only when told to."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def wait_until(pilot: object, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


async def shoot(
    name: str, size: tuple[int, int], steps: Callable[[FlashtopApp, object], Awaitable[None]]
) -> Path:
    clock = FakeClock(START)
    server = DemoServer(clock=clock).start()
    try:
        access, refresh = server.issue_tokens()
        session = AuthSession(TokenSet(access, refresh), source="screenshots")
        # What `flashtop --demo` shows: the demo's models, prices and budgets.
        settings = Settings(
            profile="demo",
            base_url=server.base_url,
            interval=5.0,
            models=DEMO_MODELS,
            prices=DEMO_PRICES,
            budgets=DEMO_BUDGETS,
        )
        app = FlashtopApp(settings, session, clock=clock, mark_changes=False)
        app.monitor.poller.min_gap = 0.0  # polls as fast as the script asks
        async with app.run_test(size=size) as pilot:
            # Five minutes of polls, 5 simulated seconds apart: the charts' whole window.
            for i in range(61):
                target = app.monitor.poller.status.polls + 1
                if i:
                    clock.now += 5.0
                    app.monitor.poll_now()
                await wait_until(pilot, lambda t=target: app.monitor.poller.status.polls >= t)
            await wait_until(pilot, lambda: bool(app.monitor.names))
            app.overview.render_rows()
            app.overview.status_bar.base_url = SHOWN_URL
            app.overview.status_bar.refresh_text()
            await steps(app, pilot)
            app.clear_notifications()
            await pilot.pause(0.3)
            path = HERE / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(HERE))
            return path
    finally:
        server.stop()


async def overview(app: FlashtopApp, pilot: object) -> None:
    return None


async def grouped(app: FlashtopApp, pilot: object) -> None:
    await pilot.press("g")  # type: ignore[attr-defined]


async def budgets(app: FlashtopApp, pilot: object) -> None:
    await pilot.press("b")  # type: ignore[attr-defined]


async def help_screen(app: FlashtopApp, pilot: object) -> None:
    await pilot.press("question_mark")  # type: ignore[attr-defined]


async def detail(app: FlashtopApp, pilot: object) -> None:
    from tui.screens.detail import DetailScreen

    await pilot.press("enter")  # type: ignore[attr-defined]
    await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen))
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    await wait_until(pilot, lambda: screen.poller is not None and screen.poller.status.polls >= 1)


async def models(app: FlashtopApp, pilot: object) -> None:
    """The drill-down's `m`: models and hosts of the last hour, from /aistats."""
    from tui.screens.detail import DetailScreen

    await detail(app, pilot)
    await pilot.press("w", "m")  # type: ignore[attr-defined]
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    # Answered: the (id, window) entry holds the breakdowns, not a reason.
    await wait_until(
        pilot, lambda: any(not isinstance(v[1], str) for v in screen._breakdowns.values())
    )
    await pilot.pause(0.3)  # type: ignore[attr-defined]


async def main() -> int:
    shots = []
    for size in ((120, 40), (80, 24)):
        tag = f"{size[0]}x{size[1]}"
        shots.append(await shoot(f"overview-{tag}", size, overview))
        shots.append(await shoot(f"help-{tag}", size, help_screen))
        shots.append(await shoot(f"detail-{tag}", size, detail))
    shots.append(await shoot("grouped-120x40", (120, 40), grouped))
    shots.append(await shoot("budgets-120x40", (120, 40), budgets))
    shots.append(await shoot("models-120x40", (120, 40), models))
    converter = shutil.which("rsvg-convert")
    for svg in shots:
        print(svg.relative_to(HERE.parent))
        if converter:
            png = svg.with_suffix(".png")
            subprocess.run([converter, "-o", str(png), str(svg)], check=True)
            print(png.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
