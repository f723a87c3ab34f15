"""rdp.nla_not_required: X.224 / RDP negotiation against loopback servers.

The NLA-required answers follow [MS-RDPBCGR] 2.2.1.2 (built from the spec: the lab's xrdp has
no CredSSP); the Standard-RDP-Security answer is what the lab's xrdp 0.9.21 sends with
security_layer=rdp (selectedProtocol 0)."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import pytest

from checks.rdp.negotiation import RdpNegotiation, connection_request, parse_confirm
from checks.rdp.nla_not_required import RdpNlaNotRequired
from scanner.check import ProbeContext, TimeoutConfig
from scanner.errors import ProbeTimeout, ProtocolError
from scanner.models import Finding, Target
from tests.unit.helpers import tcp_server

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1.0, read=0.5, probe=5.0))


def _confirm(neg: bytes) -> bytes:
    x224 = bytes([6 + len(neg), 0xD0, 0, 0, 0x12, 0x34, 0]) + neg
    return struct.pack("!BBH", 3, 0, 4 + len(x224)) + x224


def _rsp(selected: int) -> bytes:
    return _confirm(struct.pack("<BBHI", 2, 0x1F, 8, selected))


def _fail(code: int) -> bytes:
    return _confirm(struct.pack("<BBHI", 3, 0, 8, code))


def _server(answer: Callable[[int], bytes]) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        header = conn.recv(4, socket.MSG_WAITALL)
        body = conn.recv(struct.unpack("!H", header[2:4])[0] - 4, socket.MSG_WAITALL)
        requested = struct.unpack("<I", body[-4:])[0]
        conn.sendall(answer(requested))
        time.sleep(0.2)

    return handle


def _judge(answer: Callable[[int], bytes]) -> Finding:
    with tcp_server(_server(answer)) as (_, port, _n):
        target = Target(host="127.0.0.1", port=port, service="rdp")
        facts = RdpNegotiation().collect(target, CTX)
    (item,) = list(RdpNlaNotRequired().evaluate(target, {RdpNegotiation: facts}))
    assert isinstance(item, Finding)
    return item


def test_connection_request_layout() -> None:
    req = connection_request(0x0B)
    assert req[:2] == b"\x03\x00" and struct.unpack("!H", req[2:4])[0] == len(req)
    assert req[5] == 0xE0 and b"Cookie: mstshash=gapscan\r\n" in req
    assert req[-8:] == bytes.fromhex("010008000b000000")


def test_nla_required_passes() -> None:
    item = _judge(lambda requested: _fail(5) if requested in (0, 1) else _rsp(2))
    assert item.passed and "HYBRID_REQUIRED_BY_SERVER" in item.detail and "CredSSP (NLA)" in item.detail


def test_standard_rdp_security_fails() -> None:
    item = _judge(lambda requested: _rsp(0))  # xrdp security_layer=rdp picks RDP whatever is asked
    assert not item.passed and "Standard RDP Security" in item.detail
    assert item.evidence[0].data["requested_rdp"]["selected_name"] == "Standard RDP Security"


def test_tls_without_nla_fails() -> None:
    item = _judge(lambda requested: _fail(1) if requested == 0 else _rsp(1))
    assert not item.passed and "TLS without CredSSP" in item.detail


def test_legacy_confirm_without_negotiation_is_standard_rdp() -> None:
    answer = parse_confirm(_confirm(b""))
    assert answer.accepted and answer.selected == 0


def test_garbage_and_stall_are_errors() -> None:
    with pytest.raises(ProtocolError):
        parse_confirm(b"HTTP/1.1 400 Bad\r\n\r\n")
    with tcp_server(_server(lambda r: b"\x03\x00\x00\x30\x0e\xd0")) as (_, port, _n), \
            pytest.raises(ProtocolError, match="truncated"):
        RdpNegotiation().collect(Target(host="127.0.0.1", port=port, service="rdp"), CTX)

    def stall(conn: socket.socket) -> None:
        time.sleep(1.5)

    with tcp_server(stall) as (_, port, _n), pytest.raises(ProbeTimeout):
        RdpNegotiation().collect(Target(host="127.0.0.1", port=port, service="rdp"), CTX)
