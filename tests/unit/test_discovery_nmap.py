"""The nmap engine: argument building, result translation (recorded nmap output), the scope
check before the subprocess starts, and a missing nmap."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from scanner.discovery import nmap_engine
from scanner.discovery.nmap_engine import (
    build_arguments,
    parse_result,
    port_spec,
    routing_name,
    run_nmap,
    tunnels_from_xml,
)
from scanner.errors import MissingDependency, OutOfScopeError
from scanner.models import Transport
from scanner.scope.guard import enforce
from scanner.scope.targets import build_scope

# Trimmed from `nmap -sT -sV -oX -` against the lab (198.18.0.30 web-weak, 198.18.0.20 mail-weak).
RECORDED_XML = """<?xml version="1.0" encoding="UTF-8"?>
<nmaprun scanner="nmap" args="nmap -oX - -sT -sV -n 198.18.0.30" version="7.93">
<host><status state="up" reason="arp-response"/>
<address addr="198.18.0.30" addrtype="ipv4"/><address addr="02:00:00:00:00:30" addrtype="mac"/>
<ports>
<port protocol="tcp" portid="80"><state state="open" reason="syn-ack"/>
<service name="http" product="nginx" version="1.22.1" method="probed" conf="10"/></port>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack"/>
<service name="http" product="nginx" version="1.22.1" tunnel="ssl" method="probed" conf="10"/></port>
</ports></host>
</nmaprun>
"""

RECORDED_DICT = {
    "nmap": {"scanstats": {"uphosts": "2"}},
    "scan": {
        "198.18.0.30": {
            "status": {"state": "up"},
            "tcp": {
                80: {"state": "open", "name": "http", "product": "nginx", "version": "1.22.1", "extrainfo": ""},
                443: {"state": "open", "name": "http", "product": "nginx", "version": "1.22.1", "extrainfo": ""},
                8080: {"state": "closed", "name": "http-proxy", "product": "", "version": "", "extrainfo": ""},
            },
        },
        "198.18.0.20": {
            "status": {"state": "up"},
            "tcp": {
                25: {"state": "open", "name": "smtp", "product": "Postfix smtpd", "version": "",
                     "extrainfo": "\x1b[31mhostile\x07"},
                445: {"state": "open", "name": "microsoft-ds", "product": "", "version": "", "extrainfo": ""},
                587: {"state": "open", "name": "smtp", "product": "Postfix smtpd", "version": "", "extrainfo": ""},
            },
            "udp": {161: {"state": "open", "name": "snmp", "product": "", "version": "", "extrainfo": ""}},
        },
        "198.18.0.99": {"status": {"state": "down"}},
    },
}


def test_routing_names() -> None:
    tcp = Transport.TCP
    assert routing_name("microsoft-ds", 445, None, tcp) == "smb"
    assert routing_name("ms-wbt-server", 3389, None, tcp) == "rdp"
    assert routing_name("domain", 53, None, tcp) == "dns"
    assert routing_name("http", 443, "ssl", tcp) == "https"
    assert routing_name("imap", 993, "ssl", tcp) == "imaps"
    assert routing_name("smtp", 587, None, tcp) == "submission"
    assert routing_name("smtp", 465, None, tcp) == "smtps"
    assert routing_name("unknown", 22, None, tcp) == "ssh"  # falls back to the port map
    assert routing_name("tcpwrapped", 40000, None, tcp) is None
    assert routing_name("snmp", 161, None, Transport.UDP) == "snmp"


def test_tunnels_from_recorded_xml() -> None:
    assert tunnels_from_xml(RECORDED_XML) == {("198.18.0.30", "tcp", 443): "ssl"}
    assert tunnels_from_xml("not xml <") == {}


def test_parse_recorded_result() -> None:
    hosts = parse_result(RECORDED_DICT, {("198.18.0.30", "tcp", 443): "ssl"})
    assert [h.address for h in hosts] == ["198.18.0.20", "198.18.0.30"]  # the down host is left out
    mail, web = hosts
    assert [(s.port, s.transport.value, s.service) for s in mail.services] == [
        (25, "tcp", "smtp"), (445, "tcp", "smb"), (587, "tcp", "submission"), (161, "udp", "snmp")]
    assert mail.services[0].banner == "[31mhostile"  # nmap's strings are hostile input too
    assert [(s.port, s.service, s.product, s.version) for s in web.services] == [
        (80, "http", "nginx", "1.22.1"), (443, "https", "nginx", "1.22.1")]
    assert all(s.identified_by == "nmap" for h in hosts for s in h.services)


def test_arguments() -> None:
    args = build_arguments(service_detection=True, host_discovery="none", retries=2, udp=False,
                           input_file="/tmp/t.txt")
    assert args.split()[:2] == ["-sT", "-n"] and "-sV" in args and "-Pn" in args
    assert "-iL /tmp/t.txt" in args and "--max-retries 2" in args
    tcp = build_arguments(service_detection=False, host_discovery="tcp", retries=1, udp=True,
                          input_file="f", ping_ports=(80, 443))
    assert "-sU" in tcp and "-PS80,443" in tcp and "-sV" not in tcp
    assert port_spec([445, 22, 22], [161]) == "T:22,445,U:161"


def test_out_of_scope_refused_before_nmap_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError("a process was started for an out-of-scope address")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    monkeypatch.setattr(nmap_engine, "nmap_path", lambda: "/usr/bin/nmap")
    with enforce(build_scope(["127.0.0.2"])), pytest.raises(OutOfScopeError):
        run_nmap(["127.0.0.2", "127.0.0.9"], [22])


def test_missing_nmap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert nmap_engine.nmap_path() is None
    with enforce(build_scope(["127.0.0.2"])), pytest.raises(MissingDependency, match="nmap is not installed"):
        run_nmap(["127.0.0.2"], [22])
