"""db.cleartext_exposed (PostgreSQL) against loopback servers speaking the startup protocol."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import pytest

from checks.db.cleartext_exposed import PROBE_USER, SSL_REQUEST, DbCleartextExposed, PgStartup
from scanner.check import ProbeContext
from scanner.config import TimeoutConfig
from scanner.errors import ProbeTimeout, ProtocolError
from scanner.models import Finding, Target
from tests.unit.helpers import tcp_server

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1.0, read=0.5, probe=5.0))
# The ErrorResponse PostgreSQL 15 sends for a plaintext connection under hostssl-only pg_hba.conf.
NO_HBA = (b"SFATAL\x00VFATAL\x00C28000\x00Mno pg_hba.conf entry for host \"198.18.0.100\", user "
          b"\"gapscan_tls_probe\", database \"postgres\", no encryption\x00Fauth.c\x00L543\x00\x00")


def _server(ssl_answer: bytes, startup_reply: bytes) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        first = conn.recv(8, socket.MSG_WAITALL)
        if first == SSL_REQUEST:
            conn.sendall(ssl_answer)
            return
        length = struct.unpack("!I", first[:4])[0]
        rest = conn.recv(length - 8, socket.MSG_WAITALL)
        assert PROBE_USER.encode() in rest and b"password" not in rest
        conn.sendall(startup_reply)
        time.sleep(0.2)

    return handle


def _judge(port: int) -> Finding:
    target = Target(host="127.0.0.1", port=port, service="postgresql")
    facts = PgStartup().collect(target, CTX)
    (item,) = list(DbCleartextExposed().evaluate(target, {PgStartup: facts}))
    assert isinstance(item, Finding)
    return item


def _msg(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def test_no_tls_at_all_fails() -> None:
    with tcp_server(_server(b"N", _msg(b"R", struct.pack("!I", 10) + b"SCRAM-SHA-256\x00\x00"))) as (_, port, _n):
        item = _judge(port)
    assert not item.passed and "'N'" in item.detail


def test_tls_available_but_plaintext_login_offered_fails() -> None:
    with tcp_server(_server(b"S", _msg(b"R", struct.pack("!I", 5) + b"salt"))) as (_, port, _n):
        item = _judge(port)
    assert not item.passed and "not required" in item.detail and "MD5" in item.detail


def test_tls_required_passes() -> None:
    with tcp_server(_server(b"S", _msg(b"E", NO_HBA))) as (_, port, _n):
        item = _judge(port)
    assert item.passed and "28000" in item.detail and "no encryption" in item.detail


def test_garbage_and_stalls_are_errors() -> None:
    with tcp_server(_server(b"X", b"")) as (_, port, _n), pytest.raises(ProtocolError, match="not S or N"):
        PgStartup().collect(Target(host="127.0.0.1", port=port, service="postgresql"), CTX)

    def stall(conn: socket.socket) -> None:
        time.sleep(1.5)

    with tcp_server(stall) as (_, port, _n), pytest.raises(ProbeTimeout):
        PgStartup().collect(Target(host="127.0.0.1", port=port, service="postgresql"), CTX)
    with tcp_server(_server(b"S", b"R\xff\xff\xff\xff")) as (_, port, _n), pytest.raises(ProtocolError):
        PgStartup().collect(Target(host="127.0.0.1", port=port, service="postgresql"), CTX)
