"""pytest configuration shared by every test: the lab plugin (fixtures ``lab``; marker ``lab``),
and a private home for gapscan's default paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.lab.fixtures"]


def _set_private_xdg(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(root / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(root / "state"))


@pytest.fixture(scope="session", autouse=True)
def _private_xdg_dirs_for_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Module- and session-scoped fixtures run gapscan too (one lab scan shared by a module's
    tests, with --client): they must not reach the real user's database, keys or anchor log
    either. Each test then gets directories of its own (below)."""
    root = tmp_path_factory.mktemp("xdg-session")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _set_private_xdg(root, monkeypatch)
        yield root


@pytest.fixture(autouse=True)
def _private_xdg_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may write to the real user's history database, keys or anchor log (XDG data, config
    and state paths); subprocesses (gapscan run inside the lab namespace) inherit the same private
    directories."""
    root = tmp_path_factory.mktemp("xdg")
    _set_private_xdg(root, monkeypatch)
    return root
