"""snmp.default_community: the BER encoding, response parsing, and the probe against loopback
UDP agents (one answering 'public', one silent, one sending garbage)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from checks.snmp.default_community import SnmpDefaultCommunity
from checks.snmp.probe import SnmpDefaultCommunities
from scanner.check import ProbeContext, TimeoutConfig
from scanner.errors import ProtocolError
from scanner.models import Finding, Target, Transport
from scanner.net import ber
from scanner.net.ber import read_tlv as _read
from scanner.net.snmp import get_request, parse_response

CTX = ProbeContext(timeouts=TimeoutConfig(connect=1.0, read=0.3, probe=5.0))
SYSDESCR_OID = bytes.fromhex("2b06010201010100")  # 1.3.6.1.2.1.1.1.0


def _response(version: int, community: bytes, rid: int, descr: bytes) -> bytes:
    vb = ber.tlv(0x30, ber.tlv(0x30, ber.tlv(0x06, SYSDESCR_OID) + ber.tlv(0x04, descr)))
    pdu = ber.tlv(0xA2, ber.integer(rid) + ber.integer(0) + ber.integer(0) + vb)
    return ber.tlv(0x30, ber.integer(version) + ber.tlv(0x04, community) + pdu)


def test_get_request_encodes_sysdescr_with_the_community() -> None:
    msg = get_request(1, "public", 12345)
    tag, _body, end = _read(msg, 0)
    assert tag == 0x30 and end == len(msg)
    assert ber.object_identifier((1, 3, 6, 1, 2, 1, 1, 1, 0)) == b"\x06\x08" + SYSDESCR_OID
    assert b"\x04\x06public" in msg and SYSDESCR_OID in msg and b"\xa0" in msg  # GetRequest, never SetRequest (0xa3)
    assert b"\xa3" not in msg


def test_parse_response() -> None:
    version, community, rid, status, descr = parse_response(_response(1, b"public", 77, b"Linux lab 6.1"))
    assert (version, community, rid, status, descr) == (1, "public", 77, 0, "Linux lab 6.1")


@contextmanager
def udp_agent(reply: Callable[[bytes], bytes | None]) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            answer = reply(data)
            if answer is not None:
                sock.sendto(answer, addr)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(1)
        sock.close()


def _public_only(data: bytes) -> bytes | None:
    _, message, _ = _read(data, 0)
    _, version, pos = _read(message, 0)
    _, community, pos = _read(message, pos)
    _, pdu, _ = _read(message, pos)
    _, rid, _ = _read(pdu, 0)
    if community != b"public":
        return None  # what agents do with a wrong community: nothing
    return _response(version[0], community, int.from_bytes(rid, "big"), b"HP LaserJet lab")


def _judge(port: int) -> Finding:
    target = Target(host="127.0.0.1", port=port, service="snmp")
    facts = SnmpDefaultCommunities().collect(target, CTX)
    (item,) = list(SnmpDefaultCommunity().evaluate(target, {SnmpDefaultCommunities: facts}))
    assert isinstance(item, Finding)
    return item


def test_public_agent_fails_with_sysdescr() -> None:
    with udp_agent(_public_only) as port:
        item = _judge(port)
    assert not item.passed and "'public'" in item.detail and "HP LaserJet lab" in item.detail
    assert item.evidence[0].data["no_answer"] == ["private"]


def test_silent_agent_passes_and_garbage_is_no_proof() -> None:
    with udp_agent(lambda data: None) as port:
        item = _judge(port)
    assert item.passed and "neither" in item.detail
    # Issue 15: something that answers with non-SNMP bytes refused nothing (it was a PASS).
    with udp_agent(lambda data: b"\x30\x82\xff\xff garbage") as port, pytest.raises(ProtocolError, match="not SNMP"):
        SnmpDefaultCommunities().collect(Target(host="127.0.0.1", port=port, service="snmp", transport=Transport.UDP),
                                         CTX)


def test_reply_with_wrong_request_id_is_not_trusted() -> None:
    with udp_agent(lambda data: _response(1, b"public", 1, b"spoofed")) as port:
        assert _judge(port).passed
