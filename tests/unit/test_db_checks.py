"""db.cleartext_exposed against loopback servers: PostgreSQL's startup protocol, and the MySQL protocol
replaying greetings and replies captured from the lab's MariaDB."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import pytest

from checks.db import mysql_wire
from checks.db.cleartext_exposed import DbCleartextExposed
from checks.db.mysql_probe import MysqlHandshake
from checks.db.postgres_probe import PROBE_USER, SSL_REQUEST, PgStartup
from checks.db.probe import DbTransport
from scanner.check import ProbeContext, TimeoutConfig
from scanner.errors import ProbeTimeout, ProtocolError
from scanner.models import Finding, Skip, SkipReason, Target
from tests.unit.helpers import tcp_server
from tests.unit.test_mysql_wire import ACCESS_DENIED, GOOD_GREETING, HOST_NOT_ALLOWED, WEAK_GREETING

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
    facts = DbTransport().collect(target, CTX)
    (item,) = list(DbCleartextExposed().evaluate(target, {DbTransport: facts}))
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


# ------------------------------------------------------------------------------ MySQL / MariaDB


def _mysql_server(greeting: bytes, reply: bytes | None, seen: list[bytes]) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        conn.sendall(greeting)
        if reply is None:
            return
        header = conn.recv(4, socket.MSG_WAITALL)
        seen.append(header + conn.recv(int.from_bytes(header[:3], "little"), socket.MSG_WAITALL))
        conn.sendall(reply)
        time.sleep(0.2)

    return handle


def _mysql_judge(greeting: bytes, reply: bytes | None) -> tuple[Finding | Skip, list[bytes]]:
    seen: list[bytes] = []
    with tcp_server(_mysql_server(greeting, reply, seen)) as (_, port, _n):
        target = Target(host="127.0.0.1", port=port, service="mysql")
        facts = DbTransport().collect(target, CTX)
        (item,) = list(DbCleartextExposed().evaluate(target, {DbTransport: facts}))
    assert isinstance(item, Finding | Skip)
    return item, seen


def _reply(payload: bytes) -> bytes:
    return mysql_wire.encode_packet(2, payload)


def test_mysql_without_client_ssl_fails() -> None:
    item, seen = _mysql_judge(WEAK_GREETING, ACCESS_DENIED)
    assert isinstance(item, Finding) and not item.passed and "no TLS at all" in item.detail
    assert item.evidence[0].data["client_ssl"] is False and item.evidence[0].data["login_error_code"] == 1045
    (sent,) = seen  # the one cleartext HandshakeResponse41: made-up user, empty auth response
    assert sent == mysql_wire.handshake_response(PROBE_USER)


def test_mysql_tls_offered_and_access_denied_is_a_skip_not_a_pass() -> None:
    item, _ = _mysql_judge(GOOD_GREETING, ACCESS_DENIED)
    assert isinstance(item, Skip) and item.reason is SkipReason.NO_CREDENTIALS
    assert "TLS offered" in item.detail and "ERR 1045" in item.detail


def test_mysql_secure_transport_required_passes() -> None:
    item, _ = _mysql_judge(GOOD_GREETING, _reply(b"\xff\x57\x0c#HY000Connections using insecure transport are "
                                                  b"prohibited while --require_secure_transport=ON."))
    assert isinstance(item, Finding) and item.passed and "3159" in item.detail


def test_mysql_anonymous_cleartext_login_fails() -> None:
    item, _ = _mysql_judge(GOOD_GREETING, _reply(b"\x00\x00\x00\x02\x00\x00\x00"))
    assert isinstance(item, Finding) and not item.passed and "logged in over cleartext" in item.detail


def test_mysql_refusal_before_greeting_is_a_skip() -> None:
    item, seen = _mysql_judge(HOST_NOT_ALLOWED, None)
    assert isinstance(item, Skip) and item.reason is SkipReason.PERMISSION and "1130" in item.detail
    assert not seen


def test_mysql_garbage_and_stalls_are_errors() -> None:
    target_for = lambda port: Target(host="127.0.0.1", port=port, service="mysql")  # noqa: E731
    for greeting in (b"SSH-2.0-OpenSSH_9.2\r\n", GOOD_GREETING[:30], b"\x05\x00\x00\x00\x09abcd"):
        with tcp_server(_mysql_server(greeting, None, [])) as (_, port, _n), pytest.raises(ProtocolError):
            MysqlHandshake().collect(target_for(port), CTX)
    with tcp_server(_mysql_server(GOOD_GREETING, b"\x02\x00\x00\x02\x07\x07", [])) as (_, port, _n), \
            pytest.raises(ProtocolError):
        MysqlHandshake().collect(target_for(port), CTX)

    def stall(conn: socket.socket) -> None:
        time.sleep(1.5)

    with tcp_server(stall) as (_, port, _n), pytest.raises(ProbeTimeout):
        MysqlHandshake().collect(target_for(port), CTX)
