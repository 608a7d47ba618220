"""Today's design, for side-by-side figures: ``tui/store.py`` and ``tui/history.py`` as
they were before compact samples (issue 18), read from git and loaded as modules
``legacy_store`` and ``legacy_history`` (not a benchmark itself).

The old store imports the old history; everything else (settings, models, rules)
is the current code, whose interfaces those two use unchanged.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
#: The last commit before issue 18 (row-per-sample store, 80-byte-record history).
BASE = "2bc84ce"


def _source(path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{BASE}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def load(name: str) -> ModuleType:
    """``legacy_history`` or ``legacy_store`` (loading the store loads the history)."""
    full = f"legacy_{name}"
    if full in sys.modules:
        return sys.modules[full]
    if name == "store":
        load("history")
    text = _source(f"tui/{name}.py").replace(
        "from tui.history import", "from legacy_history import"
    )
    module = ModuleType(full)
    module.__file__ = f"{BASE}:tui/{name}.py"
    sys.modules[full] = module
    exec(compile(text, module.__file__, "exec"), module.__dict__)
    return module
