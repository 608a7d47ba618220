"""The non-UI layers must never import Textual (fast start, usable without a terminal).

Each check runs in a fresh interpreter, because this test process may already have
imported Textual through other tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CORE_MODULES = (
    "tui.errors",
    "tui.models",
    "tui.tokens",
    "tui.client",
    "tui.settings",
    "tui.demo_server",
    "tui.cli",
    "tui.credentials",
    "tui.account",
    "tui.history",
    "tui.poller",
    "tui.store",
    "tui.export",
    "tui.alerts",
    "tui.view",
    "tui.fmt",
    "tui.logsetup",
)
OPTIONAL_MODULES: tuple[str, ...] = ()


def modules_to_check() -> list[str]:
    present = [m for m in OPTIONAL_MODULES if importlib.util.find_spec(m) is not None]
    return [*CORE_MODULES, *present]


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_core_modules_do_not_import_textual() -> None:
    modules = modules_to_check()
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(json.dumps({'ui': loaded, 'mods': [m for m in "
        f"{modules!r} if m in sys.modules]}}))\n"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["mods"] == modules  # they really were imported
    assert result["ui"] == [], f"textual imported by the core layers: {result['ui'][:5]}"


def test_each_core_module_alone_does_not_import_textual() -> None:
    # One interpreter per module would be slow; instead, record which module first
    # pulls Textual in, importing them one by one in a fresh process.
    modules = modules_to_check()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    if 'textual' in sys.modules:\n"
        "        print(name)\n"
        "        break\n"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"{proc.stdout.strip()} imports textual"


def test_stats_json_command_does_not_import_textual() -> None:
    proc = run_python("-X", "importtime", "-m", "tui", "stats", "--demo", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = json.loads(proc.stdout)
    assert body["success"] is True and len(body["stats"]) == 12
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()]
    assert "tui.client" in imported  # -X importtime really reported the imports
    offenders = [m for m in imported if m == "textual" or m.startswith("textual.")]
    assert offenders == [], f"stats --json imported {offenders[:5]}"
    assert "textual" not in proc.stderr
