"""db.cleartext_exposed for Microsoft SQL Server: TDS PRELOGIN ENCRYPTION ([MS-TDS] 2.2.6.5).

There is no SQL Server here (it does not run on Debian in the lab): the server responses are
bytes built by hand from the specification's layout (packet header 2.2.3.1, PRELOGIN option
table 2.2.6.5), not recordings; the probe's I/O runs against a loopback peer that answers with
them. See tests/fixtures/README.md."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from checks.db import mssql_wire as wire
from checks.db.cleartext_exposed import DbCleartextExposed
from checks.db.mssql_probe import MssqlFacts, MssqlPrelogin
from scanner.check import ProbeContext, TimeoutConfig
from scanner.errors import ProbeError, ProtocolError
from scanner.models import Finding, Target, Undetermined
from tests.unit.helpers import tcp_server


def response(encryption: int, *, version: bytes = bytes([16, 0]) + struct.pack(">H", 4135) + bytes(2),
              kind: int = wire.PACKET_TABULAR_RESULT, extra: bytes = b"") -> bytes:
    """A server PRELOGIN response as [MS-TDS] lays it out: VERSION, ENCRYPTION, INSTOPT, THREADID, MARS."""
    options = [(wire.TOKEN_VERSION, version), (wire.TOKEN_ENCRYPTION, bytes([encryption])),
               (wire.TOKEN_INSTOPT, b"\x00"), (wire.TOKEN_THREADID, b""), (wire.TOKEN_MARS, b"\x00")]
    table_len = 5 * len(options) + 1
    table, data = b"", b""
    for token, value in options:
        table += struct.pack(">BHH", token, table_len + len(data), len(value))
        data += value
    payload = table + b"\xff" + data + extra
    return struct.pack(">BBHHBB", kind, 0x01, 8 + len(payload), 0, 1, 0) + payload


def test_the_request_is_a_prelogin_offering_encrypt_off() -> None:
    packet = wire.prelogin_request()
    kind, status, length = struct.unpack(">BBH", packet[:4])
    assert (kind, status, length) == (0x12, 0x01, len(packet))
    payload = packet[8:]
    # the option table: VERSION, ENCRYPTION, THREADID, then 0xFF; offsets count from the payload start
    token, offset, size = struct.unpack(">BHH", payload[5:10])
    assert (token, size) == (wire.TOKEN_ENCRYPTION, 1) and payload[offset] == wire.ENCRYPT_OFF
    assert payload[15] == 0xFF


@pytest.mark.parametrize(("value", "name"), [(0x00, "ENCRYPT_OFF"), (0x01, "ENCRYPT_ON"), (0x02, "ENCRYPT_NOT_SUP"),
                                             (0x03, "ENCRYPT_REQ"), (0x83, "ENCRYPT_REQ+ENCRYPT_CLIENT_CERT")])
def test_the_encryption_option_is_read(value: int, name: str) -> None:
    raw = response(value)
    kind, length = wire.packet_length(raw[:8])
    parsed = wire.parse_prelogin_response(kind, raw[8:8 + length])
    assert parsed.encryption_name == name and parsed.version == "16.0.4135"


@pytest.mark.parametrize("raw", [
    response(0x00, kind=0x12),  # a PRELOGIN, not a response to one
    response(0x00)[:8] + b"\x01\x00\x50\x00\x01\xff",  # an option pointing past the payload
    struct.pack(">BBHHBB", 4, 1, 8 + 4, 0, 1, 0) + b"\x00\x00\x05\x00",  # no terminator
])
def test_malformed_responses_are_refused(raw: bytes) -> None:
    kind, length = wire.packet_length(raw[:8])
    with pytest.raises(wire.TdsError):
        wire.parse_prelogin_response(kind, raw[8:8 + length])


@contextmanager
def tds_peer(answer: bytes) -> Iterator[Target]:
    def handle(conn: socket.socket) -> None:
        conn.recv(4096)  # the client's PRELOGIN
        conn.sendall(answer)

    with tcp_server(handle) as (host, port, _):
        yield Target(host=host, port=port, transport="tcp", service="mssql")


CTX = ProbeContext(timeouts=TimeoutConfig(connect=2, read=2, probe=5))


@pytest.mark.parametrize(("value", "passed"), [(0x03, True), (0x01, True), (0x00, False), (0x02, False)])
def test_the_check_judges_the_servers_answer(value: int, passed: bool) -> None:
    with tds_peer(response(value)) as target:
        facts = MssqlPrelogin().collect(target, CTX)
    (item,) = DbCleartextExposed().judge(target, facts)
    assert isinstance(item, Finding) and item.passed is passed
    assert item.evidence[0].data["login_sent"] is False


def test_an_undefined_encryption_value_is_no_verdict() -> None:
    facts = MssqlFacts(wire.PreloginResponse(encryption=0x07, version=None, options=(1,)))
    (item,) = DbCleartextExposed().judge(Target(host="198.18.0.9", port=1433, service="mssql"), facts)
    assert isinstance(item, Undetermined)


def test_garbage_or_silence_is_an_error_never_a_verdict() -> None:
    with tds_peer(b"HTTP/1.1 400 Bad Request\r\n\r\n") as target, pytest.raises(ProtocolError):
        MssqlPrelogin().collect(target, CTX)
    with tds_peer(b"") as target, pytest.raises(ProbeError):
        MssqlPrelogin().collect(target, CTX)
