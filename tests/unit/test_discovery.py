"""discover() end to end on 127.0.0.x listeners the tests open, engine selection and fallback,
the scope guard, and the module CLI."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scanner.config.settings import ConcurrencyConfig, DiscoveryConfig
from scanner.discovery import pipeline as discovery
from scanner.discovery import tcp_sweep as portscan
from scanner.discovery.pipeline import discover
from scanner.errors import OutOfScopeError
from scanner.scope import names
from scanner.scope.guard import enforce
from scanner.scope.targets import build_scope
from tests.unit.helpers import dns_server

ADDR = "127.0.0.6"
LIMITS = ConcurrencyConfig(global_limit=16, per_host=4)


@contextmanager
def greeting_listener(address: str, greeting: bytes | None) -> Iterator[int]:
    """Accept connections on address:<ephemeral>; send ``greeting`` (None: stay silent)."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((address, 0))
    lsock.listen(64)
    lsock.settimeout(0.1)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            conns.append(conn)
            if greeting is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(greeting)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield lsock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in conns:
            conn.close()
        lsock.close()


def closed_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def config(ports: tuple[int, ...], **kw: object) -> DiscoveryConfig:
    settings: dict[str, object] = {"tcp_ports": ports, "host_discovery": "tcp", "connect_timeout": 2.0,
                                   "retries": 1}
    settings.update(kw)
    return DiscoveryConfig.model_validate(settings)


def test_discover_finds_and_names_services() -> None:
    progress: list[tuple[str, int, int]] = []
    with greeting_listener(ADDR, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n") as ssh_port, \
            greeting_listener(ADDR, b"+OK Dovecot ready.\r\n") as pop_port:
        shut = closed_port(ADDR)
        scope = build_scope([ADDR])
        with enforce(scope):
            result = discover(scope, config((ssh_port, pop_port, shut)), LIMITS,
                              on_progress=lambda *a: progress.append(a))
    assert result.engine == "builtin" and result.host_discovery == "tcp"
    assert [h.address for h in result.hosts] == [ADDR]
    host = result.hosts[0]
    assert host.discovered_by == "tcp-ping"
    found = {s.port: (s.service, s.product, s.identified_by) for s in host.services}
    assert found == {ssh_port: ("ssh", "OpenSSH", "banner"), pop_port: ("pop3", "Dovecot", "banner")}
    phases = {p for p, _, _ in progress}
    assert {"hosts", "ports", "services"} <= phases
    for phase in ("hosts", "ports", "services"):
        last = [(d, t) for p, d, t in progress if p == phase][-1]
        assert last[0] == last[1]
    assert result.duration_s > 0 and dict(result.timings).keys() >= {"hosts", "ports", "services"}


def test_service_detection_none_uses_the_port_map_only() -> None:
    with greeting_listener(ADDR, b"SSH-2.0-x\r\n") as port:
        scope = build_scope([ADDR])
        with enforce(scope):
            result = discover(scope, config((port,), service_detection="none"), LIMITS)
    (service,) = result.hosts[0].services
    assert service.port == port and service.banner is None and service.identified_by in (None, "port-map")


def test_hosts_sorted_numerically_and_silent_hosts_kept_out() -> None:
    scope = build_scope(["127.0.0.9-10"])
    with greeting_listener("127.0.0.10", None) as port, enforce(scope):
        result = discover(scope, config((port,), service_detection="none", host_discovery="none"), LIMITS)
    # Loopback answers on every address (RST), so both are live; 9 sorts before 10.
    assert [h.address for h in result.hosts] == ["127.0.0.9", "127.0.0.10"]
    assert [s.port for s in result.hosts[1].services] == [port]
    assert result.host_discovery == "none"


def test_discover_needs_the_scope_guard() -> None:
    with pytest.raises(RuntimeError, match="enforce"):
        discover(build_scope([ADDR]), config((22,)), LIMITS)


def test_out_of_scope_refused_before_any_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[tuple[str, int]] = []
    real = portscan.connect_once

    async def spy(address: str, port: int, timeout: float, hedges: object = ()) -> portscan.ConnectOutcome:
        attempts.append((address, port))
        return await real(address, port, timeout)

    monkeypatch.setattr(portscan, "connect_once", spy)
    with enforce(build_scope(["127.0.0.2"])), pytest.raises(OutOfScopeError):
        discover(build_scope(["127.0.0.9"]), config((22,)), LIMITS)
    assert attempts == []


def test_engine_nmap_without_nmap_falls_back_with_a_note(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no nmap anywhere on PATH
    with greeting_listener(ADDR, b"SSH-2.0-x\r\n") as port:
        scope = build_scope([ADDR])
        with enforce(scope):
            result = discover(scope, config((port,), engine="nmap", service_detection="nmap"), LIMITS)
    assert result.engine == "builtin"
    assert "nmap not installed: built-in scanner used" in result.notes
    assert any("banners used instead" in n for n in result.notes)
    assert [s.service for s in result.hosts[0].services] == ["ssh"]


@pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap not installed")
def test_engine_nmap_finds_the_same_ports() -> None:
    with greeting_listener(ADDR, b"SSH-2.0-OpenSSH_9.2p1\r\n") as port:
        shut = closed_port(ADDR)
        scope = build_scope([ADDR])
        with enforce(scope):
            result = discover(scope, config((port, shut), engine="nmap", service_detection="none"), LIMITS)
    assert result.engine == "nmap", result.notes
    assert [(h.address, [s.port for s in h.services]) for h in result.hosts] == [(ADDR, [port])]
    assert result.hosts[0].services[0].identified_by == "nmap"


@pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap not installed")
def test_auto_engine_uses_nmap_for_version_detection() -> None:
    with greeting_listener(ADDR, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n") as port:
        scope = build_scope([ADDR])
        with enforce(scope):
            result = discover(scope, config((port,), service_detection="nmap"), LIMITS)
    assert result.engine == "builtin"
    (service,) = result.hosts[0].services
    assert (service.port, service.service, service.identified_by) == (port, "ssh", "nmap")


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    with greeting_listener(ADDR, b"220 (vsFTPd 3.0.3)\r\n") as port:
        code = discovery._main([ADDR, "--ports", str(port), "--host-discovery", "tcp", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["engine"] == "builtin"
    assert data["hosts"][0]["services"][0]["service"] == "ftp"
    assert data["hosts"][0]["services"][0]["product"] == "vsftpd"


@pytest.mark.parametrize("ports", ["0", "70000", "22,abc", "90-80"])
def test_cli_bad_ports_exit_2(ports: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert discovery._main([ADDR, "--ports", ports]) == 2
    assert "--ports" in capsys.readouterr().err


def test_cli_public_target_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert discovery._main(["8.8.8.8", "--ports", "53"]) == 2
    assert "--allow-public" in capsys.readouterr().err


def test_udp_probe_reports_only_answering_ports() -> None:
    import asyncio

    from scanner.discovery.udp_sweep import payloads_for, snmp_payloads, snmp_sysdescr, udp_scan

    answering = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    answering.bind((ADDR, 0))
    answering.settimeout(3)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((ADDR, 0))
    port, quiet = answering.getsockname()[1], silent.getsockname()[1]
    shut = closed_port(ADDR)

    def echo() -> None:
        with contextlib.suppress(OSError):
            data, peer = answering.recvfrom(2048)
            answering.sendto(b"\x1b[31mpong\x00" + data[:8], peer)

    thread = threading.Thread(target=echo)
    thread.start()
    try:
        # The replying server lives in this process, under the same guard: its reply goes to
        # our source address, 127.0.0.1, which must be in scope too.
        with enforce(build_scope([ADDR, "127.0.0.1"])):
            result = asyncio.run(udp_scan([ADDR], [port, quiet, shut], retries=0, global_limit=4, per_host=3,
                                          wait=0.3))
    finally:
        thread.join()
        answering.close()
        silent.close()
    (service,) = result.services[ADDR]
    assert (service.port, service.transport.value) == (port, "udp")
    assert service.banner is not None and service.banner.startswith("[31mpong")
    assert result.silent == 2  # the silent and the closed port are not reported

    from scapy.layers.snmp import SNMP

    v3, v1 = snmp_payloads(0x1234)
    parsed = SNMP(v1)  # an independent BER decoder agrees with the hand-built request
    assert (parsed.version.val, parsed.community.val) == (0, b"public")
    assert parsed.PDU.id.val == 0x1234 and parsed.PDU.varbindlist[0].oid.val == "1.3.6.1.2.1.1.1.0"
    assert v3[:2] == b"\x30" + bytes([len(v3) - 2]) and v3[2:5] == b"\x02\x01\x03"  # SEQUENCE, version 3
    reply = v1[:-2] + b"\x04\x0bLinux box\x1b!"  # a GetResponse-like tail carrying sysDescr
    assert snmp_sysdescr(reply) == "Linux box!"
    assert payloads_for(111)[0][4:8] == b"\x00\x00\x00\x00"  # an RPC CALL


def test_hostnames_given_as_targets_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    with greeting_listener("127.0.0.1", b"SSH-2.0-x\r\n") as port, \
            dns_server({"frontdesk.clinic.test": ["127.0.0.1"]}) as (dns_port, asked):
        monkeypatch.setattr(names, "DNS_PORT", dns_port)
        # Resolved by the declared nameserver only (A and AAAA), and recorded in the scope.
        scope = build_scope(["frontdesk.clinic.test"], nameservers=["127.0.0.1"])
        assert asked == ["frontdesk.clinic.test/A", "frontdesk.clinic.test/AAAA"]
        assert scope.names == {"frontdesk.clinic.test": ("127.0.0.1",)}
        with enforce(scope):
            result = discover(scope, config((port,), service_detection="none"), LIMITS)
    v4 = next(h for h in result.hosts if h.address == "127.0.0.1")
    assert v4.hostnames == ("frontdesk.clinic.test",)
    assert [s.port for s in v4.services] == [port]
