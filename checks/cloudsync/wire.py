"""The discovery datagrams on the wire: IPv4/IPv6 UDP frames and the announcement payloads.

Pure parsing of hostile bytes, no I/O: Syncthing local discovery (a 4-byte magic 0x2EA7D90B then
the protobuf ``Announce {bytes id = 1; repeated string addresses = 2; int64 instance_id = 3}``,
Syncthing's "Local Discovery Protocol v4" page) and Dropbox LAN sync (a JSON object with host_int,
version, displayname, port and namespaces). Anything malformed raises ``AnnouncementError``;
nothing is trusted beyond ``MAX_PAYLOAD`` bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
from dataclasses import dataclass
from typing import Any

from scanner.net.text import sanitize

SYNCTHING_MAGIC = 0x2EA7D90B
MAX_PAYLOAD = 4096  # real announcements are a few hundred bytes; anything larger is ignored


class AnnouncementError(ValueError):
    """A datagram on a discovery port that is not a well-formed announcement."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise AnnouncementError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def parse_syncthing(payload: bytes) -> tuple[bytes, tuple[str, ...]]:
    """(device id bytes, addresses) of a Syncthing local discovery v2 packet."""
    if len(payload) > MAX_PAYLOAD:
        raise AnnouncementError("oversized")
    if len(payload) < 4 or struct.unpack(">I", payload[:4])[0] != SYNCTHING_MAGIC:
        raise AnnouncementError("wrong magic")
    data, pos = payload[4:], 0
    device = b""
    addresses: list[str] = []
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise AnnouncementError("truncated field")
            value, pos = data[pos:pos + length], pos + length
            if number == 1:
                device = value
            elif number == 2 and len(addresses) < 32:
                addresses.append(sanitize(value.decode("utf-8", "replace"), 120))
        else:
            raise AnnouncementError(f"wire type {wire}")
        if pos > len(data):
            raise AnnouncementError("truncated field")
    if len(device) != 32:
        raise AnnouncementError("no 32-byte device id")
    return device, tuple(addresses)


def short_device_id(device: bytes) -> str:
    """The first group of Syncthing's device id (base32 of the SHA-256 of its certificate)."""
    return base64.b32encode(device).decode()[:7]


def short_hash(values: Any) -> str:
    return hashlib.sha256(repr(values).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class DropboxAnnouncement:
    host_hash: str  # short hash of host_int
    version: str
    displayname: str
    port: int | None
    namespace_count: int
    namespaces_hash: str  # short hash of the sorted namespace ids: never the ids themselves


def parse_dropbox(payload: bytes) -> DropboxAnnouncement:
    if len(payload) > MAX_PAYLOAD:
        raise AnnouncementError("oversized")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise AnnouncementError("not JSON") from exc
    if not isinstance(doc, dict) or "host_int" not in doc or not isinstance(doc.get("namespaces"), list):
        raise AnnouncementError("not a Dropbox LAN sync announcement")
    namespaces = sorted({n for n in doc["namespaces"] if isinstance(n, int) and not isinstance(n, bool)})
    version = doc.get("version")
    if isinstance(version, list):
        version = ".".join(str(v) for v in version[:4] if isinstance(v, int))
    port = doc.get("port")
    return DropboxAnnouncement(
        host_hash=short_hash(doc["host_int"]),
        version=sanitize(str(version or ""), 20),
        displayname=sanitize(str(doc.get("displayname") or ""), 60),
        port=port if isinstance(port, int) and 0 < port < 65536 else None,
        namespace_count=len(namespaces),
        namespaces_hash=short_hash(namespaces),
    )


Datagram = tuple[str, str, int, bytes]  # (source, destination address, destination port, payload)


def parse_ip_udp(frame: bytes) -> Datagram | None:
    """(source, destination, destination port, payload) of an IPv4/IPv6 UDP packet, else None."""
    if len(frame) < 28:
        return None
    if frame[0] >> 4 == 4:
        ihl = (frame[0] & 0x0F) * 4
        if frame[9] != 17 or ihl < 20 or len(frame) < ihl + 8 or struct.unpack(">H", frame[6:8])[0] & 0x3FFF:
            return None  # not UDP, or a fragment
        src, dst = socket.inet_ntop(socket.AF_INET, frame[12:16]), socket.inet_ntop(socket.AF_INET, frame[16:20])
        udp = frame[ihl:]
    elif frame[0] >> 4 == 6 and len(frame) >= 48 and frame[6] == 17:
        # Only a UDP header right after the fixed IPv6 header (Syncthing's multicast has no
        # extension headers); anything else is not ours to guess at.
        src, dst = socket.inet_ntop(socket.AF_INET6, frame[8:24]), socket.inet_ntop(socket.AF_INET6, frame[24:40])
        udp = frame[40:]
    else:
        return None
    dport, length = struct.unpack(">HH", udp[2:6])
    return src, dst, dport, udp[8:max(8, min(length, len(udp)))]
