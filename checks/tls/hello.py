"""A minimal TLS ClientHello encoder and ServerHello/Alert parser (RFC 5246 §7.4, RFC 8446 §4.1).

Python's ssl (OpenSSL 3.0 here) cannot offer SSL 3.0 at all and offers TLS 1.0/1.1 only at
security level 0, so a failed ``ssl`` handshake cannot tell "the server refuses TLS 1.0" from
"this client could not ask". To learn which versions and suites a server *accepts* no key
exchange is needed: we send a ClientHello offering exactly one version and a chosen suite list
and read the first answer. A ServerHello that echoes the offered version is acceptance; an
Alert (or a lower version, or a connection closed without a byte) is refusal; a TCP reset
proves nothing and is an error. For TLS 1.3 the version is
offered in ``supported_versions`` with one X25519 key share (any 32 bytes are a valid X25519
public value); a HelloRetryRequest is acceptance too. Written from the RFCs, no code copied.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import time
from dataclasses import dataclass

from scanner.errors import ProbeTimeout, ProtocolError, translate_os_error

VERSION_CODES: dict[str, int] = {"SSLv3": 0x0300, "TLSv1.0": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303,
                                 "TLSv1.3": 0x0304}
VERSION_NAMES = {code: name for name, code in VERSION_CODES.items()}
LEGACY = ("SSLv3", "TLSv1.0", "TLSv1.1")

# Categories below the profile floor (tls.weak_cipher fails on these) and the informational one.
WEAK_CATEGORIES = ("NULL", "EXPORT", "anonymous", "RC4", "3DES", "DES")
NO_FORWARD_SECRECY = "static-RSA"

# IANA TLS cipher suite registry: code -> (name, category). "strong" suites are offered when
# testing versions; the others are what tls.weak_cipher asks for one category at a time.
SUITES: dict[int, tuple[str, str]] = {
    0x0001: ("TLS_RSA_WITH_NULL_MD5", "NULL"),
    0x0002: ("TLS_RSA_WITH_NULL_SHA", "NULL"),
    0x003B: ("TLS_RSA_WITH_NULL_SHA256", "NULL"),
    0xC001: ("TLS_ECDH_ECDSA_WITH_NULL_SHA", "NULL"),
    0xC006: ("TLS_ECDHE_ECDSA_WITH_NULL_SHA", "NULL"),
    0xC00B: ("TLS_ECDH_RSA_WITH_NULL_SHA", "NULL"),
    0xC010: ("TLS_ECDHE_RSA_WITH_NULL_SHA", "NULL"),
    0xC015: ("TLS_ECDH_anon_WITH_NULL_SHA", "NULL"),
    0x0003: ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", "EXPORT"),
    0x0006: ("TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", "EXPORT"),
    0x0008: ("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", "EXPORT"),
    0x0011: ("TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA", "EXPORT"),
    0x0014: ("TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", "EXPORT"),
    0x0017: ("TLS_DH_anon_EXPORT_WITH_RC4_40_MD5", "EXPORT"),
    0x0019: ("TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA", "EXPORT"),
    0x0018: ("TLS_DH_anon_WITH_RC4_128_MD5", "anonymous"),
    0x001A: ("TLS_DH_anon_WITH_DES_CBC_SHA", "anonymous"),
    0x001B: ("TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", "anonymous"),
    0x0034: ("TLS_DH_anon_WITH_AES_128_CBC_SHA", "anonymous"),
    0x003A: ("TLS_DH_anon_WITH_AES_256_CBC_SHA", "anonymous"),
    0x006C: ("TLS_DH_anon_WITH_AES_128_CBC_SHA256", "anonymous"),
    0x006D: ("TLS_DH_anon_WITH_AES_256_CBC_SHA256", "anonymous"),
    0x00A6: ("TLS_DH_anon_WITH_AES_128_GCM_SHA256", "anonymous"),
    0x00A7: ("TLS_DH_anon_WITH_AES_256_GCM_SHA384", "anonymous"),
    0x0046: ("TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA", "anonymous"),
    0x0089: ("TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA", "anonymous"),
    0x009B: ("TLS_DH_anon_WITH_SEED_CBC_SHA", "anonymous"),
    0xC016: ("TLS_ECDH_anon_WITH_RC4_128_SHA", "anonymous"),
    0xC017: ("TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", "anonymous"),
    0xC018: ("TLS_ECDH_anon_WITH_AES_128_CBC_SHA", "anonymous"),
    0xC019: ("TLS_ECDH_anon_WITH_AES_256_CBC_SHA", "anonymous"),
    0x0004: ("TLS_RSA_WITH_RC4_128_MD5", "RC4"),
    0x0005: ("TLS_RSA_WITH_RC4_128_SHA", "RC4"),
    0xC002: ("TLS_ECDH_ECDSA_WITH_RC4_128_SHA", "RC4"),
    0xC007: ("TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "RC4"),
    0xC00C: ("TLS_ECDH_RSA_WITH_RC4_128_SHA", "RC4"),
    0xC011: ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", "RC4"),
    0x000A: ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "3DES"),
    0x000D: ("TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA", "3DES"),
    0x0010: ("TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA", "3DES"),
    0x0013: ("TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", "3DES"),
    0x0016: ("TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", "3DES"),
    0xC003: ("TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA", "3DES"),
    0xC008: ("TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", "3DES"),
    0xC00D: ("TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA", "3DES"),
    0xC012: ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "3DES"),
    0x0009: ("TLS_RSA_WITH_DES_CBC_SHA", "DES"),
    0x000C: ("TLS_DH_DSS_WITH_DES_CBC_SHA", "DES"),
    0x000F: ("TLS_DH_RSA_WITH_DES_CBC_SHA", "DES"),
    0x0012: ("TLS_DHE_DSS_WITH_DES_CBC_SHA", "DES"),
    0x0015: ("TLS_DHE_RSA_WITH_DES_CBC_SHA", "DES"),
    0x002F: ("TLS_RSA_WITH_AES_128_CBC_SHA", NO_FORWARD_SECRECY),
    0x0035: ("TLS_RSA_WITH_AES_256_CBC_SHA", NO_FORWARD_SECRECY),
    0x003C: ("TLS_RSA_WITH_AES_128_CBC_SHA256", NO_FORWARD_SECRECY),
    0x003D: ("TLS_RSA_WITH_AES_256_CBC_SHA256", NO_FORWARD_SECRECY),
    0x009C: ("TLS_RSA_WITH_AES_128_GCM_SHA256", NO_FORWARD_SECRECY),
    0x009D: ("TLS_RSA_WITH_AES_256_GCM_SHA384", NO_FORWARD_SECRECY),
    0x0041: ("TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", NO_FORWARD_SECRECY),
    0x0084: ("TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", NO_FORWARD_SECRECY),
    0x0096: ("TLS_RSA_WITH_SEED_CBC_SHA", NO_FORWARD_SECRECY),
    0xC09C: ("TLS_RSA_WITH_AES_128_CCM", NO_FORWARD_SECRECY),
    0xC09D: ("TLS_RSA_WITH_AES_256_CCM", NO_FORWARD_SECRECY),
    0xC02B: ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "strong"),
    0xC02C: ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "strong"),
    0xC02F: ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "strong"),
    0xC030: ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "strong"),
    0xCCA8: ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "strong"),
    0xCCA9: ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "strong"),
    0xCCAA: ("TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "strong"),
    0x009E: ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "strong"),
    0x009F: ("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "strong"),
    0xC009: ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "strong"),
    0xC00A: ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "strong"),
    0xC013: ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "strong"),
    0xC014: ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "strong"),
    0xC023: ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "strong"),
    0xC024: ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "strong"),
    0xC027: ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "strong"),
    0xC028: ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "strong"),
    0x0033: ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "strong"),
    0x0039: ("TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "strong"),
    0x0067: ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "strong"),
    0x006B: ("TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "strong"),
    0x1301: ("TLS_AES_128_GCM_SHA256", "tls13"),
    0x1302: ("TLS_AES_256_GCM_SHA384", "tls13"),
    0x1303: ("TLS_CHACHA20_POLY1305_SHA256", "tls13"),
}
TLS13_SUITES = tuple(code for code, (_, cat) in SUITES.items() if cat == "tls13")
PRE13_SUITES = tuple(code for code, (_, cat) in SUITES.items() if cat != "tls13")


def suites_of(*categories: str) -> tuple[int, ...]:
    return tuple(code for code, (_, cat) in SUITES.items() if cat in categories)


def suite_name(code: int) -> str:
    return SUITES.get(code, (f"0x{code:04X}", ""))[0]


def suite_category(code: int) -> str:
    return SUITES.get(code, ("", "unknown"))[1]


ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure",
          42: "bad_certificate", 47: "illegal_parameter", 50: "decode_error", 51: "decrypt_error",
          70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
          86: "inappropriate_fallback", 109: "missing_extension", 112: "unrecognized_name",
          120: "no_application_protocol"}
# RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello whose random is SHA-256("HelloRetryRequest").
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
MAX_RECORD = 16384 + 2048
GROUPS = (0x001D, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101)  # x25519, P-256/384/521, ffdhe2048/3072
SIG_ALGS = (0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0807, 0x0808, 0x0401, 0x0501, 0x0601,
            0x0203, 0x0201, 0x0402, 0x0202)


def _vec(data: bytes, length_bytes: int) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


def _ext(ext_type: int, body: bytes) -> bytes:
    return struct.pack("!H", ext_type) + _vec(body, 2)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def client_hello(version: str, suites: tuple[int, ...], server_name: str | None = None,
                 random: bytes | None = None) -> bytes:
    """One TLS record holding a ClientHello that offers exactly ``version`` and ``suites``."""
    code = VERSION_CODES[version]
    random = random if random is not None else os.urandom(32)
    session_id = os.urandom(32) if code >= 0x0301 else b""
    legacy_version = min(code, 0x0303)
    body = struct.pack("!H", legacy_version) + random + _vec(session_id, 1)
    body += _vec(b"".join(struct.pack("!H", s) for s in suites), 2) + _vec(b"\x00", 1)
    if code >= 0x0301:  # SSL 3.0 servers may choke on extensions; send none there
        exts = b""
        if server_name and not _is_ip(server_name):  # RFC 6066 §3: no IP literals in SNI
            name = server_name.encode("idna")
            exts += _ext(0x0000, _vec(b"\x00" + _vec(name, 2), 2))
        exts += _ext(0x000A, _vec(b"".join(struct.pack("!H", g) for g in GROUPS), 2))
        exts += _ext(0x000B, _vec(b"\x00", 1))  # ec_point_formats: uncompressed
        if code >= 0x0303:
            exts += _ext(0x000D, _vec(b"".join(struct.pack("!H", a) for a in SIG_ALGS), 2))
        exts += _ext(0xFF01, b"\x00")  # renegotiation_info, empty (RFC 5746)
        if code == 0x0304:
            exts += _ext(0x002B, _vec(struct.pack("!H", 0x0304), 1))  # supported_versions
            exts += _ext(0x002D, _vec(b"\x01", 1))  # psk_key_exchange_modes: psk_dhe_ke
            share = struct.pack("!H", 0x001D) + _vec(os.urandom(32), 2)
            exts += _ext(0x0033, _vec(share, 2))  # key_share: one X25519 value
        body += _vec(exts, 2)
    handshake = b"\x01" + _vec(body, 3)
    record_version = 0x0300 if code == 0x0300 else 0x0301
    return struct.pack("!BHH", 22, record_version, len(handshake)) + handshake


@dataclass(frozen=True)
class HelloAnswer:
    """What the server said to one ClientHello."""

    accepted: bool
    version: str | None = None  # negotiated version (ServerHello)
    cipher: int | None = None
    retry_request: bool = False  # TLS 1.3 HelloRetryRequest
    refusal: str = ""  # alert name, "lower version TLSv1.0", "connection closed"

    @property
    def cipher_name(self) -> str | None:
        return suite_name(self.cipher) if self.cipher is not None else None


def parse_server_hello(body: bytes) -> tuple[int, int, bool]:
    """(version, cipher, is HelloRetryRequest) from a ServerHello body (after its 4-byte header)."""
    if len(body) < 38:
        raise ProtocolError("TLS: ServerHello too short")
    version = struct.unpack("!H", body[:2])[0]
    random = body[2:34]
    sid_len = body[34]
    pos = 35 + sid_len
    if len(body) < pos + 3:
        raise ProtocolError("TLS: ServerHello truncated in session id / cipher suite")
    cipher = struct.unpack("!H", body[pos:pos + 2])[0]
    pos += 3  # cipher + compression method
    if len(body) >= pos + 2:
        ext_len = struct.unpack("!H", body[pos:pos + 2])[0]
        pos += 2
        end = pos + ext_len
        if end > len(body):
            raise ProtocolError("TLS: ServerHello extensions truncated")
        while pos + 4 <= end:
            ext_type, length = struct.unpack("!HH", body[pos:pos + 4])
            data = body[pos + 4:pos + 4 + length]
            if len(data) != length:
                raise ProtocolError("TLS: ServerHello extension truncated")
            if ext_type == 0x002B:
                if length != 2:
                    raise ProtocolError("TLS: malformed supported_versions in ServerHello")
                version = struct.unpack("!H", data)[0]
            pos += 4 + length
    return version, cipher, random == HRR_RANDOM


class _Reader:
    def __init__(self, sock: socket.socket, deadline: float, what: str) -> None:
        self.sock, self.deadline, self.what = sock, deadline, what

    def exactly(self, n: int, *, first: bool = False) -> bytes:
        data = b""
        while len(data) < n:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeTimeout(f"{self.what}: no complete TLS answer in time")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(n - len(data))
            except (ConnectionResetError, BrokenPipeError) as exc:
                # A reset is no TLS answer: a refusal is an alert (RFC 8446 §6.2) or a plain
                # close; a reset is also what a broken middlebox or a crashing server sends.
                raise ProtocolError(f"{self.what}: connection reset instead of a TLS answer") from exc
            except Exception as exc:
                raise translate_os_error(exc, f"{self.what} read") from exc
            if not chunk:
                if first and not data:
                    raise EOFError
                raise ProtocolError(f"{self.what}: TLS record truncated ({len(data)} of {n} bytes, then closed)")
            data += chunk
        return data


def read_answer(sock: socket.socket, offered: str, timeout: float, what: str = "TLS") -> HelloAnswer:
    """Read the server's first handshake message or alert; judge it against the offered version."""
    reader = _Reader(sock, time.monotonic() + timeout, what)
    handshake = b""
    while True:
        try:
            header = reader.exactly(5, first=not handshake)
        except EOFError:
            return HelloAnswer(False, refusal="connection closed without an answer")
        rtype, rversion, length = struct.unpack("!BHH", header)
        if rtype not in (21, 22) or rversion >> 8 != 3 or length == 0 or length > MAX_RECORD:
            raise ProtocolError(f"{what}: not a TLS handshake answer (record header {header.hex()})")
        payload = reader.exactly(length)
        if rtype == 21:
            if len(payload) < 2:
                raise ProtocolError(f"{what}: truncated TLS alert")
            return HelloAnswer(False, refusal=f"alert {ALERTS.get(payload[1], str(payload[1]))}")
        handshake += payload
        if len(handshake) >= 4:
            if handshake[0] != 2:
                raise ProtocolError(f"{what}: expected ServerHello, got handshake type {handshake[0]}")
            body_len = int.from_bytes(handshake[1:4], "big")
            if body_len > MAX_RECORD:
                raise ProtocolError(f"{what}: ServerHello of {body_len} bytes")
            if len(handshake) >= 4 + body_len:
                return _judge(handshake[4:4 + body_len], offered, what)


def _judge(body: bytes, offered: str, what: str) -> HelloAnswer:
    version, cipher, hrr = parse_server_hello(body)
    offered_code = VERSION_CODES[offered]
    if version > offered_code or version not in VERSION_NAMES:
        raise ProtocolError(f"{what}: server chose version 0x{version:04x}, above or outside what was offered")
    name = VERSION_NAMES[version]
    if version < offered_code:
        return HelloAnswer(False, version=name, refusal=f"answered with lower version {name}")
    return HelloAnswer(True, version=name, cipher=cipher, retry_request=hrr)


def ask(sock: socket.socket, version: str, suites: tuple[int, ...], timeout: float,
        server_name: str | None = None, what: str = "TLS") -> HelloAnswer:
    """Send one ClientHello on a connected (and, for STARTTLS, upgraded) socket; read the answer."""
    try:
        sock.sendall(client_hello(version, suites, server_name))
    except Exception as exc:
        raise translate_os_error(exc, f"{what} send ClientHello") from exc
    answer = read_answer(sock, version, timeout, what)
    if answer.accepted and answer.cipher not in suites and not answer.retry_request:
        raise ProtocolError(f"{what}: server chose suite 0x{answer.cipher or 0:04x}, which was not offered")
    return answer
