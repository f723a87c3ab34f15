"""What discovery says first to a service that waits for its client, and how the answer names it.

A server that greets (SSH, SMTP, FTP, POP3, IMAP, VNC, MySQL, Telnet) names itself; one that
waits for the client does not, so each protocol the checks judge gets a first message that its
servers must answer in their own protocol, and a test of that answer. Each message is the
protocol's own opening move, harmless and credential-free:

- SMB (``smb``, 445): an SMB1 NEGOTIATE offering "NT LM 0.12" and the SMB2 wildcard dialects
  (MS-SMB2 §3.3.5.3.1: an SMB2 server answers it with an SMB2 NEGOTIATE response, an SMB1-only
  one in SMB1), over NetBIOS session framing (RFC 1002 §4.3.1 / MS-SMB2 §2.1).
- NetBIOS session service (``netbios-ssn``, 139): a SESSION REQUEST to "*SMBSERVER" (RFC 1002
  §4.3.2); a positive (0x82) or negative (0x83) SESSION RESPONSE both prove the service.
- RDP (``rdp``, 3389): an X.224 Connection Request with an RDP Negotiation Request for TLS and
  CredSSP (MS-RDPBCGR §2.2.1.1); the answer is an X.224 Connection Confirm in a TPKT (RFC 1006).
- PostgreSQL (``postgresql``, 5432): an SSLRequest (PostgreSQL protocol §55.2.10); the server
  answers one byte, "S" or "N", or an ErrorResponse.
- HTTP: a HEAD request (RFC 9110 §9.3.2); the answer starts with a status line.

Matchers look at the first bytes only; anything else is left to the generic classifiers.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from scanner.discovery.banners import is_http_response


@dataclass(frozen=True)
class HelloProbe:
    name: str  # the routing name it confirms
    payload: bytes
    matches: Callable[[bytes], bool]


def _nbss(message: bytes) -> bytes:
    """NetBIOS session message framing: type 0, 24-bit length (RFC 1002 §4.3.1)."""
    return b"\x00" + len(message).to_bytes(3, "big") + message


def smb_negotiate() -> bytes:
    dialects = b"".join(b"\x02" + d + b"\x00" for d in (b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???"))
    header = (b"\xffSMB" + b"\x72"  # SMB_COM_NEGOTIATE
              + b"\x00\x00\x00\x00"  # status
              + b"\x18"  # flags: case-insensitive paths, canonicalized
              + struct.pack("<H", 0xC853)  # flags2: unicode, NT status, extended security, long names
              + b"\x00" * 12  # PID high, security features, reserved
              + struct.pack("<HHHH", 0xFFFF, 0xFEFF, 0, 0))  # TID, PID, UID, MID
    return _nbss(header + b"\x00" + struct.pack("<H", len(dialects)) + dialects)


def is_smb_answer(raw: bytes) -> bool:
    return len(raw) >= 8 and raw[0] == 0 and raw[4:8] in (b"\xfeSMB", b"\xffSMB")


def _netbios_name(name: str, suffix: int) -> bytes:
    """First-level encoding of a NetBIOS name (RFC 1001 §14.1): 16 bytes, each as two letters."""
    raw = name.upper().ljust(15)[:15].encode("ascii") + bytes([suffix])
    encoded = b"".join(bytes([0x41 + (b >> 4), 0x41 + (b & 0x0F)]) for b in raw)
    return b"\x20" + encoded + b"\x00"


def nbss_session_request() -> bytes:
    body = _netbios_name("*SMBSERVER", 0x20) + _netbios_name("GAPSCAN", 0x00)
    return b"\x81\x00" + len(body).to_bytes(2, "big") + body


def is_nbss_answer(raw: bytes) -> bool:
    return len(raw) >= 4 and raw[0] in (0x82, 0x83, 0x84) and raw[1] == 0


def rdp_connection_request() -> bytes:
    negotiation = b"\x01\x00\x08\x00" + struct.pack("<I", 0x00000003)  # RDP_NEG_REQ: TLS | CredSSP
    x224 = bytes([6 + len(negotiation), 0xE0]) + b"\x00\x00\x00\x00\x00" + negotiation
    return b"\x03\x00" + struct.pack(">H", 4 + len(x224)) + x224


def is_rdp_answer(raw: bytes) -> bool:
    # TPKT version 3, then an X.224 Connection Confirm (0xD0) TPDU.
    return len(raw) >= 6 and raw[0] == 3 and raw[1] == 0 and (raw[5] & 0xF0) == 0xD0


POSTGRES_SSL_REQUEST = struct.pack(">II", 8, 80877103)


def is_postgres_answer(raw: bytes) -> bool:
    if raw in (b"S", b"N"):
        return True
    # An ErrorResponse: 'E', int32 length, then fields such as 'S' severity (a server too old
    # for SSLRequest, or one refusing the connection).
    return len(raw) >= 6 and raw[:1] == b"E" and 8 <= int.from_bytes(raw[1:5], "big") <= 4096 and raw[5:6] in b"SVCM"


def http_head(address: str) -> bytes:
    host = f"[{address}]" if ":" in address else address
    return f"HEAD / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: gapscan\r\nAccept: */*\r\n\r\n".encode()


CLIENT_FIRST: dict[str, HelloProbe] = {
    "smb": HelloProbe("smb", smb_negotiate(), is_smb_answer),
    "netbios-ssn": HelloProbe("netbios-ssn", nbss_session_request(), is_nbss_answer),
    "rdp": HelloProbe("rdp", rdp_connection_request(), is_rdp_answer),
    "postgresql": HelloProbe("postgresql", POSTGRES_SSL_REQUEST, is_postgres_answer),
}
__all__ = ["CLIENT_FIRST", "HelloProbe", "http_head", "is_http_response"]
