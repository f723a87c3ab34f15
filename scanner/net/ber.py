"""Minimal BER (ITU-T X.690 §8) for the few ASN.1 messages gapscan sends and reads (SNMP).

Shared by discovery's UDP identification and the SNMP check, so the two never disagree on
the bytes they put on the wire.
"""

from __future__ import annotations


def tlv(tag: int, content: bytes) -> bytes:
    """Type-length-value with a definite length (short form below 128 bytes, §8.1.3)."""
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def integer(value: int) -> bytes:
    """INTEGER in the fewest two's-complement octets (§8.3)."""
    return tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def object_identifier(parts: tuple[int, ...]) -> bytes:
    """OBJECT IDENTIFIER (§8.19): first two arcs in one octet, then base-128 subidentifiers."""
    out = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        out.extend(reversed(chunk))
    return tlv(0x06, bytes(out))


def read_tlv(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, content, next position) of the TLV at ``pos`` (definite lengths only, at most 4
    length octets); ValueError when it is malformed or runs past the end of ``data``."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, length, pos = data[pos], data[pos + 1], pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad length")
        length, pos = int.from_bytes(data[pos:pos + count], "big"), pos + count
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, data[pos:pos + length], pos + length
