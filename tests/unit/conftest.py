"""Unit tests never touch a real network interface."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.tsa import TsaFiles, TsaServer, serve


@pytest.fixture(autouse=True)
def _no_passive_capture(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI scans in unit tests plan the cloud-sync listening probe too: it must not sniff this
    machine's own interfaces (and must not wait out a 65 s window). Nothing is heard here; the
    real capture is tested in the lab (tests/test_cloudsync_lab.py)."""
    import checks.cloudsync.listen as listen

    if request.node.get_closest_marker("real_capture"):  # the test stubs the socket itself
        return
    monkeypatch.setattr(listen, "capture", lambda seconds, *args, **kwargs: [])


@pytest.fixture(scope="module")
def tsa_files(tmp_path_factory: pytest.TempPathFactory) -> TsaFiles:
    """A lab CA and TSA certificate for ``openssl ts -reply`` (tests/lab/tsa.py)."""
    return TsaFiles.create(tmp_path_factory.mktemp("tsa"))


@pytest.fixture
def tsa(tsa_files: TsaFiles) -> Iterator[TsaServer]:
    """A real RFC 3161 authority on loopback for one test."""
    with serve(tsa_files) as server:
        yield server
