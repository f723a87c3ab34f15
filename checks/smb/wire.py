"""SMB NEGOTIATE on the wire: request builders and reply parsers (pure: bytes in, facts out).

The requests are assembled from impacket's own structures (``smb3structs``, ``smb``); the
replies are read field by field so that a hostile or truncated reply becomes a
``ProtocolError`` instead of whatever a generic unpacker happens to raise.

Why not impacket's ``SMBConnection.isSigningRequired()``: impacket reports signing as required
whenever SMB 3.1.1 is negotiated, whatever the server's policy (docs/lab-notes.md). The server's real
policy is the SIGNING_REQUIRED bit of the SecurityMode field it sends (MS-SMB2 2.2.4), which we
read raw for every dialect, 3.1.1 included.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from impacket import nt_errors, smb
from impacket.smb3structs import (
    SMB2_ENCRYPTION_CAPABILITIES,
    SMB2_NEGOTIATE,
    SMB2_NEGOTIATE_SIGNING_ENABLED,
    SMB2_PREAUTH_INTEGRITY_CAPABILITIES,
    SMB2EncryptionCapabilities,
    SMB2Negotiate,
    SMB2NegotiateContext,
    SMB2Packet,
    SMB2PreAuthIntegrityCapabilities,
    SMB311ContextData,
)

from scanner.errors import ProtocolError

# MS-SMB2 2.2.3: dialect revision numbers and the names people (and nmap) use for them.
DIALECT_NAMES = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}
# Dialects whose NEGOTIATE reply shows the server's signing policy without 3.1.1 quirks.
DIALECTS_UP_TO_302 = (0x0202, 0x0210, 0x0300, 0x0302)
DIALECT_311 = 0x0311
SMB1_DIALECT = "NT LM 0.12"  # MS-CIFS 2.2.4.52: the only SMB1 dialect a modern server might accept

SMB2_MAGIC = b"\xfeSMB"
SMB1_MAGIC = b"\xffSMB"
SMB2_HEADER_LEN = 64
SMB1_HEADER_LEN = 32
# MS-SMB2 2.2.4 SecurityMode; MS-CIFS 2.2.4.52.2 SecurityMode (different bit positions).
SMB2_SIGNING_ENABLED, SMB2_SIGNING_REQUIRED = 0x01, 0x02
SMB1_SIGNING_ENABLED, SMB1_SIGNING_REQUIRED = 0x04, 0x08
NO_COMMON_DIALECT = 0xFFFF  # MS-CIFS: DialectIndex when none of the offered dialects is supported


def nt_status_name(code: int) -> str:
    """STATUS_NOT_SUPPORTED for 0xC00000BB (MS-ERREF 2.3); the hex code when unknown."""
    entry = nt_errors.ERROR_MESSAGES.get(code)
    return str(entry[0]) if entry else f"NT status {code:#010x}"


@dataclass(frozen=True)
class NegotiateReply:
    """What one NEGOTIATE exchange established. ``dialect`` None means the server refused."""

    dialect: str | None
    security_mode: int | None = None
    signing_enabled: bool | None = None
    signing_required: bool | None = None
    refusal: str = ""  # how the server said no: an NT status, "no common dialect", ...


def direct_tcp_frame(payload: bytes) -> bytes:
    """MS-SMB2 2.1 Direct TCP transport: a zero byte and a 24-bit big-endian length."""
    return struct.pack(">I", len(payload)) + payload


def smb2_negotiate_request(dialects: tuple[int, ...]) -> bytes:
    """An SMB2 NEGOTIATE request offering exactly ``dialects`` (MS-SMB2 2.2.3)."""
    body = SMB2Negotiate()
    body["SecurityMode"] = SMB2_NEGOTIATE_SIGNING_ENABLED  # a client that can sign, never demands it
    body["Capabilities"] = 0
    body["ClientGuid"] = os.urandom(16)
    body["Dialects"] = list(dialects)
    body["DialectCount"] = len(dialects)
    if DIALECT_311 in dialects:
        # 3.1.1 requires negotiate contexts (MS-SMB2 2.2.3.1); preauth integrity is mandatory.
        preauth = SMB2PreAuthIntegrityCapabilities()
        preauth["HashAlgorithmCount"] = 1
        preauth["SaltLength"] = 32
        preauth["HashAlgorithms"] = struct.pack("<H", 0x0001)  # SHA-512
        preauth["Salt"] = os.urandom(32)
        ciphers = SMB2EncryptionCapabilities()
        ciphers["CipherCount"] = 2
        ciphers["Ciphers"] = struct.pack("<HH", 0x0002, 0x0001)  # AES-128-GCM, AES-128-CCM
        encoded = []
        for ctype, data in ((SMB2_PREAUTH_INTEGRITY_CAPABILITIES, preauth.getData()),
                            (SMB2_ENCRYPTION_CAPABILITIES, ciphers.getData())):
            ctx = SMB2NegotiateContext()
            ctx["ContextType"] = ctype
            ctx["DataLength"] = len(data)
            ctx["Data"] = data
            encoded.append(ctx.getData())
        # Each context after the first starts 8-byte aligned (MS-SMB2 2.2.3.1).
        contexts = b"".join(c + b"\x00" * ((-len(c)) % 8) for c in encoded[:-1]) + encoded[-1]
        fixed_end = SMB2_HEADER_LEN + 36 + 2 * len(dialects)
        pad = (-fixed_end) % 8  # the first context is 8-byte aligned from the header's start
        ctx_data = SMB311ContextData()
        ctx_data["NegotiateContextOffset"] = fixed_end + pad
        ctx_data["NegotiateContextCount"] = 2
        body["ClientStartTime"] = ctx_data.getData()
        body["Padding"] = b"\x00" * pad
        body["NegotiateContextList"] = contexts
    packet = SMB2Packet()
    packet["Command"] = SMB2_NEGOTIATE
    packet["CreditRequestResponse"] = 1
    packet["Data"] = body.getData()
    return packet.getData()


def smb1_negotiate_request() -> bytes:
    """An SMB1 NEGOTIATE offering NT LM 0.12 only (MS-CIFS 2.2.4.52.1)."""
    packet = smb.NewSMBPacket()
    packet["Flags1"] = smb.SMB.FLAGS1_PATHCASELESS | smb.SMB.FLAGS1_CANONICALIZED_PATHS
    packet["Flags2"] = (smb.SMB.FLAGS2_NT_STATUS | smb.SMB.FLAGS2_LONG_NAMES
                        | smb.SMB.FLAGS2_EXTENDED_SECURITY | smb.SMB.FLAGS2_UNICODE)
    command = smb.SMBCommand(smb.SMB.SMB_COM_NEGOTIATE)
    command["Data"] = b"\x02" + SMB1_DIALECT.encode("ascii") + b"\x00"
    packet.addCommand(command)
    return bytes(packet.getData())


def parse_smb2_negotiate_reply(data: bytes, offered: tuple[int, ...]) -> NegotiateReply:
    """Read an SMB2 NEGOTIATE response; an NT status other than success is a refusal."""
    if len(data) < SMB2_HEADER_LEN or data[:4] != SMB2_MAGIC:
        raise ProtocolError(f"SMB2 NEGOTIATE: reply is not SMB2 (starts {data[:4]!r}, {len(data)} bytes)")
    status, command = struct.unpack_from("<IH", data, 8)
    if command != SMB2_NEGOTIATE:
        raise ProtocolError(f"SMB2 NEGOTIATE: reply is for command {command:#x}")
    if status != 0:
        return NegotiateReply(dialect=None, refusal=nt_status_name(status))
    body = data[SMB2_HEADER_LEN:]
    if len(body) < 6:
        raise ProtocolError(f"SMB2 NEGOTIATE: reply body truncated ({len(body)} bytes)")
    size, mode, revision = struct.unpack_from("<HHH", body)
    if size != 65:  # MS-SMB2 2.2.4: StructureSize MUST be 65
        raise ProtocolError(f"SMB2 NEGOTIATE: reply StructureSize {size}, expected 65")
    if revision not in offered:
        raise ProtocolError(f"SMB2 NEGOTIATE: server chose dialect {revision:#06x}, which was not offered")
    return NegotiateReply(
        dialect=DIALECT_NAMES[revision],
        security_mode=mode,
        signing_enabled=bool(mode & SMB2_SIGNING_ENABLED),
        signing_required=bool(mode & SMB2_SIGNING_REQUIRED),
    )


def parse_smb1_negotiate_reply(data: bytes) -> NegotiateReply:
    """Read the reply to an NT LM 0.12-only NEGOTIATE (MS-CIFS 2.2.4.52.2)."""
    if data[:4] == SMB2_MAGIC:
        return NegotiateReply(dialect=None, refusal="answered in SMB2 only")
    if len(data) < SMB1_HEADER_LEN + 3 or data[:4] != SMB1_MAGIC:
        raise ProtocolError(f"SMB1 NEGOTIATE: reply is not SMB1 (starts {data[:4]!r}, {len(data)} bytes)")
    command = data[4]
    (status,) = struct.unpack_from("<I", data, 5)
    if command != smb.SMB.SMB_COM_NEGOTIATE:
        raise ProtocolError(f"SMB1 NEGOTIATE: reply is for command {command:#x}")
    if status != 0:
        return NegotiateReply(dialect=None, refusal=nt_status_name(status))
    word_count = data[SMB1_HEADER_LEN]
    words = data[SMB1_HEADER_LEN + 1:SMB1_HEADER_LEN + 1 + 2 * word_count]
    if word_count < 1 or len(words) < 2 * word_count:
        raise ProtocolError(f"SMB1 NEGOTIATE: reply parameters truncated (WordCount {word_count})")
    (index,) = struct.unpack_from("<H", words)
    if index == NO_COMMON_DIALECT:
        return NegotiateReply(dialect=None, refusal="no common dialect (DialectIndex 0xFFFF)")
    if index != 0 or word_count != 17:  # NT LM 0.12 replies carry 17 words (MS-CIFS 2.2.4.52.2)
        raise ProtocolError(f"SMB1 NEGOTIATE: unexpected DialectIndex {index} / WordCount {word_count}")
    mode = words[2]
    return NegotiateReply(
        dialect=SMB1_DIALECT,
        security_mode=mode,
        signing_enabled=bool(mode & SMB1_SIGNING_ENABLED),
        signing_required=bool(mode & SMB1_SIGNING_REQUIRED),
    )
