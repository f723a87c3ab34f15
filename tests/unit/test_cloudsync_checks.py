"""cloudsync.syncthing / cloudsync.dropbox_lansync / cloudsync.resilio judged on hand-built facts;
the sync-port path (a real Syncthing certificate recorded in the lab); the permission and window-0
paths of the probe; one capture per run however many targets ask; the planner's targets."""

from __future__ import annotations

import base64
import socket
import threading
import time
from typing import Any

import pytest

from checks.cloudsync import listen
from checks.cloudsync.checks import DropboxLanSync, ResilioDiscovery, SyncthingAnnounces
from checks.cloudsync.listen import Heard, LanSyncAnnouncements, LanSyncFacts
from checks.cloudsync.listener import ListenerFacts, SyncListener, syncthing_facts
from scanner.check import ProbeContext, TimeoutConfig
from scanner.config.framework import load_framework
from scanner.engine.planner import NETWORK_TARGET, plan_checks
from scanner.engine.registry import load_registry
from scanner.models import Finding, Host, Service, Severity, Skip, SkipReason, Target, ThirdPartyKind, Transport

NET = NETWORK_TARGET
ST = Heard("syncthing", "198.18.0.50", 2, {"device_id_short": "YKY2LYL", "addresses": []})
DB = Heard("dropbox", "198.18.0.51", 6, {"displayname": "", "version": "2.0", "port": 17500,
                                          "host_int_hash": "abcd1234", "namespace_count": 3,
                                          "namespaces_hash": "0badc0de"})


def _eval(check: Any, facts: LanSyncFacts, target: Target = NET,
          listener: ListenerFacts | None = None) -> list[Finding | Skip]:
    return list(check.evaluate(target, {LanSyncAnnouncements: facts, SyncListener: listener}))


def test_each_sender_fails_with_evidence_and_what_must_follow() -> None:
    facts = LanSyncFacts(window_s=32, requested_s=32, heard=(ST, DB))
    (st,) = _eval(SyncthingAnnounces(), facts)
    (db,) = _eval(DropboxLanSync(), facts)
    assert isinstance(st, Finding) and isinstance(db, Finding)
    assert not st.passed and not db.passed
    assert st.discriminator == "198.18.0.50" and "YKY2LYL" in st.detail
    assert db.discriminator == "198.18.0.51" and "3 shared namespace(s)" in db.detail and "0badc0de" in db.detail
    assert "BAA" in db.detail or "Business Associate" in db.detail
    assert "Remove Syncthing" in st.detail and "peer device" in st.detail  # peer-to-peer: no BAA
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

    def record(seconds: float) -> list[Any]:
        seen.append(seconds)
        return []

    monkeypatch.setattr(listen, "capture", record)
    facts = LanSyncAnnouncements().collect(NET, _ctx(65, probe=30))
    assert LanSyncAnnouncements.listens
    assert seen == [65] and facts.window_s == 65 and facts.requested_s == 65


def test_probes_apply_to_the_network_target_and_tcp_sync_ports_only() -> None:
    st_port = Target(host="198.18.0.50", port=22000, transport=Transport.TCP, service="syncthing")
    for probe in (LanSyncAnnouncements, SyncListener):
        assert probe.applies(NET) and probe.applies(st_port)
        assert not probe.applies(Target(host="198.18.0.50", port=22, transport=Transport.TCP, service="ssh"))
        assert not probe.applies(Target(host="198.18.0.51", port=17500, transport=Transport.UDP, service="dropbox"))


def test_one_capture_per_run_however_many_targets_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []

    def slow_capture(seconds: float) -> list[Any]:
        calls.append(seconds)
        time.sleep(0.2)
        return []

    monkeypatch.setattr(listen, "capture", slow_capture)
    run = _ctx(1)
    st_port = Target(host="198.18.0.50", port=22000, transport=Transport.TCP, service="syncthing")
    out: list[LanSyncFacts] = []
    threads = [threading.Thread(target=lambda t=t: out.append(LanSyncAnnouncements().collect(t, run)))
               for t in (NET, st_port, NET)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert calls == [1] and len(out) == 3 and len({id(f) for f in out}) == 1
    LanSyncAnnouncements().collect(NET, _ctx(1))  # another run (another context): its own window
    assert calls == [1, 1]


# Syncthing's certificate, recorded from the lab's Syncthing 1.19.2 on 198.18.0.50:22000 (TLS 1.3,
# ALPN bep/1.0); the device id it logged started QSWDRPQ.
SYNCTHING_CERT = base64.b64decode(
    "MIICHTCCAaOgAwIBAgIJAPHarJ20CoDWMAoGCCqGSM49BAMCMEoxEjAQBgNVBAoTCVN5bmN0aGluZzEgMB4GA1UECxMXQXV0b21h"
    "dGljYWxseSBHZW5lcmF0ZWQxEjAQBgNVBAMTCXN5bmN0aGluZzAeFw0yNjExMjMwMDAwMDBaFw00NjExMTgwMDAwMDBaMEoxEjAQ"
    "BgNVBAoTCVN5bmN0aGluZzEgMB4GA1UECxMXQXV0b21hdGljYWxseSBHZW5lcmF0ZWQxEjAQBgNVBAMTCXN5bmN0aGluZzB2MBAG"
    "ByqGSM49AgEGBSuBBAAiA2IABPa0G7ZjtQAanEtt2YTapXz/p4M46OlXuhjFs+vJk8EzO2KTn9rHH/P+2Anax4MQutbtTfKSAsy7"
    "8YtVEEx+vX2KtgbufoqoQ51Tt9fy/C3eUdxMZUwITRQyOjGEdi6VqqNVMFMwDgYDVR0PAQH/BAQDAgWgMB0GA1UdJQQWMBQGCCsG"
    "AQUFBwMBBggrBgEFBQcDAjAMBgNVHRMBAf8EAjAAMBQGA1UdEQQNMAuCCXN5bmN0aGluZzAKBggqhkjOPQQDAgNoADBlAjEA94F1"
    "omYQ6/0g4wze7ZUqusVUC4TXLl7kuxOwC6I01wtD9pq9yVoOuLEuYolrZ4aDAjAM/a/1okkw2dYyA1uv1m2s2xepPPs5miYAJLnV"
    "+GUuraeIOa2Af+RXHjmn6Ef4RaI=")
ST_PORT = Target(host="198.18.0.50", port=22000, transport=Transport.TCP, service="syncthing")
DB_PORT = Target(host="198.18.0.51", port=17500, transport=Transport.TCP, service="dropbox")


def test_real_syncthing_certificate_is_recognised_with_its_device_id() -> None:
    facts = syncthing_facts("198.18.0.50", 22000, SYNCTHING_CERT, "bep/1.0")
    assert facts.verified and facts.common_name == "syncthing" and facts.device_id_short == "QSWDRPQ"
    assert syncthing_facts("198.18.0.50", 22000, SYNCTHING_CERT, None).verified  # CN alone (pre-ALPN clients)
    other = syncthing_facts("198.18.0.31", 22000, None, "h2")
    assert not other.verified and other.device_id_short is None


def test_syncthing_port_not_heard_is_reported_on_the_port() -> None:
    listener = syncthing_facts("198.18.0.50", 22000, SYNCTHING_CERT, "bep/1.0")
    for lan in (LanSyncFacts(window_s=65, requested_s=65), LanSyncFacts(window_s=0, requested_s=0),
                LanSyncFacts(window_s=0, requested_s=65, denied="no raw socket")):
        (r,) = _eval(SyncthingAnnounces(), lan, ST_PORT, listener)
        assert isinstance(r, Finding) and not r.passed and r.target == ST_PORT and r.severity is None
        assert "QSWDRPQ" in r.detail and "Remove Syncthing" in r.detail
        assert ("not heard announcing in 65 s" if lan.window_s else "no passive listening in this run") in r.detail
        assert r.evidence[0].data["device_id_short"] == "QSWDRPQ" and r.evidence[0].data["alpn"] == "bep/1.0"


def test_host_heard_announcing_is_reported_once() -> None:
    listener = syncthing_facts("198.18.0.50", 22000, SYNCTHING_CERT, "bep/1.0")
    lan = LanSyncFacts(window_s=65, requested_s=65, heard=(ST, DB))
    (on_port,) = _eval(SyncthingAnnounces(), lan, ST_PORT, listener)
    assert isinstance(on_port, Skip) and on_port.reason is SkipReason.NOT_APPLICABLE
    assert "reported once" in on_port.detail and "QSWDRPQ" in on_port.detail
    on_network = _eval(SyncthingAnnounces(), lan)
    assert [r.discriminator for r in on_network if isinstance(r, Finding) and not r.passed] == ["198.18.0.50"]


def test_a_tls_port_that_is_not_syncthing_passes() -> None:
    listener = ListenerFacts("198.18.0.50", 22000, "syncthing", False, tls=True,
                             note="speaks TLS but refuses BEP's ALPN bep/1.0: not Syncthing")
    (r,) = _eval(SyncthingAnnounces(), LanSyncFacts(window_s=65, requested_s=65, heard=(ST,)), ST_PORT, listener)
    assert isinstance(r, Finding) and r.passed and "not Syncthing" in r.detail


def test_dropbox_port_only_is_a_low_fail_that_says_so() -> None:
    listener = ListenerFacts("198.18.0.51", 17500, "dropbox", False, note="accepts TCP connections (IANA db-lsp, "
                             "Dropbox LAN sync); protocol not identified")
    (r,) = _eval(DropboxLanSync(), LanSyncFacts(window_s=0, requested_s=0), DB_PORT, listener)
    assert isinstance(r, Finding) and not r.passed and r.severity is Severity.LOW
    assert "protocol not identified" in r.detail and "Business Associate" in r.detail
    assert "no passive listening in this run" in r.detail
    (heard,) = _eval(DropboxLanSync(), LanSyncFacts(window_s=65, requested_s=65, heard=(DB,)), DB_PORT, listener)
    assert isinstance(heard, Skip)


def test_resilio_fails_per_sender_naming_the_group_and_passes_with_its_caveat() -> None:
    rs = Heard("resilio", "198.18.0.52", 4, {"group": "239.192.0.0:3838", "payload_decoded": False,
                                              "largest_datagram": 78})
    (fail,) = _eval(ResilioDiscovery(), LanSyncFacts(window_s=35, requested_s=35, heard=(ST, rs)))
    assert isinstance(fail, Finding) and not fail.passed and fail.discriminator == "198.18.0.52"
    assert "239.192.0.0:3838" in fail.detail and "payload not decoded" in fail.detail
    assert (fail.evidence[0].method or "").startswith("passive listen on UDP 239.192.0.0:3838")
    (ok,) = _eval(ResilioDiscovery(), LanSyncFacts(window_s=35, requested_s=35, heard=(ST,)))
    assert isinstance(ok, Finding) and ok.passed and "does not document its discovery interval" in ok.detail


def test_planner_plans_the_network_target_and_each_sync_port() -> None:
    registry = load_registry(load_framework())
    hosts = [Host(address="198.18.0.50", services=(Service(port=22000, service="syncthing"),
                                                   Service(port=22, service="ssh"))),
             Host(address="198.18.0.51", services=(Service(port=17500, service="dropbox"),))]
    ids = ["cloudsync.syncthing", "cloudsync.dropbox_lansync", "cloudsync.resilio"]
    plan = plan_checks(registry, ids, hosts, [])
    assert sorted((p.check.id, p.target.key()) for p in plan.checks) == sorted(
        [(i, NET.key()) for i in ids] + [("cloudsync.syncthing", ST_PORT.key()),
                                          ("cloudsync.dropbox_lansync", DB_PORT.key())])
    listening = {key for probe, key in plan.probe_keys() if probe is LanSyncAnnouncements}
    assert listening == {NET.key(), ST_PORT.key(), DB_PORT.key()}  # one window, shared (see above)
    assert plan_checks(registry, ids, [], ["example.test"]).checks == ()  # domain-only scan: no listening


def test_checks_map_to_business_associate_citations() -> None:
    registry = load_registry(load_framework())
    for check_id in ("cloudsync.dropbox_lansync", "cloudsync.resilio"):
        assert {"164.308(b)(1)", "164.314(a)(1)"} <= set(registry.get(check_id).hipaa)
    # Syncthing is peer-to-peer: no business associate, the copies themselves are the risk (issue 17)
    assert set(registry.get("cloudsync.syncthing").hipaa) == {"164.310(d)(1)", "164.312(a)(1)"}


RS = Heard("resilio", "198.18.0.52", 4, {"group": "239.192.0.0"})
HEARD = LanSyncFacts(window_s=35, requested_s=35, heard=(ST, DB, RS))
SILENCE = LanSyncFacts(window_s=35, requested_s=35)


@pytest.mark.parametrize("check, facts, target, listener, expected", [
    (DropboxLanSync(), HEARD, NET, None, [("Dropbox", "Cloud file sync", ThirdPartyKind.VENDOR)]),
    (DropboxLanSync(), SILENCE, DB_PORT,
     ListenerFacts("198.18.0.51", 17500, "dropbox", False, note="accepts TCP connections"),
     [("Dropbox", "Cloud file sync", ThirdPartyKind.VENDOR)]),
    (DropboxLanSync(), SILENCE, NET, None, []),
    (SyncthingAnnounces(), HEARD, NET, None,
     [("Syncthing", "Peer-to-peer file sync", ThirdPartyKind.PEER_TO_PEER)]),
    (SyncthingAnnounces(), SILENCE, ST_PORT, syncthing_facts("198.18.0.50", 22000, SYNCTHING_CERT, "bep/1.0"),
     [("Syncthing", "Peer-to-peer file sync", ThirdPartyKind.PEER_TO_PEER)]),
    (SyncthingAnnounces(), SILENCE, ST_PORT, syncthing_facts("198.18.0.31", 22000, None, "h2"), []),
    (ResilioDiscovery(), HEARD, NET, None, [("Resilio Sync", "Cloud / peer-to-peer file sync", ThirdPartyKind.VENDOR)]),
    (ResilioDiscovery(), SILENCE, NET, None, []),
])
def test_findings_name_the_third_party_only_when_one_was_seen(
        check: Any, facts: LanSyncFacts, target: Target, listener: ListenerFacts | None,
        expected: list[tuple[str, str, ThirdPartyKind]]) -> None:
    (result,) = _eval(check, facts, target, listener)
    assert isinstance(result, Finding)
    assert result.passed == (not expected)  # a PASS heard nothing, so it names nobody
    assert [(p.vendor, p.service, p.kind) for p in result.third_parties] == expected
