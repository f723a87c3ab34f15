"""pytest configuration shared by every test: the lab plugin (fixtures ``lab``; marker ``lab``),
and a private home for gapscan's default paths."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["tests.lab.fixtures"]

XDG_NAMES = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME")


def pytest_configure(config: pytest.Config) -> None:
    """Before any fixture (module- and session-scoped ones run before the per-test fixture below):
    the whole session gets private XDG directories, so no test, and no gapscan it starts, ever
    opens the real user's history database, keys or anchor log."""
    root = Path(tempfile.mkdtemp(prefix="gapscan-test-xdg-"))
    for name in XDG_NAMES:
        os.environ[name] = str(root / name.removeprefix("XDG_").removesuffix("_HOME").lower())


@pytest.fixture(autouse=True)
def _private_xdg_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may write to the real user's history database or keys (XDG data/config/state
    paths); subprocesses (gapscan run inside the lab namespace) inherit the same private directories."""
    root = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(root / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(root / "state"))
    return root
