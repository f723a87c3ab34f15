"""pytest configuration shared by every test: the lab plugin (fixtures ``lab``; marker ``lab``),
and a private home for gapscan's default paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.lab.fixtures"]


@pytest.fixture(scope="session", autouse=True)
def _private_xdg_dirs_for_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The same for module- and session-scoped fixtures, which are set up before any
    function-scoped one (a module's shared `gapscan scan --client ...` would otherwise open the
    real user's database)."""
    root = tmp_path_factory.mktemp("xdg-session")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(root / "data"))
        patch.setenv("XDG_CONFIG_HOME", str(root / "config"))
        yield root


@pytest.fixture(autouse=True)
def _private_xdg_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may write to the real user's history database or keys (XDG data/config paths);
    subprocesses (gapscan run inside the lab namespace) inherit the same private directories."""
    root = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(root / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "config"))
    return root
