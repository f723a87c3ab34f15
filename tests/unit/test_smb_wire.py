"""SMB NEGOTIATE on the wire: recorded replies of the lab's real Samba 4.17, the probes against
loopback servers that replay them, and hostile servers (reset, garbage, silence, truncation)
that must end in a ProbeError with the right reason within the timeout — never a verdict."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import pytest

from checks.smb import wire
from checks.smb.probe import CLOSED, SmbNegotiate
from checks.smb.shares_probe import SmbAnonymousAccess
from scanner.check import ProbeContext, TimeoutConfig
from scanner.errors import ProbeError, ProbeTimeout, ProtocolError
from scanner.models import Target
from tests.unit.helpers import tcp_server

# Replies recorded from the lab (tests/lab: smbd 4.17.12 on files-weak 198.18.0.10 and
# files-good 198.18.0.11, port 445) to checks/smb/wire.py's own requests, captured inside the
# gs-scan namespace on 2026-11-22: Direct TCP payloads, hex.
WEAK_SMB2 = bytes.fromhex(
    "fe534d42400000000000000000000100010000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000410001000203000066696c65737765616b0000000000000007000000000080000000800000008000"
    "20b7ad1ad97add01000000000000000080004a0000000000604806062b0601050502a03e303ca00e300c060a2b06010401823702"
    "020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265")
WEAK_SMB311 = bytes.fromhex(
    "fe534d42400000000000000000000100010000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000410001001103010066696c65737765616b0000000000000007000000000080000000800000008000"
    "bc79ae1ad97add01000000000000000080004a00d0000000604806062b0601050502a03e303ca00e300c060a2b06010401823702"
    "020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265000000000000"
    "010026000000000001002000010056bc2e3b6f50b234b8b98ee9bacf1818215171db826b0b85d453fd69d9d7cba5")
WEAK_SMB1 = bytes.fromhex(
    "ff534d4272000000008801c8000000000000000000000000ffff000000000000110000033200010004410000000001009b320000"
    "fdf3808080d9af1ad97add010000005a0066696c65737765616b00000000000000604806062b0601050502a03e303ca00e300c06"
    "0a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e"
    "6f7265")
GOOD_SMB2 = bytes.fromhex(
    "fe534d42400000000000000000000100010000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000410003000203000066696c6573676f6f640000000000000007000000000080000000800000008000"
    "0ef2d41ad97add01000000000000000080004a0000000000604806062b0601050502a03e303ca00e300c060a2b06010401823702"
    "020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265")
GOOD_SMB311 = bytes.fromhex(
    "fe534d42400000000000000000000100010000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000410003001103010066696c6573676f6f640000000000000007000000000080000000800000008000"
    "04a6d51ad97add01000000000000000080004a00d0000000604806062b0601050502a03e303ca00e300c060a2b06010401823702"
    "020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265000000000000"
    "0100260000000000010020000100e7bc86764e1d65a220aebc0f6673504a3141cea6e5e7c4fc989c3d4a85334150")
GOOD_SMB1 = bytes.fromhex("ff534d4272000000008803c0000000000000000000000000ffff00000000000001ffff0000")

# ---------------------------------------------------------------- parsers on recorded bytes

def test_parse_recorded_smb2_replies_read_the_real_policy() -> None:
    weak = wire.parse_smb2_negotiate_reply(WEAK_SMB2, wire.DIALECTS_UP_TO_302)
    good = wire.parse_smb2_negotiate_reply(GOOD_SMB2, wire.DIALECTS_UP_TO_302)
    assert (weak.dialect, weak.security_mode, weak.signing_required) == ("3.0.2", 0x01, False)
    assert (good.dialect, good.security_mode, good.signing_required) == ("3.0.2", 0x03, True)
    assert weak.signing_enabled and good.signing_enabled


def test_parse_recorded_311_replies_keep_the_raw_bit() -> None:
    weak = wire.parse_smb2_negotiate_reply(WEAK_SMB311, (wire.DIALECT_311,))
    good = wire.parse_smb2_negotiate_reply(GOOD_SMB311, (wire.DIALECT_311,))
    assert (weak.dialect, weak.signing_required) == ("3.1.1", False)
    assert (good.dialect, good.signing_required) == ("3.1.1", True)


def test_parse_recorded_smb1_accept_and_refusal() -> None:
    weak = wire.parse_smb1_negotiate_reply(WEAK_SMB1)
    assert (weak.dialect, weak.security_mode, weak.signing_enabled) == ("NT LM 0.12", 0x03, False)
    good = wire.parse_smb1_negotiate_reply(GOOD_SMB1)
    assert good.dialect is None and "0xFFFF" in good.refusal


def test_reply_choosing_a_dialect_not_offered_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not offered"):
        wire.parse_smb2_negotiate_reply(WEAK_SMB311, wire.DIALECTS_UP_TO_302)


def test_error_status_is_a_refusal_with_its_name() -> None:
    header = bytearray(WEAK_SMB2[:64])
    header[8:12] = struct.pack("<I", 0xC00000BB)
    reply = wire.parse_smb2_negotiate_reply(bytes(header) + b"\x09\x00\x00\x00\x00\x00\x00\x00\x00",
                                            wire.DIALECTS_UP_TO_302)
    assert reply.dialect is None and reply.refusal == "STATUS_NOT_SUPPORTED"


@pytest.mark.parametrize("data", [b"", b"\xfeSMB", WEAK_SMB2[:66], b"HTTP/1.1 400 Bad Request\r\n" * 4,
                                  WEAK_SMB2[:64] + b"\x41\x00"])
def test_truncated_or_foreign_smb2_replies_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        wire.parse_smb2_negotiate_reply(data, wire.DIALECTS_UP_TO_302)


@pytest.mark.parametrize("data", [WEAK_SMB1[:33], WEAK_SMB1[:40], b"\xffSMB" + b"\x00" * 40, b"garbage" * 10])
def test_truncated_or_foreign_smb1_replies_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        wire.parse_smb1_negotiate_reply(data)


def test_requests_offer_exactly_the_dialects_asked_for() -> None:
    req = wire.smb2_negotiate_request(wire.DIALECTS_UP_TO_302)
    assert req[:4] == b"\xfeSMB" and struct.unpack_from("<H", req, 12)[0] == 0  # NEGOTIATE
    count = struct.unpack_from("<H", req, 66)[0]
    assert struct.unpack_from(f"<{count}H", req, 100) == wire.DIALECTS_UP_TO_302
    req311 = wire.smb2_negotiate_request((wire.DIALECT_311,))
    offset, n_ctx = struct.unpack_from("<IH", req311, 64 + 28)
    assert offset % 8 == 0 and n_ctx == 2 and len(req311) > offset
    assert struct.unpack_from("<H", req311, offset)[0] == 1  # PREAUTH_INTEGRITY first (MS-SMB2 2.2.3.1)
    smb1 = wire.smb1_negotiate_request()
    assert smb1[:5] == b"\xffSMBr" and smb1.endswith(b"\x02NT LM 0.12\x00")


# ---------------------------------------------------------------- loopback servers

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1, read=1, probe=8))


def _read_frame(conn: socket.socket) -> bytes:
    header = conn.recv(4, socket.MSG_WAITALL)
    (length,) = struct.unpack(">I", b"\x00" + header[1:])
    return conn.recv(length, socket.MSG_WAITALL)


def _send_frame(conn: socket.socket, payload: bytes) -> None:
    conn.sendall(wire.direct_tcp_frame(payload))


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def replay(smb2: bytes, smb311: bytes, smb1: bytes | None) -> Callable[[socket.socket], None]:
    """A server answering each NEGOTIATE with a recorded reply; ``smb1`` None = hang up (Windows)."""

    def handle(conn: socket.socket) -> None:
        request = _read_frame(conn)
        if request[:4] == b"\xffSMB":
            if smb1 is None:
                _reset(conn)
                return
            _send_frame(conn, smb1)
        elif struct.unpack_from("<H", request, 100)[0] == wire.DIALECT_311:
            _send_frame(conn, smb311)
        else:
            _send_frame(conn, smb2)

    return handle


def _collect(handler: Callable[[socket.socket], None]) -> tuple[object, int]:
    with tcp_server(handler) as (host, port, accepted):
        facts = SmbNegotiate().collect(Target(host=host, port=port), CTX)
        return facts, accepted[0]


def test_negotiate_probe_on_replayed_weak_server() -> None:
    facts, _ = _collect(replay(WEAK_SMB2, WEAK_SMB311, WEAK_SMB1))
    assert facts.smb1_accepted and facts.smb2_policy.dialect == "3.0.2"  # type: ignore[attr-defined]
    assert facts.smb2_policy.signing_required is False  # type: ignore[attr-defined]


def test_negotiate_probe_on_replayed_hardened_server() -> None:
    facts, _ = _collect(replay(GOOD_SMB2, GOOD_SMB311, GOOD_SMB1))
    assert not facts.smb1_accepted and facts.smb2_policy.signing_required  # type: ignore[attr-defined]


def test_smb1_hang_up_counts_as_refusal_only_after_a_retry_and_a_successful_smb2() -> None:
    facts, accepted = _collect(replay(GOOD_SMB2, GOOD_SMB311, None))
    assert not facts.smb1_accepted and facts.smb1.refusal == CLOSED  # type: ignore[attr-defined]
    assert accepted == 4, "SMB2, 3.1.1 and two SMB1 attempts"


def _hostile(kind: str) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        if kind == "reset":
            _reset(conn)
        elif kind == "garbage":
            conn.recv(4096)
            conn.sendall(b"\x00\x00\x00\x20" + b"\x17" * 32)
        elif kind == "not-a-frame":
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        elif kind == "huge":
            conn.recv(4096)
            conn.sendall(b"\x00\xff\xff\xff")
        elif kind == "mid-reply-reset":
            conn.recv(4096)
            conn.sendall(b"\x00\x00\x00\xca" + WEAK_SMB2[:20])
            time.sleep(0.1)
            _reset(conn)
        elif kind == "silent":
            while conn.recv(4096):
                pass

    return handle


@pytest.mark.parametrize("kind, error", [("reset", ProtocolError), ("garbage", ProtocolError),
                                         ("not-a-frame", ProtocolError), ("huge", ProtocolError),
                                         ("mid-reply-reset", ProtocolError), ("silent", ProbeTimeout)])
def test_negotiate_probe_hostile_servers_are_errors(kind: str, error: type[ProbeError]) -> None:
    started = time.monotonic()
    with tcp_server(_hostile(kind)) as (host, port, _), pytest.raises(error):
        SmbNegotiate().collect(Target(host=host, port=port), CTX)
    assert time.monotonic() - started < CTX.timeouts.probe


@pytest.mark.parametrize("kind, error", [("reset", ProtocolError), ("garbage", ProtocolError),
                                         ("mid-reply-reset", ProtocolError), ("silent", ProbeTimeout)])
def test_session_probe_hostile_servers_are_errors(kind: str, error: type[ProbeError]) -> None:
    started = time.monotonic()
    with tcp_server(_hostile(kind)) as (host, port, _), pytest.raises(error):
        SmbAnonymousAccess().collect(Target(host=host, port=port), CTX)
    assert time.monotonic() - started < CTX.timeouts.probe


def test_probes_on_a_closed_port_are_refused() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    for probe in (SmbNegotiate(), SmbAnonymousAccess()):
        with pytest.raises(ProbeError) as info:
            probe.collect(Target(host="127.0.0.1", port=port), CTX)  # type: ignore[attr-defined]
        assert info.value.reason.value == "refused"
