"""pytest plugin for the lab (load with ``pytest_plugins = ["tests.lab.fixtures"]``).

The session-scoped ``lab`` fixture brings the lab up once per session, or reuses one that is
already up and healthy (e.g. from `python -m tests.lab up`), and tears down only what it
started, even after failures. Without root, CAP_NET_ADMIN or the daemons, lab tests are skipped
with the reason; with GAPSCAN_REQUIRE_LAB=1 (set by `make test` and CI) they fail instead.
GAPSCAN_LAB_PARTS=practice limits the parts brought up (default: practice,dense).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator

import pytest

from .lab import PARTS, Lab, preflight
from .proc import LabError

REQUIRE_ENV = "GAPSCAN_REQUIRE_LAB"
PARTS_ENV = "GAPSCAN_LAB_PARTS"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lab: needs root and the network-namespace lab of real daemons")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test that uses the lab fixture carries the marker, so `-m "not lab"` deselects them.
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.lab)


def lab_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def _unavailable(reason: str) -> None:
    message = f"LAB UNAVAILABLE: {reason}"
    if lab_required():
        pytest.fail(f"{message} ({REQUIRE_ENV}=1: a missing lab is a failure)", pytrace=False)
    pytest.skip(f"{message} (set {REQUIRE_ENV}=1 to make this a failure)")


def _wanted_parts() -> tuple[str, ...]:
    text = os.environ.get(PARTS_ENV, "")
    parts = tuple(p.strip() for p in text.split(",") if p.strip()) or PARTS
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise pytest.UsageError(f"{PARTS_ENV}: unknown part(s) {sorted(unknown)}; known: {PARTS}")
    return parts


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The running lab (see tests.lab.topology for what it holds)."""
    parts = _wanted_parts()
    problems = preflight(parts)
    if problems:
        _unavailable("; ".join(problems))
    existing = Lab()
    if set(parts) <= set(existing.parts) and existing.is_up() and existing.healthy():
        yield existing  # someone else's lab: use it, leave it running
        return
    started = Lab()
    # Belt and braces: session teardown runs on failures and Ctrl-C, atexit covers the rest.
    atexit.register(started.down)
    try:
        started.up(parts)
    except LabError as exc:
        # The prerequisites are there, so a lab that does not start is a bug: always a failure.
        pytest.fail(f"the lab did not start: {exc}", pytrace=False)
    try:
        yield started
        # Issue 3: the Postfix queues must stay empty after the mail tests, whatever they sent.
        leaks = started.mail_leaks()
        if leaks:
            raise LabError("lab Postfix kept or delivered mail:\n" + "\n".join(leaks[:20]))
    finally:
        problems = started.down()
        atexit.unregister(started.down)
        if problems:
            raise LabError("lab teardown left: " + "; ".join(problems))
