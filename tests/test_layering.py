"""The non-UI layers must never import Textual (fast start, usable without a terminal).

Each check runs in a fresh interpreter, because this test process may already have
imported Textual through other tests.
"""

from __future__ import annotations

import ast
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
    "tui.charts",
    "tui.logsetup",
    "tui.counters",
    "tui.monitor",
    "tui.demo",
    "tui.pricing",
    "tui.costs",
    "tui.ledger",
    "tui.budgets",
    "tui.grouping",
    "tui.rules",
    "tui.notify",
    "tui.toasts",
    "tui.promsource",
    "tui.rules_lock",
    "tui.metrics",
    "tui.daemon",
    "tui.aistats",
    "tui.breakdown",
    "tui.windowed",
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


# ---------------------------------------------------------------------------- import graph

PACKAGE = REPO / "tui"


def module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = REPO) -> set[str]:
    """Every module of the package ``path`` imports, anywhere in it: at the top,
    inside functions and under ``if TYPE_CHECKING:`` alike."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path, root)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # ``from tui import app`` imports the module tui.app.
            found.update(f"{base}.{a.name}" for a in node.names)
    top = root / here.split(".")[0]
    modules = {module_name(p, root) for p in top.rglob("*.py")}
    return {m for m in found if m in modules and m != here}


def import_graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path, or None (depth-first, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_import_graph_of_the_package_has_no_cycle() -> None:
    graph = import_graph()
    assert "tui.monitor" in graph and "tui.app" in graph["tui.cli"]  # the scan sees imports
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_find_cycle_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_screens_and_widgets_never_import_the_app() -> None:
    graph = import_graph()
    faces = [m for m in graph if m.startswith(("tui.screens.", "tui.widgets."))]
    assert "tui.screens.overview" in faces and "tui.widgets.stats_table" in faces
    offenders = sorted(m for m in faces if "tui.app" in graph[m])
    assert offenders == [], f"{offenders} import tui.app (screens get the Monitor instead)"


def test_imports_of_sees_type_checking_and_function_level_imports(tmp_path: Path) -> None:
    for name in ("app.py", "monitor.py", "__init__.py", "screens/__init__.py"):
        (tmp_path / "tui" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tui" / name).write_text("", encoding="utf-8")
    probe = tmp_path / "tui" / "screens" / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from tui.app import FlashtopApp\n"
        "def f():\n    from .. import monitor\n",
        encoding="utf-8",
    )
    assert imports_of(probe, tmp_path) == {"tui", "tui.app", "tui.monitor"}


def test_the_app_is_glue_without_history_store_rate_or_alert_logic() -> None:
    # app.py may name an Alert to show it, but records, stores, rates and decides
    # nothing: those live in the Monitor and the modules under it.
    used = import_graph()["tui.app"]
    for lower in ("tui.history", "tui.store", "tui.view", "tui.client"):
        assert lower not in used, f"tui.app imports {lower}"
    source = (PACKAGE / "app.py").read_text(encoding="utf-8")
    for word in ("rate_per_minute", "history.record", "event_alerts", "RateWatch", "submit("):
        assert word not in source, f"app.py does {word}"
