"""Discovery against the lab's real daemons, run from inside the scanner namespace (gs-scan).

Facts, not grades: the practice /24, swept on the default ports (nmap's top 1,000 plus the
checks' ports), must yield exactly the live hosts and the open TCP ports that
tests/lab/topology.py lists, each named with the routing name the checks use, and the same
open ports that ``nmap -sT -n`` sees on its top 1,000; its firewalled hosts (every port
dropped) must be found live and cost no retries. The dense /24 (forking daemons behind 254
addresses, SYNs dropped under load) must yield every one of its 1,778 open ports, with
half-open SYN probes and with full connects.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from tests.lab import topology

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]

# The lab's IANA-style service names, as gapscan routes them.
ROUTING = {"microsoft-ds": "smb", "domain": "dns", "https-alt": "https", "ms-wbt-server": "rdp"}
FIREWALLED = [h for h in topology.HOSTS if h.firewall == "drop"]
# UDP ports the practice scan asks about. SNMP (161) is left out on purpose: an agent stays silent
# to a wrong community, so UDP discovery cannot see the hardened one (snmp.default_community can).
ASKED_UDP_PORTS = (53, 111)
PRACTICE_TCP_PORTS = sorted({s.port for h in topology.HOSTS for s in h.services if s.transport == "tcp"})


def _discover(lab: Any, targets: list[str], *extra: str, timeout: float = 180) -> dict[str, Any]:
    argv = ["env", f"PYTHONPATH={REPO}", sys.executable, "-m", "scanner.discovery.pipeline", *targets, "--json", *extra]
    proc = lab.run_in_scanner(argv, timeout=timeout)
    assert proc.returncode == 0, f"discovery failed ({proc.returncode}):\n{proc.stderr}"
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def _open_ports(data: dict[str, Any], transport: str = "tcp") -> set[tuple[str, int]]:
    return {(h["address"], s["port"]) for h in data["hosts"] for s in h["services"] if s["transport"] == transport}


def _expected_live(lab: Any) -> set[str]:
    live = {h.address for h in topology.HOSTS}
    live.add(topology.SCANNER_ADDRESS)  # our own address answers (RST): nmap counts it too
    if "dense" in lab.parts:
        live.add(topology.DENSE_GATEWAY)  # the dense router: answers ARP, resets TCP
    return live


@pytest.fixture(scope="module")
def practice(lab: Any) -> dict[str, Any]:
    # No --ports: the default sweep must reach every service of the lab, odd ports included.
    return _discover(lab, [topology.PRACTICE_NET], "--udp-ports", ",".join(map(str, ASKED_UDP_PORTS)))


def _nmap_top_ports() -> list[int]:
    from scanner.config.ports import CHECK_PORTS, default_tcp_ports

    return [p for p in default_tcp_ports() if p not in CHECK_PORTS]


@pytest.fixture(scope="module")
def nmap_open(lab: Any) -> set[tuple[str, int]]:
    if shutil.which("nmap") is None:
        pytest.skip("nmap not installed")
    proc = lab.run_in_scanner(["nmap", "-sT", "-n", "--top-ports", "1000", "-oX", "-", topology.PRACTICE_NET],
                              timeout=300)
    assert proc.returncode == 0, proc.stderr
    found: set[tuple[str, int]] = set()
    for host in ElementTree.fromstring(proc.stdout).iter("host"):
        address = next(a.get("addr") for a in host.iter("address") if a.get("addrtype") == "ipv4")
        for port in host.iter("port"):
            state = port.find("state")
            if state is not None and state.get("state") == "open":
                found.add((str(address), int(port.get("portid") or 0)))
    return found


def test_exactly_the_live_hosts(lab: Any, practice: dict[str, Any]) -> None:
    assert {h["address"] for h in practice["hosts"]} == _expected_live(lab)
    by_address = {h["address"]: h for h in practice["hosts"]}
    # On the practice segment the scanner is root and on-link: hosts are found by ARP.
    assert all(by_address[h.address]["discovered_by"] == "arp" for h in topology.HOSTS)
    # ARP for the segment; ICMP echo and TCP ping for our own address, which ARP cannot find.
    assert practice["host_discovery"] == "arp+icmp+tcp"


def test_every_listed_tcp_service_is_found_and_named(practice: dict[str, Any]) -> None:
    found = {(h["address"], s["port"]): s for h in practice["hosts"] for s in h["services"]
             if s["transport"] == "tcp"}
    missing, misnamed = [], []
    for host in topology.HOSTS:
        for svc in host.services:
            if svc.transport != "tcp":
                continue
            got = found.get((host.address, svc.port))
            want = ROUTING.get(svc.service, svc.service)
            if got is None:
                missing.append(f"{host.name} {host.address}:{svc.port} ({svc.service})")
            elif got["service"] != want:
                misnamed.append(f"{host.address}:{svc.port} named {got['service']!r}, expected {want!r}")
    assert not missing, f"open ports not found: {missing}"
    assert not misnamed, misnamed


def test_no_port_beyond_the_topology(practice: dict[str, Any]) -> None:
    listed = {(h.address, s.port) for h in topology.HOSTS for s in h.services if s.transport == "tcp"}
    assert _open_ports(practice) == listed


def test_banners_give_products(practice: dict[str, Any]) -> None:
    services = {(h["address"], s["port"]): s for h in practice["hosts"] for s in h["services"]}
    ssh = services[(topology.host("ws").address, 22)]
    assert (ssh["product"], ssh["identified_by"]) == ("OpenSSH", "banner")
    # The lab's Postfix hides its name (smtpd_banner = $myhostname ESMTP): the greeting is kept
    # as evidence, and no product is invented.
    smtp = services[(topology.host("mail-weak").address, 25)]
    assert (smtp["banner"], smtp["product"]) == ("220 mail.weak-clinic.test ESMTP", None)
    web = services[(topology.host("web-good").address, 80)]
    assert web["product"] == "nginx"


def test_udp_services_when_asked(practice: dict[str, Any]) -> None:
    udp = {(h["address"], s["port"]): s["service"] for h in practice["hosts"] for s in h["services"]
           if s["transport"] == "udp"}
    listed = {(h.address, s.port): ROUTING.get(s.service, s.service)
              for h in topology.HOSTS for s in h.services if s.transport == "udp" and s.port in ASKED_UDP_PORTS}
    assert udp == listed


def test_agrees_with_nmap(practice: dict[str, Any], nmap_open: set[tuple[str, int]]) -> None:
    top = set(_nmap_top_ports())
    ours = {(a, p) for a, p in _open_ports(practice) if p in top}
    assert ours == nmap_open, f"nmap only: {sorted(nmap_open - ours)}; gapscan only: {sorted(ours - nmap_open)}"


def test_firewalled_hosts_are_live_and_cost_no_retries(practice: dict[str, Any]) -> None:
    assert FIREWALLED, "the lab plants hosts behind a drop-everything firewall"
    by_address = {h["address"]: h for h in practice["hosts"]}
    for host in FIREWALLED:
        assert by_address[host.address]["discovered_by"] == "arp"  # ARP is not IP: the firewall lets it by
        assert by_address[host.address]["services"] == []
    sweep = next(n for n in practice["notes"] if n.startswith("TCP sweep"))
    # laptop-good drops all but 22: a default-drop host too. Their silences are judged the
    # firewall's by a canary, and nothing else of theirs is asked twice.
    assert f"{len(FIREWALLED) + 1} host(s) refuse nothing" in sweep, sweep


@pytest.mark.parametrize("sweep", ["syn", "connect"])
def test_dense_network_is_swept_completely(lab: Any, sweep: str) -> None:
    if "dense" not in lab.parts:
        pytest.skip("the dense part of the lab is not running")
    data = _discover(lab, [topology.DENSE_NET], "--ports", ",".join(map(str, topology.DENSE_PORTS)),
                     "--service-detection", "none", "--sweep", sweep)
    addresses = [str(a) for a in ipaddress.ip_network(topology.DENSE_NET).hosts()]
    expected = {(a, p) for a in addresses for p in topology.DENSE_OPEN_PORTS}
    ours = _open_ports(data)
    assert ours == expected, f"missed {len(expected - ours)}, extra {len(ours - expected)}: {data['notes']}"
