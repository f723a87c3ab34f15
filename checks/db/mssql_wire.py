"""Microsoft SQL Server's TDS PRELOGIN exchange ([MS-TDS] 2.2.6.5 PRELOGIN, 2.2.3.1 packet header).

Only what judging encryption needs: build a PRELOGIN request and read the server's PRELOGIN
response (its option table and the ENCRYPTION byte). No login is ever built here.

A TDS packet is an 8-byte header (type, status, length big-endian including the header, SPID,
packet id, window) and a payload. The PRELOGIN payload is a table of options, each
(token 1 byte, offset 2 bytes BE, length 2 bytes BE) with offsets counted from the start of the
payload, ended by 0xFF, followed by the option data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PACKET_PRELOGIN = 0x12  # [MS-TDS] 2.2.3.1.1: pre-login message
PACKET_TABULAR_RESULT = 0x04  # the server's reply to a PRELOGIN
STATUS_EOM = 0x01  # end of message
HEADER_LEN = 8
MAX_RESPONSE = 4096  # a PRELOGIN response is a few dozen bytes

TOKEN_VERSION, TOKEN_ENCRYPTION, TOKEN_INSTOPT, TOKEN_THREADID, TOKEN_MARS = 0x00, 0x01, 0x02, 0x03, 0x04
TOKEN_TERMINATOR = 0xFF

# ENCRYPTION values ([MS-TDS] 2.2.6.5): the low bits; 0x80 (ENCRYPT_CLIENT_CERT) may be added.
ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0x00, 0x01, 0x02, 0x03
ENCRYPT_CLIENT_CERT = 0x80
ENCRYPTION_NAMES = {ENCRYPT_OFF: "ENCRYPT_OFF", ENCRYPT_ON: "ENCRYPT_ON", ENCRYPT_NOT_SUP: "ENCRYPT_NOT_SUP",
                    ENCRYPT_REQ: "ENCRYPT_REQ"}


class TdsError(ValueError):
    """Bytes that are not a well-formed TDS PRELOGIN response."""


def prelogin_request(encryption: int = ENCRYPT_OFF) -> bytes:
    """A PRELOGIN packet offering VERSION (zeros: a client, not a product), ENCRYPTION and
    THREADID. We say ENCRYPT_OFF ("I can encrypt, I do not ask for it") so that the server's
    answer shows its own policy: ENCRYPT_REQ when it requires encryption, ENCRYPT_OFF when it
    would encrypt only the login, ENCRYPT_NOT_SUP when it cannot encrypt at all."""
    options = [(TOKEN_VERSION, bytes(6)), (TOKEN_ENCRYPTION, bytes([encryption])), (TOKEN_THREADID, bytes(4))]
    table_len = 5 * len(options) + 1
    table, data = b"", b""
    for token, value in options:
        table += struct.pack(">BHH", token, table_len + len(data), len(value))
        data += value
    payload = table + bytes([TOKEN_TERMINATOR]) + data
    return struct.pack(">BBHHBB", PACKET_PRELOGIN, STATUS_EOM, HEADER_LEN + len(payload), 0, 1, 0) + payload


def packet_length(header: bytes) -> tuple[int, int]:
    """(packet type, payload length) from an 8-byte header."""
    if len(header) != HEADER_LEN:
        raise TdsError("short TDS header")
    kind, _status, length = struct.unpack(">BBH", header[:4])
    if length < HEADER_LEN or length > MAX_RESPONSE:
        raise TdsError(f"implausible TDS packet length {length}")
    return kind, length - HEADER_LEN


@dataclass(frozen=True)
class PreloginResponse:
    """The server's PRELOGIN answer."""

    encryption: int  # the ENCRYPTION byte as sent (client-cert bit included)
    version: str | None  # the server's VERSION option: major.minor.build[.subbuild]
    options: tuple[int, ...]  # the option tokens present, in order

    @property
    def encryption_value(self) -> int:
        return self.encryption & ~ENCRYPT_CLIENT_CERT

    @property
    def encryption_name(self) -> str:
        name = ENCRYPTION_NAMES.get(self.encryption_value, f"unknown 0x{self.encryption_value:02x}")
        return name + ("+ENCRYPT_CLIENT_CERT" if self.encryption & ENCRYPT_CLIENT_CERT else "")


def parse_prelogin_response(kind: int, payload: bytes) -> PreloginResponse:
    """Read the option table; every offset and length is checked against the payload."""
    if kind != PACKET_TABULAR_RESULT:
        raise TdsError(f"TDS packet type 0x{kind:02x}, not a PRELOGIN response (0x04)")
    options: dict[int, bytes] = {}
    order: list[int] = []
    pos = 0
    while True:
        if pos >= len(payload):
            raise TdsError("PRELOGIN option table without its 0xFF terminator")
        token = payload[pos]
        if token == TOKEN_TERMINATOR:
            break
        if pos + 5 > len(payload):
            raise TdsError("PRELOGIN option entry cut short")
        offset, length = struct.unpack(">HH", payload[pos + 1: pos + 5])
        if offset + length > len(payload):
            raise TdsError(f"PRELOGIN option 0x{token:02x} points past the payload")
        if token in options:
            raise TdsError(f"PRELOGIN option 0x{token:02x} given twice")
        options[token] = payload[offset: offset + length]
        order.append(token)
        pos += 5
    encryption = options.get(TOKEN_ENCRYPTION)
    if encryption is None or len(encryption) != 1:
        raise TdsError("PRELOGIN response without a one-byte ENCRYPTION option")
    version = None
    raw = options.get(TOKEN_VERSION)
    if raw is not None and len(raw) == 6:
        major, minor, build, sub = raw[0], raw[1], struct.unpack(">H", raw[2:4])[0], struct.unpack("<H", raw[4:6])[0]
        version = f"{major}.{minor}.{build}" + (f".{sub}" if sub else "")
    return PreloginResponse(encryption=encryption[0], version=version, options=tuple(order))
