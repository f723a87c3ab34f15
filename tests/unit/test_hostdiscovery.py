"""Host discovery without a lab: TCP ping on 127.0.0.x, mode selection, and the scope checks
that guard the raw ARP frames the audit hook cannot see."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from scanner.discovery import connect_io
from scanner.discovery import hosts as hostdiscovery
from scanner.discovery.connect_io import ConnectOutcome, PortState
from scanner.discovery.hosts import arp_interfaces, arp_sweep, discover_hosts, tcp_ping
from scanner.errors import OutOfScopeError
from scanner.scope.guard import enforce
from scanner.scope.targets import build_scope

KW: dict[str, Any] = {"connect_timeout": 1.0, "retries": 1, "global_limit": 16, "per_host": 4}


def test_tcp_ping_counts_a_refusal_as_alive() -> None:
    # Nothing listens on the ping ports of 127.0.0.5: every connect is refused (RST), and a
    # refusal proves the host is there.
    with enforce(build_scope(["127.0.0.5"])):
        live = asyncio.run(tcp_ping(["127.0.0.5"], ports=(1,), connect_timeout=1.0, retries=0,
                                    global_limit=4, per_host=2))
    assert set(live) == {"127.0.0.5"}


def test_tcp_ping_silence_and_unreachable_are_not_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: dict[str, list[int]] = {}

    async def fake(address: str, port: int, timeout: float) -> ConnectOutcome:
        tried.setdefault(address, []).append(port)
        state = PortState.UNREACHABLE if address.endswith(".6") else PortState.FILTERED
        return ConnectOutcome(state, None)

    monkeypatch.setattr(connect_io, "connect_once", fake)
    with enforce(build_scope(["127.0.0.5-6"])):
        live = asyncio.run(tcp_ping(["127.0.0.5", "127.0.0.6"], ports=(80, 443, 22), connect_timeout=0.1,
                                    retries=1, global_limit=8, per_host=1))
    assert live == {}
    assert tried["127.0.0.5"] == [80, 80, 443, 443, 22, 22]  # each port: 1 + retries attempts
    assert tried["127.0.0.6"] == [80]  # unreachable: the host is given up at once


def test_mode_none_lists_every_address() -> None:
    with enforce(build_scope(["127.0.0.5-7"])):
        result = asyncio.run(discover_hosts(["127.0.0.5", "127.0.0.6", "127.0.0.7"], "none", **KW))
    assert result.live == dict.fromkeys(["127.0.0.5", "127.0.0.6", "127.0.0.7"], "listed")
    assert result.methods == ["none"]


def test_auto_without_root_uses_tcp_ping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostdiscovery, "is_root", lambda: False)
    with enforce(build_scope(["127.0.0.5"])):
        result = asyncio.run(discover_hosts(["127.0.0.5"], "auto", **KW))
    assert result.live == {"127.0.0.5": "tcp-ping"} and result.methods == ["tcp"]


def test_arp_requested_without_root_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostdiscovery, "is_root", lambda: False)
    with enforce(build_scope(["127.0.0.5"])):
        result = asyncio.run(discover_hosts(["127.0.0.5"], "arp", **KW))
    assert result.live == {"127.0.0.5": "tcp-ping"}
    assert any("needs root" in note for note in result.notes)


def test_loopback_and_own_addresses_are_not_arped() -> None:
    on_link, other = arp_interfaces(["127.0.0.5", "::1"])
    assert on_link == {} and other == ["127.0.0.5", "::1"]


def test_arp_sweep_refuses_out_of_scope_before_building_a_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    import scapy.sendrecv

    def must_not_send(*args: object, **kwargs: object) -> None:
        raise AssertionError("srp called for an out-of-scope address")

    monkeypatch.setattr(scapy.sendrecv, "srp", must_not_send)
    with enforce(build_scope(["198.18.200.1"])), pytest.raises(OutOfScopeError):
        arp_sweep("lo", ["198.18.200.1", "198.18.200.2"], rounds=1, wait=0.1)


def test_arp_sweep_without_an_active_scope_is_refused() -> None:
    with pytest.raises(OutOfScopeError):
        arp_sweep("lo", ["198.18.200.1"], rounds=1, wait=0.1)


def test_discover_hosts_refuses_out_of_scope_before_any_connect() -> None:
    with socket.socket() as outside:
        outside.bind(("127.0.0.9", 0))
        outside.listen(4)
        outside.setblocking(False)
        with enforce(build_scope(["127.0.0.5"])), pytest.raises(OutOfScopeError):
            asyncio.run(discover_hosts(["127.0.0.5", "127.0.0.9"], "tcp", **KW))
        with pytest.raises(BlockingIOError):
            outside.accept()


def test_icmp_checksum_and_echo_request() -> None:
    # RFC 1071 §3 worked example: the one's-complement sum of these words is 0xddf2.
    assert hostdiscovery._icmp_checksum(bytes.fromhex("0001f203f4f5f6f7")) == (~0xDDF2 & 0xFFFF)
    packet = hostdiscovery._echo_request(0x1234, 7)
    assert packet[:2] == b"\x08\x00" and packet[4:8] == b"\x12\x34\x00\x07"
    assert hostdiscovery._icmp_checksum(packet) == 0  # a valid checksum sums to zero


@pytest.mark.skipif(not hostdiscovery.is_root(), reason="raw ICMP sockets need root")
def test_icmp_sweep_on_loopback() -> None:
    with enforce(build_scope(["127.0.0.5-6"])):
        assert hostdiscovery.icmp_sweep(["127.0.0.5", "127.0.0.6"], rounds=1, wait=0.5) == {"127.0.0.5", "127.0.0.6"}


def test_icmp_sweep_refuses_out_of_scope() -> None:
    with enforce(build_scope(["127.0.0.5"])), pytest.raises(OutOfScopeError):
        hostdiscovery.icmp_sweep(["127.0.0.5", "127.0.0.9"], rounds=1, wait=0.1)


def test_on_link_routes_from_procfs(tmp_path: Path) -> None:
    table = tmp_path / "route"  # parsing only: no packet is sent
    table.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"  # 198.18.0.0/24 on-link
        "eth0\t000112C6\tFA0012C6\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"  # 198.18.1.0/24 via .250
        "eth0\t000212C6\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"  # a route that is down
    )
    routes = hostdiscovery.ipv4_routes(str(table))
    assert [(str(r.network), str(r.gateway)) for r in routes] == [
        ("198.18.0.0/24", "0.0.0.0"), ("198.18.1.0/24", "198.18.0.250")]
    on_link, other = arp_interfaces(["198.18.0.7", "198.18.1.7", "127.0.0.1"], routes)
    assert on_link == {"eth0": ["198.18.0.7"]} and other == ["198.18.1.7", "127.0.0.1"]
