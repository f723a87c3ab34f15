"""Unit tests never touch a real network interface."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_passive_capture(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI scans in unit tests plan the cloud-sync listening probe too: it must not sniff this
    machine's own interfaces (and must not wait out a 65 s window). Nothing is heard here; the
    real capture is tested in the lab (tests/test_cloudsync_lab.py)."""
    import checks.cloudsync.listen as listen

    if request.node.get_closest_marker("real_capture"):  # the test stubs the socket itself
        return
    monkeypatch.setattr(listen, "capture", lambda seconds, *args, **kwargs: [])
