"""checks.db.mysql_wire on bytes captured from the lab's MariaDB 10.11 (files-weak: --skip-ssl;
files-good: TLS + require_secure_transport=ON), read from gs-scan; truncated or garbage input
must raise ProtocolError, never yield a greeting that could be judged."""

from __future__ import annotations

import pytest

from checks.db import mysql_wire as wire
from scanner.errors import ProtocolError

# Whole packets (header + payload) as the servers sent them.
WEAK_GREETING = bytes.fromhex(
    "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100060000004e256b6e642d502b00fef7"
    "080200ff81150000000000001d00000024733a63644e39704b643621006d7973716c5f6e61746976655f70617373776f726400")
GOOD_GREETING = bytes.fromhex(
    "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100060000004165596c3663743e00feff"
    "080200ff81150000000000001d0000007452792e74244e3e2d632d55006d7973716c5f6e61746976655f70617373776f726400")
# Both servers' answer to the probe's cleartext HandshakeResponse41 (identical: see mysql_probe.py).
ACCESS_DENIED = bytes.fromhex(
    "57000002ff15042332383030304163636573732064656e69656420666f72207573657220276761707363616e5f746c735f70726f6265"
    "2740273139382e31382e302e3130302720287573696e672070617373776f72643a204e4f29")
# MariaDB with no account for the client's host: an ERR packet instead of a greeting (no SQL state).
HOST_NOT_ALLOWED = bytes.fromhex(
    "44000000ff6a04486f737420273132372e302e302e3127206973206e6f7420616c6c6f77656420746f20636f6e6e65637420746f2074"
    "686973204d61726961444220736572766572")


def _greeting(packet: bytes) -> wire.Greeting:
    seq, payload = wire.split_packet(packet)
    assert seq == 0
    greeting = wire.parse_greeting(payload)
    assert isinstance(greeting, wire.Greeting)
    return greeting


def test_weak_greeting_has_no_client_ssl() -> None:
    g = _greeting(WEAK_GREETING)
    assert g.protocol_version == 10 and g.product == "MariaDB" and g.version == "10.11.19-MariaDB-0+deb12u1"
    assert g.server_version.startswith("5.5.5-")
    assert g.capabilities & 0xFFFF == 63486  # nmap mysql-info: "Capabilities flags: 63486"
    assert not g.tls_available and g.speaks_41 and g.auth_plugin == "mysql_native_password"


def test_good_greeting_sets_client_ssl() -> None:
    g = _greeting(GOOD_GREETING)
    assert g.capabilities & 0xFFFF == 65534 and g.tls_available  # nmap: SwitchToSSLAfterHandshake
    assert g.capabilities >> 16 == 0x81FF and g.character_set == 8 and g.status_flags == 2


def test_access_denied_reply() -> None:
    seq, payload = wire.split_packet(ACCESS_DENIED)
    reply = wire.parse_login_reply(payload)
    assert seq == 2 and reply.kind == "error" and reply.error is not None
    assert (reply.error.code, reply.error.sql_state) == (1045, "28000")
    assert "using password: NO" in reply.error.message


def test_error_instead_of_greeting() -> None:
    _, payload = wire.split_packet(HOST_NOT_ALLOWED)
    err = wire.parse_greeting(payload)
    assert isinstance(err, wire.ServerError) and err.code == 1130 and err.sql_state == ""
    assert "is not allowed to connect" in err.message


def test_handshake_response_carries_no_password_and_no_ssl_flag() -> None:
    packet = wire.handshake_response("gapscan_tls_probe")
    seq, payload = wire.split_packet(packet)
    flags = int.from_bytes(payload[:4], "little")
    assert seq == 1 and not flags & wire.CLIENT_SSL and flags & wire.CLIENT_PROTOCOL_41
    assert payload[32:] == b"gapscan_tls_probe\x00" + b"\x00" + b"mysql_native_password\x00"  # auth length 0


def test_other_login_replies() -> None:
    assert wire.parse_login_reply(b"\x00\x00\x00\x02\x00\x00\x00").kind == "ok"
    switch = wire.parse_login_reply(b"\xfecaching_sha2_password\x00" + b"x" * 20 + b"\x00")
    assert switch.kind == "auth_switch" and switch.auth_plugin == "caching_sha2_password"
    assert wire.parse_login_reply(b"\x01\x04").kind == "auth_more_data"
    err = wire.parse_login_reply(b"\xff\x57\x0c#HY000Connections using insecure transport are prohibited")
    assert err.error is not None and err.error.code == 3159


@pytest.mark.parametrize("cut", [5, 20, 33, 40, 47, 60, 70, 77])
def test_truncated_greeting_is_a_protocol_error(cut: int) -> None:
    # Everything up to the auth plugin name is required; the name itself may lack its NUL
    # (MySQL 5.5.7-5.5.9 sent it so), which is why cuts stop at byte 77 of the payload.
    payload = GOOD_GREETING[4:]
    with pytest.raises(ProtocolError):
        wire.parse_greeting(payload[:cut])
    with pytest.raises(ProtocolError):
        wire.split_packet(GOOD_GREETING[: 4 + cut])


@pytest.mark.parametrize("payload", [
    b"", b"\x09", b"\x0a5.7.0", b"\x0a\x00" + b"\x00" * 20, b"HTTP/1.1 400 Bad Request\r\n", b"\xff\x01",
    b"\x0a5.7\x00" + b"\x00" * 12 + b"\x01" + b"\x00\x00",  # filler after the scramble must be 0
])
def test_garbage_greeting_is_a_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        wire.parse_greeting(payload)


@pytest.mark.parametrize("payload", [b"", b"\x02abc", b"\x00\x00", b"\xff"])
def test_garbage_login_reply_is_a_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        wire.parse_login_reply(payload)


def test_bad_header() -> None:
    with pytest.raises(ProtocolError):
        wire.packet_length(b"\x01\x00")
