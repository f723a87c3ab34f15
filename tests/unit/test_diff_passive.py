"""Drift of passive (listening) findings (issue 21): a host heard announcing a consumer sync client
in run A counts as *resolved* in run B only when B listened at least as long over a scope that
includes the host and did not hear it; otherwise *not retested*. Results are made by the real
checks from LAN-sync facts, as the runner makes them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from checks.cloudsync.listen import Heard, LanSyncAnnouncements, LanSyncFacts
from checks.cloudsync.listener import SyncListener
from scanner.config.framework import load_framework
from scanner.engine.planner import NETWORK_TARGET, PlannedCheck
from scanner.engine.registry import load_registry
from scanner.engine.runner import result_from_finding
from scanner.history.drift import compare
from scanner.models import CheckResult, ScanRun, ScopeRecord, summarize, utcnow
from tests.unit.test_store import lab_run

DROPBOX = "cloudsync.dropbox_lansync"
SENDER = "198.18.0.51"
OTHER = "198.18.0.61"


def _heard(address: str) -> Heard:
    return Heard("dropbox", address, 30, {"displayname": "", "version": "2.0", "port": 17500,
                                          "host_int_hash": "abcd1234", "namespace_count": 3,
                                          "namespaces_hash": "0badc0de"})


def _results(facts: LanSyncFacts, check_id: str = DROPBOX) -> tuple[CheckResult, ...]:
    registered = load_registry(load_framework()).get(check_id)
    planned = PlannedCheck(check=registered, target=NETWORK_TARGET)
    check = registered.cls()
    items = check.evaluate(NETWORK_TARGET, {LanSyncAnnouncements: facts, SyncListener: None})
    return tuple(result_from_finding(planned, item, utcnow()) for item in items)


def _run(run_id: str, days: int, facts: LanSyncFacts, targets: tuple[str, ...] = ("198.18.0.0/24",),
         exclusions: tuple[str, ...] = (), names: dict[str, tuple[str, ...]] | None = None) -> ScanRun:
    base = lab_run()
    results = _results(facts)
    scope = ScopeRecord(targets=targets, exclusions=exclusions,
                        resolved_names=names or {"front-desk.practice.example": ("198.18.0.99",)})
    return base.model_copy(update={
        "run_id": run_id, "started_at": base.started_at + timedelta(days=days), "results": results,
        "summary": summarize(results), "scope": scope,
    })


HEARD = LanSyncFacts(window_s=65, requested_s=65, heard=(_heard(SENDER),))


def _item(b: ScanRun) -> tuple[str, str | None, str]:
    drift = compare(_run("run-a", 0, HEARD), b)
    items = [i for i in drift.items if i.check_id == DROPBOX and SENDER in i.detail]
    assert len(items) == 1, drift.items
    return items[0].kind, items[0].after, items[0].detail


def test_a_sender_not_heard_in_a_full_window_over_its_scope_is_resolved() -> None:
    kind, after, detail = _item(_run("run-b", 7, LanSyncFacts(window_s=65, requested_s=65)))
    assert kind == "resolved" and after == "not heard"
    assert SENDER in detail and "65 s" in detail


def test_another_sender_heard_does_not_keep_the_first_open() -> None:
    kind, _, _ = _item(_run("run-b", 7, LanSyncFacts(window_s=65, requested_s=65, heard=(_heard(OTHER),))))
    assert kind == "resolved"


def test_still_heard_persists() -> None:
    kind, _, _ = _item(_run("run-b", 7, HEARD))
    assert kind == "persisting"


@pytest.mark.parametrize(("why", "facts", "targets", "exclusions"), [
    ("did not listen (window 0)", LanSyncFacts(window_s=0, requested_s=0), ("198.18.0.0/24",), ()),
    ("could not listen (no CAP_NET_RAW)", LanSyncFacts(window_s=0, requested_s=65, denied="EPERM"),
     ("198.18.0.0/24",), ()),
    ("listened less long", LanSyncFacts(window_s=33, requested_s=33), ("198.18.0.0/24",), ()),
    ("listened shorter than an announcement interval", LanSyncFacts(window_s=20, requested_s=20),
     ("198.18.0.0/24",), ()),
    ("the host was excluded", LanSyncFacts(window_s=65, requested_s=65), ("198.18.0.0/24",), (SENDER,)),
    ("another scope", LanSyncFacts(window_s=65, requested_s=65), ("198.18.5.0/24",), ()),
    ("a host name the run resolved elsewhere", LanSyncFacts(window_s=65, requested_s=65),
     ("front-desk.practice.example",), ()),
])
def test_not_retested_unless_it_listened_over_the_host_as_long(why: str, facts: LanSyncFacts,
                                                                targets: tuple[str, ...],
                                                                exclusions: tuple[str, ...]) -> None:
    kind, _, _ = _item(_run("run-b", 7, facts, targets, exclusions))
    assert kind == "not_retested", why


def test_a_range_scope_that_includes_the_host_counts() -> None:
    kind, _, _ = _item(_run("run-b", 7, LanSyncFacts(window_s=90, requested_s=90), ("198.18.0.40-60",)))
    assert kind == "resolved"


def test_a_host_name_counts_with_the_addresses_the_run_recorded_for_it() -> None:
    run_b = _run("run-b", 7, LanSyncFacts(window_s=65, requested_s=65), ("front-desk.practice.example",),
                 names={"front-desk.practice.example": (SENDER,)})
    kind, _, _ = _item(run_b)
    assert kind == "resolved"
