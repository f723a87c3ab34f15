"""cleartext.vnc: RFB security-type negotiation against loopback servers (RFC 6143 §7.1)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from checks.cleartext.vnc import CleartextVnc
from checks.cleartext.vnc_probe import RfbSecurityTypes
from scanner.check import ProbeContext, TimeoutConfig
from scanner.errors import ProbeTimeout, ProtocolError
from scanner.models import Finding, Severity, Target
from tests.unit.helpers import tcp_server

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1.0, read=0.5, probe=5.0))


def _rfb(version: bytes, after_version: bytes) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        conn.sendall(version)
        got = conn.recv(12, socket.MSG_WAITALL)
        assert got.startswith(b"RFB 003.00")
        conn.sendall(after_version)
        time.sleep(0.3)

    return handle


def _judge(handler: Callable[[socket.socket], None]) -> Finding:
    with tcp_server(handler) as (_, port, _n):
        target = Target(host="127.0.0.1", port=port, service="vnc")
        facts = RfbSecurityTypes().collect(target, CTX)
    (item,) = list(CleartextVnc().evaluate(target, {RfbSecurityTypes: facts}))
    assert isinstance(item, Finding)
    return item


def test_none_fails_critical() -> None:
    # What TigerVNC 1.12 Xvnc -SecurityTypes None sends (the lab's ws:5900).
    item = _judge(_rfb(b"RFB 003.008\n", b"\x01\x01"))
    assert not item.passed and item.severity == Severity.CRITICAL and "None" in item.detail


def test_vnc_auth_alone_fails_and_with_vencrypt_passes() -> None:
    item = _judge(_rfb(b"RFB 003.008\n", b"\x01\x02"))
    assert not item.passed and "VNC password" in item.detail
    item = _judge(_rfb(b"RFB 003.008\n", b"\x02\x13\x02"))
    assert item.passed and "VeNCrypt" in item.detail


def test_rfb_33_server_decides_the_type() -> None:
    item = _judge(_rfb(b"RFB 003.003\n", b"\x00\x00\x00\x02"))
    assert not item.passed and item.evidence[0].data["rfb_version"] == "3.3"


def test_refusal_garbage_and_stall_are_errors() -> None:
    with tcp_server(_rfb(b"RFB 003.008\n", b"\x00\x00\x00\x00\x04busy")) as (_, port, _n), \
            pytest.raises(ProtocolError, match="busy"):
        RfbSecurityTypes().collect(Target(host="127.0.0.1", port=port, service="vnc"), CTX)
    with tcp_server(_rfb(b"SSH-2.0-Open\n", b"")) as (_, port, _n), pytest.raises(ProtocolError, match="not an RFB"):
        RfbSecurityTypes().collect(Target(host="127.0.0.1", port=port, service="vnc"), CTX)

    def stall(conn: socket.socket) -> None:
        conn.sendall(b"RFB 003.008\n")
        time.sleep(1.5)

    with tcp_server(stall) as (_, port, _n), pytest.raises(ProbeTimeout):
        RfbSecurityTypes().collect(Target(host="127.0.0.1", port=port, service="vnc"), CTX)
