"""cloudsync.* through the real CLI: `gapscan scan` run inside gs-scan against the lab's senders.

The lab's senders: real Syncthing (gs-sync, 198.18.0.50: IPv4 broadcast every 30 s, sync port
22000), the Dropbox LAN sync emitter (gs-dropbox, .51: broadcast every 2 s, TCP 17500) and the
Resilio discovery emitter (gs-resilio, .52: an opaque datagram to 239.192.0.0:3838 every 2 s;
both emitters' 2 s interval is the lab's, the real Dropbox client's is about 30 s).
Five runs start together so the module costs about one Syncthing interval:

- ``full``: the practice network with a 33 s window (one Syncthing interval plus a margin): each
  sender FAILs once with evidence (shortened device id; namespace count and hash; the group), the
  hosts that send nothing are not named, and each discovered sync port is a skip pointing at
  that one finding (a host is never reported twice for one client);
- ``excluded``: the same network with the senders excluded from the scope: PASS, and the
  evidence shows they *were* heard (``out_of_scope_senders``), so the PASS is not deafness. The
  senders are not stopped: the lab is shared with concurrent runs, and stopping a daemon would
  make every other session's lab unhealthy;
- ``no_window``: the senders with ``--listen-seconds 0``: the network-level checks skip, and the
  TCP sync ports alone still report Syncthing (verified: BEP over TLS) and Dropbox (port only);
- ``unprivileged``: root with every capability dropped (setpriv): the listening checks skip with
  reason ``permission``, the TCP ports are still judged;
- nmap's broadcast-dropbox-listener on the same traffic agrees with the Dropbox facts.

The lab links are IPv4 only except gs-sync's, which keeps an IPv6 link-local address: Syncthing's
real ff12::8384 announcements are heard too and attributed to 198.18.0.50 by their device id
(one finding, the IPv6 source in its evidence), never reported as a second sender.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.lab import topology

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
GAPSCAN = str(REPO / ".venv" / "bin" / "gapscan")
WINDOW = 33  # Syncthing's fixed 30 s interval plus a margin: the shortest honest window
CHECKS = ("cloudsync.syncthing", "cloudsync.dropbox_lansync", "cloudsync.resilio")
SENDERS = {c: topology.hosts_failing(c) for c in CHECKS}
SENDER_ADDRESSES = sorted(h.address for hosts in SENDERS.values() for h in hosts)
SYNC_PORTS = {"cloudsync.syncthing": 22000, "cloudsync.dropbox_lansync": 17500}
DROP_CAPS = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs"]


def _scan(lab: Any, out: Path, targets: list[str], window: float, *extra: str,
          prefix: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    argv = [*prefix, GAPSCAN, "scan", *targets, "--listen-seconds", str(window), "--out", str(out),
            "--format", "json", "-q", *extra]
    return subprocess.Popen(lab.scanner_cmd(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The four scans and nmap, started together; scan.json of each, nmap's output."""
    root = tmp_path_factory.mktemp("cloudsync")
    excluded = [a for address in SENDER_ADDRESSES for a in ("--exclude", address)]
    popens = {
        "full": _scan(lab, root / "full", [topology.PRACTICE_NET], WINDOW),
        "excluded": _scan(lab, root / "excluded", [topology.PRACTICE_NET], WINDOW, *excluded),
        "no_window": _scan(lab, root / "no_window", SENDER_ADDRESSES, 0),
        "unprivileged": _scan(lab, root / "unprivileged", SENDER_ADDRESSES, 5, prefix=tuple(DROP_CAPS)),
        "nmap": subprocess.Popen(lab.scanner_cmd(["nmap", "-n", "--script", "broadcast-dropbox-listener"]),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
    }
    done: dict[str, Any] = {}
    for name, popen in popens.items():
        out, err = popen.communicate(timeout=240)
        assert popen.returncode == 0, f"{name} exited {popen.returncode}:\n{out[-2000:]}\n{err[-2000:]}"
        done[name] = out if name == "nmap" else json.loads((root / name / "scan.json").read_text())
    return done


def _cloudsync(scan: dict[str, Any], check_id: str) -> list[dict[str, Any]]:
    return [r for r in scan["results"] if r["check_id"] == check_id]


def _network(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if r["target"].get("service") == "network" and not r["target"].get("host")]


def _failing_hosts(results: list[dict[str, Any]]) -> list[str]:
    """Every host a FAIL names, whichever target it is on (network-level: the evidence's sender)."""
    hosts = []
    for r in results:
        if r["status"] == "fail":
            hosts.append(r["target"].get("host") or r["evidence"][0]["data"]["sender"])
    return hosts


@pytest.mark.parametrize("check_id", CHECKS)
def test_each_sender_fails_once_with_evidence(runs: dict[str, Any], check_id: str) -> None:
    results = _cloudsync(runs["full"], check_id)
    failing = _failing_hosts(results)
    assert sorted(failing) == sorted(h.address for h in SENDERS[check_id]), results  # once each, nobody else
    for hardened in topology.hosts_passing(check_id):
        assert hardened.address not in failing
    for r in (r for r in _network(results) if r["status"] == "fail"):
        data = r["evidence"][0]["data"]
        assert data["announcements"] >= 1 and data["window_s"] == WINDOW
        if check_id == "cloudsync.syncthing":  # peer-to-peer: uncontrolled copies, no BAA to sign
            assert "peer device" in r["detail"] and "Business Associate" not in r["detail"]
            assert set(r["hipaa"]) == {"164.310(d)(1)", "164.312(a)(1)"}
        else:
            assert "Business Associate" in r["detail"]
            assert r["hipaa"] and {"164.308(b)(1)", "164.314(a)(1)"} <= set(r["hipaa"])
        if check_id == "cloudsync.dropbox_lansync":
            assert data["namespace_count"] == 3 and re.fullmatch(r"[0-9a-f]{8}", data["namespaces_hash"])
            assert data["port"] == 17500  # the TCP port the client announces
            assert "3 shared namespace(s)" in r["detail"] and data["namespaces_hash"] in r["detail"]
            assert "1234567890" not in json.dumps(r)  # namespace ids never leave the probe
        elif check_id == "cloudsync.syncthing":
            assert re.fullmatch(r"[A-Z2-7]{7}", data["device_id_short"]) and data["device_id_short"] in r["detail"]
            assert f"tcp://{data['sender']}:22000" in data["addresses"]  # the announced sync port
        else:
            assert data["group"] == "239.192.0.0:3838" and data["payload_decoded"] is False
            assert "payload not decoded" in r["detail"]


@pytest.mark.parametrize("check_id", sorted(SYNC_PORTS))
def test_a_sync_port_of_a_host_heard_announcing_is_not_a_second_finding(runs: dict[str, Any], check_id: str) -> None:
    port = SYNC_PORTS[check_id]
    on_ports = [r for r in _cloudsync(runs["full"], check_id) if r["target"].get("port") == port]
    assert {r["target"]["host"] for r in on_ports} == {h.address for h in SENDERS[check_id]}
    for r in on_ports:
        assert r["status"] == "skipped" and r["reason"] == "not_applicable" and "reported once" in r["detail"]


def test_syncthing_device_id_matches_what_syncthing_logged(lab: Any, runs: dict[str, Any]) -> None:
    (sender,) = SENDERS["cloudsync.syncthing"]
    log = (Path(lab.workdir) / sender.name / "syncthing" / "console.log").read_text()
    logged = re.search(r"My ID: ([A-Z2-7]{7})-", log)
    assert logged, log
    (heard,) = [r for r in _network(_cloudsync(runs["full"], "cloudsync.syncthing")) if r["status"] == "fail"]
    (on_port,) = [r for r in _cloudsync(runs["no_window"], "cloudsync.syncthing") if r["status"] == "fail"]
    assert heard["evidence"][0]["data"]["device_id_short"] == logged.group(1)
    assert on_port["evidence"][0]["data"]["device_id_short"] == logged.group(1)  # from the TLS certificate


def test_syncthing_ipv6_announcements_are_heard_and_attributed(lab: Any, runs: dict[str, Any]) -> None:
    (sender,) = SENDERS["cloudsync.syncthing"]
    shown = lab.run_in(sender.namespace, ["ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"])
    link_local = re.search(r"inet6 (fe80::[0-9a-f:]+)/64", shown.stdout)
    assert link_local, shown.stdout + shown.stderr
    (heard,) = [r for r in _network(_cloudsync(runs["full"], "cloudsync.syncthing")) if r["status"] == "fail"]
    data = heard["evidence"][0]["data"]
    assert data["sender"] == sender.address and data["ipv6_sources"] == [link_local.group(1)]
    assert data["announcements"] >= 2  # at least one over each family in one 30 s interval


def test_senders_out_of_scope_pass_though_heard(runs: dict[str, Any]) -> None:
    scan = runs["excluded"]
    assert not set(SENDER_ADDRESSES) & {h["address"] for h in scan["hosts"]}
    for check_id in CHECKS:
        (r,) = _network(_cloudsync(scan, check_id))
        assert r["status"] == "pass", r
        assert f"{WINDOW} s" in r["detail"]
        assert r["evidence"][0]["data"]["out_of_scope_senders"] >= 1, r  # heard, but not ours to report


def test_without_a_window_the_tcp_ports_still_report(runs: dict[str, Any]) -> None:
    scan = runs["no_window"]
    for check_id in CHECKS:
        (r,) = _network(_cloudsync(scan, check_id))
        assert r["status"] == "skipped" and r["reason"] == "disabled_by_profile", r
    (st,) = [r for r in _cloudsync(scan, "cloudsync.syncthing") if r["target"].get("port") == 22000]
    assert st["status"] == "fail" and st["severity"] == "medium"
    expected = {"verified": True, "tls": True, "alpn": "bep/1.0", "certificate_cn": "syncthing"}
    assert expected.items() <= st["evidence"][0]["data"].items()
    (db,) = [r for r in _cloudsync(scan, "cloudsync.dropbox_lansync") if r["target"].get("port") == 17500]
    assert db["status"] == "fail" and db["severity"] == "low" and "protocol not identified" in db["detail"]


def test_without_cap_net_raw_listening_is_skipped_permission(runs: dict[str, Any]) -> None:
    scan = runs["unprivileged"]
    for check_id in CHECKS:
        (r,) = _network(_cloudsync(scan, check_id))
        assert r["status"] == "skipped" and r["reason"] == "permission", r
    # The sync ports need no privilege: still judged, so nothing is lost but the passive part.
    assert {r["status"] for r in _cloudsync(scan, "cloudsync.syncthing") if r["target"].get("port")} == {"fail"}


def test_nmap_broadcast_dropbox_listener_agrees(runs: dict[str, Any]) -> None:
    rows = [line.split() for line in runs["nmap"].splitlines() if "198.18." in line and "|" in line]
    ours = {r["evidence"][0]["data"]["sender"]: r["evidence"][0]["data"]
            for r in _network(_cloudsync(runs["full"], "cloudsync.dropbox_lansync")) if r["status"] == "fail"}
    theirs = {}
    for row in rows:
        cells = [c for c in row if c not in ("|", "|_")]
        ip = next(c for c in cells if c.startswith("198.18."))
        rest = cells[cells.index(ip) + 1:]  # port, version, host_int, namespaces...
        theirs[ip] = {"port": int(rest[0]), "version": rest[1], "namespace_count": len(rest) - 3}
    assert set(theirs) == set(ours), runs["nmap"]
    for ip, facts in theirs.items():
        assert facts == {k: ours[ip][k] for k in ("port", "version", "namespace_count")}, runs["nmap"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
