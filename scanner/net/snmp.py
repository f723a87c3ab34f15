"""SNMP v1/v2c messages (RFC 1157, RFC 3416): the GetRequest for sysDescr.0 (RFC 3418) and the
GetResponse that answers it. Written once for discovery's UDP identification and the SNMP check.
"""

from __future__ import annotations

from scanner.net import ber
from scanner.net.text import sanitize

SYSDESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)


def get_request(version: int, community: str, request_id: int) -> bytes:
    """SNMP message (version 0 = v1, 1 = v2c) with one GetRequest-PDU for sysDescr.0."""
    varbinds = ber.tlv(0x30, ber.tlv(0x30, ber.object_identifier(SYSDESCR) + b"\x05\x00"))
    pdu = ber.tlv(0xA0, ber.integer(request_id) + ber.integer(0) + ber.integer(0) + varbinds)
    return ber.tlv(0x30, ber.integer(version) + ber.tlv(0x04, community.encode()) + pdu)


def parse_response(data: bytes) -> tuple[int, str, int, int, str | None]:
    """(version, community, request id, error status, sysDescr or None) of a GetResponse."""
    tag, message, _ = ber.read_tlv(data, 0)
    if tag != 0x30:
        raise ValueError("not an SNMP message")
    tag, version, pos = ber.read_tlv(message, 0)
    tag2, community, pos = ber.read_tlv(message, pos)
    tag3, pdu, _ = ber.read_tlv(message, pos)
    if tag != 0x02 or tag2 != 0x04 or tag3 != 0xA2:
        raise ValueError("not a GetResponse")
    _, rid, p = ber.read_tlv(pdu, 0)
    _, status, p = ber.read_tlv(pdu, p)
    _, _index, p = ber.read_tlv(pdu, p)
    _, varbinds, _ = ber.read_tlv(pdu, p)
    descr: str | None = None
    _, first, _ = ber.read_tlv(varbinds, 0)
    _, oid, q = ber.read_tlv(first, 0)
    vtag, value, _ = ber.read_tlv(first, q)
    if oid == ber.object_identifier(SYSDESCR)[2:] and vtag == 0x04:
        descr = sanitize(value.decode("utf-8", "replace"), 200)
    return (int.from_bytes(version, "big"), community.decode("latin-1"), int.from_bytes(rid, "big", signed=True),
            int.from_bytes(status, "big"), descr)
