"""The TLS probe against hostile servers on loopback: garbage, a truncated record, a server that
stalls after its ServerHello, a STARTTLS server that injects bytes. Each must end in a
ProbeError within the profile's timeouts: never a crash, a hang or a comforting PASS."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from checks.tls.probe import TlsProbe
from scanner.check import ProbeContext, TimeoutConfig
from scanner.errors import ProbeError, ProbeTimeout, ProtocolError
from scanner.models import Target
from tests.unit.helpers import tcp_server

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1.0, read=0.5, probe=10.0))


def _read_hello(conn: socket.socket) -> tuple[int, int]:
    """(client_version, first offered suite) of the ClientHello on ``conn``."""
    header = conn.recv(5, socket.MSG_WAITALL)
    body = conn.recv(struct.unpack("!H", header[3:5])[0], socket.MSG_WAITALL)
    version = struct.unpack("!H", body[4:6])[0]
    pos = 4 + 2 + 32
    pos += 1 + body[pos]
    return version, struct.unpack("!H", body[pos + 2:pos + 4])[0]


def _server_hello(version: int, suite: int) -> bytes:
    body = struct.pack("!H", version) + b"\x11" * 32 + b"\x00" + struct.pack("!H", suite) + b"\x00"
    body += b"\x00\x05\xff\x01\x00\x01\x00"  # renegotiation_info, or OpenSSL refuses at once
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0x0303, len(hs)) + hs


def _probe(port: int, service: str = "https") -> None:
    TlsProbe().collect(Target(host="127.0.0.1", port=port, service=service), CTX)


def test_garbage_answer_is_a_protocol_error() -> None:
    def handler(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n<html>nope</html>")

    with tcp_server(handler) as (_, port, _n), pytest.raises(ProtocolError, match="not a TLS handshake answer"):
        _probe(port)


def test_truncated_record_is_a_protocol_error() -> None:
    def handler(conn: socket.socket) -> None:
        _read_hello(conn)
        conn.sendall(_server_hello(0x0303, 0xC030)[:30])

    with tcp_server(handler) as (_, port, _n), pytest.raises(ProtocolError, match="truncated"):
        _probe(port)


def test_stall_after_server_hello_times_out_within_the_profile() -> None:
    def handler(conn: socket.socket) -> None:
        version, suite = _read_hello(conn)
        conn.sendall(_server_hello(min(version, 0x0303), suite))
        time.sleep(3)  # never sends Certificate / ServerHelloDone

    started = time.monotonic()
    with tcp_server(handler) as (_, port, _n), pytest.raises(ProbeError) as info:
        _probe(port)
    assert isinstance(info.value, ProbeTimeout | ProtocolError), info.value
    assert "timed out" in str(info.value), info.value
    assert time.monotonic() - started < 8


def test_silent_server_times_out() -> None:
    def handler(conn: socket.socket) -> None:
        time.sleep(2)

    started = time.monotonic()
    with tcp_server(handler) as (_, port, _n), pytest.raises(ProbeTimeout):
        _probe(port)
    assert time.monotonic() - started < 3


def test_server_that_refuses_every_version_is_an_error_not_a_pass() -> None:
    def handler(conn: socket.socket) -> None:
        _read_hello(conn)
        conn.sendall(b"\x15\x03\x01\x00\x02\x02\x46")  # alert protocol_version

    with tcp_server(handler) as (_, port, _n), pytest.raises(ProtocolError, match="no version"):
        _probe(port)


def test_starttls_injection_is_refused() -> None:
    def handler(conn: socket.socket) -> None:
        conn.sendall(b"220 mail.lab ESMTP\r\n")
        conn.recv(1024)
        conn.sendall(b"250-mail.lab\r\n250 STARTTLS\r\n")
        conn.recv(1024)
        conn.sendall(b"220 go ahead\r\n250 injected\r\n")
        time.sleep(0.5)

    with tcp_server(handler) as (_, port, _n), pytest.raises(ProtocolError, match="before the TLS handshake"):
        _probe(port, "smtp")


def test_starttls_not_offered_gives_unavailable_facts() -> None:
    def handler(conn: socket.socket) -> None:
        conn.sendall(b"220 mail.lab ESMTP\r\n")
        conn.recv(1024)
        conn.sendall(b"250-mail.lab\r\n250 PIPELINING\r\n")
        conn.recv(1024)

    with tcp_server(handler) as (_, port, _n):
        facts = TlsProbe().collect(Target(host="127.0.0.1", port=port, service="smtp"), CTX)
    assert not facts.available and "STARTTLS not offered" in facts.unavailable and not facts.versions


def test_a_port_discovery_names_only_tls_is_probed_as_implicit_tls() -> None:
    """"tls" (TLS around a protocol discovery could not name) goes straight to ClientHellos, as
    https does, and is planned for the TLS checks."""
    from checks.tls.probe import TLS_SERVICES

    assert "tls" in TLS_SERVICES
    first: list[int] = []

    def handler(conn: socket.socket) -> None:
        version, _suite = _read_hello(conn)  # a STARTTLS command would not parse as a ClientHello
        first.append(version)
        conn.sendall(b"\x15\x03\x01\x00\x02\x02\x46")  # alert protocol_version

    with tcp_server(handler) as (_, port, _n), pytest.raises(ProtocolError, match="no version"):
        _probe(port, service="tls")
    assert first  # the server was sent a ClientHello first
