"""pytest configuration shared by every test: the lab plugin (fixtures ``lab``; marker ``lab``),
and a private home for gapscan's default paths."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.lab.fixtures"]


@pytest.fixture(autouse=True)
def _private_xdg_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may write to the real user's history database, keys or anchor log (XDG data, config
    and state paths); subprocesses (gapscan run inside the lab namespace) inherit the same private
    directories."""
    root = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(root / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(root / "state"))
    return root
