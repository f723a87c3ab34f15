"""MySQL/MariaDB client/server protocol: just enough to read a server's greeting and to ask for a
cleartext login for a made-up user. Pure encode/parse, no I/O (the probe is mysql_probe.py).

References (MySQL Client/Server Protocol, dev.mysql.com/doc/dev/mysql-server/latest/):
"MySQL Packets" (3-byte little-endian payload length, 1-byte sequence id), "Protocol::HandshakeV10",
"Protocol::HandshakeResponse41", "Capabilities Flags" (CLIENT_SSL = 0x800), "ERR_Packet",
"OK_Packet", "Protocol::AuthSwitchRequest", "Protocol::AuthMoreData". MariaDB KB "Connection"
(server_version prefixed with "5.5.5-"; the last 4 reserved greeting bytes carry MariaDB's
extended capabilities when CLIENT_MYSQL, bit 0, is clear).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from scanner.errors import ProtocolError

CLIENT_LONG_PASSWORD = 0x00000001  # MariaDB calls this bit CLIENT_MYSQL
CLIENT_SSL = 0x00000800
CLIENT_PROTOCOL_41 = 0x00000200
CLIENT_SECURE_CONNECTION = 0x00008000
CLIENT_PLUGIN_AUTH = 0x00080000
HEADER_LEN = 4
MAX_PAYLOAD = 0xFFFFFF
MARIADB_PREFIX = "5.5.5-"  # MariaDB KB: kept so that old replication clients accept a 10.x server
# The client flags of our HandshakeResponse41: protocol 4.1, a 1-byte auth response length, a
# plugin name. CLIENT_SSL is deliberately absent: the whole point is to ask in cleartext.
PROBE_CAPABILITIES = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
UTF8MB4_GENERAL_CI = 45


@dataclass(frozen=True)
class ServerError:
    """An ERR_Packet: 0xff, error code, optional '#' + 5-character SQL state, message."""

    code: int
    sql_state: str
    message: str


@dataclass(frozen=True)
class Greeting:
    """The fields of Protocol::HandshakeV10 that say something about transport security."""

    protocol_version: int
    server_version: str
    connection_id: int
    capabilities: int  # lower and upper 16 bits joined
    character_set: int
    status_flags: int
    auth_plugin: str

    @property
    def tls_available(self) -> bool:
        return bool(self.capabilities & CLIENT_SSL)

    @property
    def speaks_41(self) -> bool:
        return bool(self.capabilities & CLIENT_PROTOCOL_41) and bool(self.capabilities & CLIENT_SECURE_CONNECTION)

    @property
    def product(self) -> str:
        return "MariaDB" if "mariadb" in self.server_version.lower() else "MySQL"

    @property
    def version(self) -> str:
        """The server version without MariaDB's replication-compatibility prefix."""
        v = self.server_version
        return v[len(MARIADB_PREFIX):] if v.startswith(MARIADB_PREFIX) and "mariadb" in v.lower() else v


@dataclass(frozen=True)
class LoginReply:
    """The server's first answer to a HandshakeResponse41: ``kind`` is "ok", "error",
    "auth_switch" (it wants another authentication method) or "auth_more_data"."""

    kind: str
    error: ServerError | None = None
    auth_plugin: str = ""


def packet_length(header: bytes) -> tuple[int, int]:
    """(payload length, sequence id) from a 4-byte packet header."""
    if len(header) != HEADER_LEN:
        raise ProtocolError(f"MySQL: packet header of {len(header)} bytes, not 4")
    return int.from_bytes(header[:3], "little"), header[3]


def split_packet(data: bytes) -> tuple[int, bytes]:
    """(sequence id, payload) of one whole packet; ProtocolError when truncated or followed by junk."""
    length, seq = packet_length(data[:HEADER_LEN])
    payload = data[HEADER_LEN:]
    if len(payload) != length:
        raise ProtocolError(f"MySQL: packet announces {length} payload bytes, got {len(payload)}")
    return seq, payload


def encode_packet(seq: int, payload: bytes) -> bytes:
    if len(payload) >= MAX_PAYLOAD:
        raise ValueError("payload too long for one packet")
    return len(payload).to_bytes(3, "little") + bytes([seq & 0xFF]) + payload


def _cstring(payload: bytes, start: int, what: str, *, allow_eof: bool = False) -> tuple[str, int]:
    end = payload.find(b"\x00", start)
    if end < 0:
        if not allow_eof:
            raise ProtocolError(f"MySQL: {what} is not NUL-terminated")
        end = len(payload)  # MySQL 5.5.7-5.5.9 sent the plugin name without its NUL
    return payload[start:end].decode("utf-8", "replace"), end + 1


def parse_error(payload: bytes) -> ServerError:
    """ERR_Packet. The SQL state marker '#' is absent in errors sent before the handshake
    (e.g. 1130 "Host ... is not allowed to connect"), present after it."""
    if len(payload) < 3 or payload[0] != 0xFF:
        raise ProtocolError("MySQL: not an ERR packet")
    code = struct.unpack_from("<H", payload, 1)[0]
    rest = payload[3:]
    state = ""
    if rest[:1] == b"#" and len(rest) >= 6:
        state, rest = rest[1:6].decode("ascii", "replace"), rest[6:]
    return ServerError(code, state, rest.decode("utf-8", "replace"))


def parse_greeting(payload: bytes) -> Greeting | ServerError:
    """The server's first packet: a HandshakeV10, or an ERR packet when it refuses the client
    outright (too many connections, host not allowed, host blocked)."""
    if not payload:
        raise ProtocolError("MySQL: empty greeting")
    if payload[0] == 0xFF:
        return parse_error(payload)
    if payload[0] != 10:
        raise ProtocolError(f"MySQL: greeting protocol version {payload[0]}, not 10 (HandshakeV10)")
    version, pos = _cstring(payload, 1, "server version")
    # connection id (4), auth-plugin-data-part-1 (8), filler (1), capability flags lower (2)
    if len(payload) < pos + 15:
        raise ProtocolError("MySQL: greeting truncated before the capability flags")
    connection_id = struct.unpack_from("<I", payload, pos)[0]
    if payload[pos + 12] != 0:
        raise ProtocolError("MySQL: greeting filler byte after the scramble is not 0")
    lower = struct.unpack_from("<H", payload, pos + 13)[0]
    pos += 15
    if len(payload) == pos:  # HandshakeV10 may end here: no character set, status or upper flags
        return Greeting(10, version, connection_id, lower, 0, 0, "")
    # character set (1), status flags (2), capability flags upper (2), auth data length (1), reserved (10)
    if len(payload) < pos + 16:
        raise ProtocolError("MySQL: greeting truncated in the character set/status/upper flags")
    charset, status, upper, auth_len = struct.unpack_from("<BHHB", payload, pos)
    capabilities = lower | (upper << 16)
    pos += 16
    if capabilities & CLIENT_SECURE_CONNECTION:
        part2 = max(13, auth_len - 8)
        if len(payload) < pos + part2:
            raise ProtocolError("MySQL: greeting truncated in auth-plugin-data-part-2")
        pos += part2
    plugin = ""
    if capabilities & CLIENT_PLUGIN_AUTH and pos < len(payload):
        plugin, _ = _cstring(payload, pos, "auth plugin name", allow_eof=True)
    return Greeting(10, version, connection_id, capabilities, charset, status, plugin)


def handshake_response(user: str, plugin: str = "mysql_native_password") -> bytes:
    """A whole HandshakeResponse41 packet (sequence id 1) for ``user`` with an EMPTY auth
    response: no password, not even a scrambled one, is ever sent."""
    payload = (struct.pack("<IIB", PROBE_CAPABILITIES, MAX_PAYLOAD, UTF8MB4_GENERAL_CI) + b"\x00" * 23
               + user.encode() + b"\x00"
               + b"\x00"  # CLIENT_SECURE_CONNECTION: 1-byte auth response length, here 0
               + plugin.encode() + b"\x00")
    return encode_packet(1, payload)


def parse_login_reply(payload: bytes) -> LoginReply:
    """The first server packet after a HandshakeResponse41 (MySQL docs, "Connection Phase")."""
    if not payload:
        raise ProtocolError("MySQL: empty reply to the handshake response")
    head = payload[0]
    if head == 0xFF:
        return LoginReply("error", error=parse_error(payload))
    if head == 0x00 and len(payload) >= 7:
        return LoginReply("ok")
    if head == 0xFE:
        plugin, _ = _cstring(payload, 1, "auth switch plugin name", allow_eof=True)
        return LoginReply("auth_switch", auth_plugin=plugin)
    if head == 0x01:
        return LoginReply("auth_more_data")
    raise ProtocolError(f"MySQL: unexpected reply 0x{head:02x} to the handshake response")
