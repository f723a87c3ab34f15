"""The import rules of docs/architecture.md hold, and they bite: a check that reaches for the
history store (or a report that reaches for the engine) fails ``lint-imports``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (pip install -e '.[dev]')")


def _copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("scanner", "checks", "reports", "profiles"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "400"}
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    done = _lint(_copy_tree(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("checks/smb/signing.py", "import scanner.history.store  # noqa: F401\n", "Checks import only the SDK"),
    ("reports/csv_report.py", "import scanner.engine.runner  # noqa: F401\n", "Reports import only the models"),
    ("scanner/discovery/identify.py", "import scanner.engine.runner  # noqa: F401\n", "No layer imports a layer above"),
])
def test_a_forbidden_import_breaks_lint(tmp_path: Path, module: str, line: str, contract: str) -> None:
    root = _copy_tree(tmp_path)
    path = root / module
    text = path.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + sep + line + rest)
    done = _lint(root)
    assert done.returncode != 0, done.stdout
    broken = [row for row in done.stdout.splitlines() if "BROKEN" in row]
    assert any(contract in row for row in broken), done.stdout
