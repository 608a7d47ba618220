"""The wheel carries the stylesheets, and an installed copy finds them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_styles_and_installed_copy_finds_them(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    wheel = next(out.glob("flashtop-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        sheets = sorted(p.name for p in (ROOT / "styles").glob("*.tcss"))
        assert sheets, "styles/ holds no stylesheet"
        for sheet in sheets:
            assert f"tui/styles/{sheet}" in names
        zf.extractall(tmp_path / "site")
    # Run from an unrelated directory so the source checkout is not importable.
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    found = subprocess.run(
        [sys.executable, "-c", "import tui.app; print(tui.app.styles_dir())"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout.strip()
    assert Path(found) == tmp_path / "site" / "tui" / "styles"
