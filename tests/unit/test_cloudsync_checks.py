"""cloudsync.syncthing / cloudsync.dropbox_lansync judged on hand-built facts; the permission and
window-0 paths of the probe; the planner's once-per-scan network target."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from checks.cloudsync import listen
from checks.cloudsync.checks import DropboxLanSync, SyncthingAnnounces
from checks.cloudsync.listen import Heard, LanSyncAnnouncements, LanSyncFacts
from scanner.check import ProbeContext
from scanner.config import TimeoutConfig
from scanner.framework import load_framework
from scanner.models import Finding, Host, Service, Skip, SkipReason
from scanner.planner import NETWORK_TARGET, plan_checks
from scanner.registry import load_registry

NET = NETWORK_TARGET
ST = Heard("syncthing", "198.18.0.50", 2, {"device_id_short": "YKY2LYL", "addresses": []})
DB = Heard("dropbox", "198.18.0.51", 6, {"displayname": "", "version": "2.0", "port": 17500,
                                          "host_int_hash": "abcd1234", "namespace_count": 3,
                                          "namespaces_hash": "0badc0de"})


def _eval(check: Any, facts: LanSyncFacts) -> list[Finding | Skip]:
    return list(check.evaluate(NET, {LanSyncAnnouncements: facts}))


def test_each_sender_fails_with_evidence_and_what_must_follow() -> None:
    facts = LanSyncFacts(window_s=32, requested_s=32, heard=(ST, DB))
    (st,) = _eval(SyncthingAnnounces(), facts)
    (db,) = _eval(DropboxLanSync(), facts)
    assert isinstance(st, Finding) and isinstance(db, Finding)
    assert not st.passed and not db.passed
    assert st.discriminator == "198.18.0.50" and "YKY2LYL" in st.detail
    assert db.discriminator == "198.18.0.51" and "3 shared namespace(s)" in db.detail and "0badc0de" in db.detail
    assert "BAA" in db.detail or "Business Associate" in db.detail
    assert "Remove the client" in st.detail
    assert db.evidence[0].data["namespace_count"] == 3 and db.evidence[0].data["sender"] == "198.18.0.51"


def test_two_senders_two_findings() -> None:
    other = Heard("syncthing", "198.18.0.60", 1, {"device_id_short": "AAAAAAA"})
    results = _eval(SyncthingAnnounces(), LanSyncFacts(window_s=32, requested_s=32, heard=(ST, other)))
    assert sorted(r.discriminator for r in results if isinstance(r, Finding)) == ["198.18.0.50", "198.18.0.60"]


def test_nothing_heard_is_pass_naming_the_window() -> None:
    (r,) = _eval(DropboxLanSync(), LanSyncFacts(window_s=32, requested_s=32, heard=(ST,)))
    assert isinstance(r, Finding) and r.passed and "32 s" in r.detail


def test_silence_in_a_window_shorter_than_one_interval_is_no_pass() -> None:
    (r,) = _eval(DropboxLanSync(), LanSyncFacts(window_s=27, requested_s=27, heard=(ST,)))
    assert isinstance(r, Skip) and r.reason is SkipReason.DISABLED_BY_PROFILE
    assert "27 s" in r.detail and "30 s" in r.detail
    (fail,) = _eval(SyncthingAnnounces(), LanSyncFacts(window_s=12, requested_s=12, heard=(ST,)))
    assert isinstance(fail, Finding) and not fail.passed  # what was heard is reported however short


def test_permission_denied_is_skipped_never_pass() -> None:
    (r,) = _eval(SyncthingAnnounces(), LanSyncFacts(window_s=0, requested_s=30, denied="no raw socket"))
    assert isinstance(r, Skip) and r.reason is SkipReason.PERMISSION


def test_window_zero_is_skipped() -> None:
    (r,) = _eval(DropboxLanSync(), LanSyncFacts(window_s=0, requested_s=0))
    assert isinstance(r, Skip) and r.reason is SkipReason.DISABLED_BY_PROFILE


def _ctx(listen_seconds: float, probe: float = 30) -> ProbeContext:
    return ProbeContext(timeouts=TimeoutConfig(probe=probe), listen_seconds=listen_seconds)


@pytest.mark.real_capture
def test_probe_without_raw_socket_permission_reports_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> socket.socket:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(listen.socket, "socket", refuse)
    facts = LanSyncAnnouncements().collect(NET, _ctx(5))
    assert facts.denied and facts.window_s == 0


def test_probe_window_zero_listens_to_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listen, "capture", lambda *_: pytest.fail("must not listen"))
    assert LanSyncAnnouncements().collect(NET, _ctx(0)).window_s == 0


def test_probe_listens_for_the_whole_window(monkeypatch: pytest.MonkeyPatch) -> None:
    # The runner extends a listening probe's deadline by the window (Probe.listens), so the
    # window is not cut to fit timeouts.probe.
    seen: list[float] = []
    monkeypatch.setattr(listen, "capture", lambda seconds: seen.append(seconds) or [])
    facts = LanSyncAnnouncements().collect(NET, _ctx(65, probe=30))
    assert LanSyncAnnouncements.listens
    assert seen == [65] and facts.window_s == 65 and facts.requested_s == 65


def test_probe_applies_only_to_the_network_target() -> None:
    from scanner.models import Target

    assert LanSyncAnnouncements.applies(NET)
    assert not LanSyncAnnouncements.applies(Target(host="198.18.0.50"))


def test_planner_plans_one_network_target_per_scan_with_hosts() -> None:
    registry = load_registry(load_framework())
    hosts = [Host(address="198.18.0.50", services=(Service(port=22000, service="syncthing"),)),
             Host(address="198.18.0.51")]
    ids = ["cloudsync.syncthing", "cloudsync.dropbox_lansync"]
    plan = plan_checks(registry, ids, hosts, [])
    assert sorted((p.check.id, p.target) for p in plan.checks) == sorted((i, NET) for i in ids)
    assert len(plan.probe_keys()) == 1  # one listening window for both checks
    assert plan_checks(registry, ids, [], ["example.test"]).checks == ()  # domain-only scan: no listening


def test_checks_map_to_business_associate_citations() -> None:
    registry = load_registry(load_framework())
    for check_id in ("cloudsync.syncthing", "cloudsync.dropbox_lansync"):
        assert {"164.308(b)(1)", "164.314(a)(1)"} <= set(registry.get(check_id).hipaa)
