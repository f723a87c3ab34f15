"""Parsing of LAN-sync announcements: real bytes recorded in the lab (Debian's Syncthing 1.19.2
local discovery from 198.18.0.50; the lab's Dropbox emitter from 198.18.0.51), hostile payloads,
IPv4/IPv6 frames, Resilio's discovery group, IPv6 announcements attributed by device id."""

from __future__ import annotations

import base64
import json
import socket
import struct

import pytest

from checks.cloudsync import wire
from checks.cloudsync.listen import decode
from checks.cloudsync.wire import (
    AnnouncementError,
    parse_dropbox,
    parse_ip_udp,
    parse_syncthing,
    short_device_id,
)
from scanner.scope import targets as scope_targets

# Recorded with checks.cloudsync.listen.capture() in gs-scan (device YKY2LYL-LPVIFFZ-...).
SYNCTHING = base64.b64decode(
    "LqfZCwogwrGl4Wt9UFLmGNCCufcaxHtYYj8Foiy+aFRcC60kCv0SF3RjcDovLzE5OC4xOC4wLjUwOjIyMDAwEg90Y3A6Ly8wLjAu"
    "MC4wOjAY1tKIhIWq1e1a")
DROPBOX = base64.b64decode(
    "eyJob3N0X2ludCI6IDI5OTQxOTYxODI0MTM3NDkyMTQ2NjM5NDE4Mzc0MTA5NDUxMzAxNywgInZlcnNpb24iOiBbMiwgMF0sICJk"
    "aXNwbGF5bmFtZSI6ICIiLCAicG9ydCI6IDE3NTAwLCAibmFtZXNwYWNlcyI6IFsxMjM0NTY3ODkwLCAyMzQ1Njc4OTAxLCAzNDU2"
    "Nzg5MDEyXX0=")


def test_real_syncthing_announcement() -> None:
    device, addresses = parse_syncthing(SYNCTHING)
    assert short_device_id(device) == "YKY2LYL"  # the first group of the id Syncthing logged
    assert addresses == ("tcp://198.18.0.50:22000", "tcp://0.0.0.0:0")


def test_real_dropbox_announcement_keeps_no_namespace_id() -> None:
    ann = parse_dropbox(DROPBOX)
    assert (ann.version, ann.port, ann.namespace_count) == ("2.0", 17500, 3)
    assert len(ann.namespaces_hash) == 8
    for ns in ("1234567890", "2345678901", "3456789012", "299419618241374921466394183741094513017"):
        assert ns not in repr(ann)


@pytest.mark.parametrize("payload", [
    b"", b"\x00", b"garbage" * 10, b"\x2e\xa7\xd9\x0c" + SYNCTHING[4:],  # wrong magic
    SYNCTHING[:20],  # truncated field
    struct.pack(">I", wire.SYNCTHING_MAGIC) + b"\xff" * 12,  # endless varint
    struct.pack(">I", wire.SYNCTHING_MAGIC) + b"\x0f",  # wire type 7
    struct.pack(">I", wire.SYNCTHING_MAGIC) + b"\x0a\x03abc",  # id not 32 bytes
    SYNCTHING + b"\x0a" * wire.MAX_PAYLOAD,  # huge
])
def test_hostile_syncthing_payloads_raise(payload: bytes) -> None:
    with pytest.raises(AnnouncementError):
        parse_syncthing(payload)


@pytest.mark.parametrize("payload", [
    b"", b"\xff\xfe", b"[1, 2]", b"{}", b'{"host_int": 1, "namespaces": 5}', b"[" * 100_000,
    json.dumps({"host_int": 1, "namespaces": list(range(2000))}).encode(),  # huge
    SYNCTHING,
])
def test_hostile_dropbox_payloads_raise(payload: bytes) -> None:
    with pytest.raises(AnnouncementError):
        parse_dropbox(payload)


def test_dropbox_odd_fields_are_sanitized() -> None:
    ann = parse_dropbox(json.dumps({"host_int": "x", "namespaces": [1, True, "2", 3], "version": {"a": 1},
                                    "displayname": "\x1b[31mPC\n" + "A" * 500, "port": 99999}).encode())
    assert ann.namespace_count == 2 and ann.port is None
    assert "\x1b" not in ann.displayname and "\n" not in ann.displayname
    assert len(ann.displayname) <= 61  # 60 + an ellipsis


def _udp4(src: str, dport: int, payload: bytes, dst: str = "255.255.255.255") -> bytes:
    udp = struct.pack(">HHHH", 40000, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip + udp


def _udp6(src: str, dst: str, dport: int, payload: bytes, next_header: int = 17) -> bytes:
    udp = struct.pack(">HHHH", 40000, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">IHBB16s16s", 6 << 28, len(udp), next_header, 1,
                     socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst))
    return ip + udp


def test_ip_udp_parsing_and_garbage_frames() -> None:
    assert parse_ip_udp(_udp4("198.18.0.50", 21027, b"x" * 30)) == ("198.18.0.50", "255.255.255.255", 21027,
                                                                    b"x" * 30)
    for frame in (b"", b"\x45" * 10, b"\x60" + b"\x00" * 10, b"\x45" + b"\x00" * 60, bytes(range(64))):
        parsed = parse_ip_udp(frame)
        assert parsed is None or isinstance(parsed[3], bytes)


def test_ipv6_multicast_frame_is_parsed_and_extension_headers_are_not_guessed() -> None:
    frame = _udp6("fe80::1", "ff12::8384", 21027, SYNCTHING)
    assert parse_ip_udp(frame) == ("fe80::1", "ff12::8384", 21027, SYNCTHING)
    assert parse_ip_udp(_udp6("fe80::1", "ff12::8384", 21027, SYNCTHING, next_header=0)) is None  # hop-by-hop


def test_decode_aggregates_senders_counts_garbage_and_respects_scope() -> None:
    bcast = "198.18.0.255"
    captured = [("198.18.0.50", bcast, 21027, SYNCTHING)] * 2 + [("198.18.0.51", bcast, 17500, DROPBOX),
                                                                 ("198.18.0.52", bcast, 17500, b"junk"),
                                                                 ("198.18.0.53", bcast, 21027, b"\x00" * 40)]
    heard, ignored, outside = decode(captured)
    assert [(h.kind, h.sender, h.count) for h in heard] == [("dropbox", "198.18.0.51", 1),
                                                           ("syncthing", "198.18.0.50", 2)]
    assert (ignored, outside) == (2, 0)
    scope = scope_targets.build_scope(["198.18.0.0/24"], ["198.18.0.51"], allow_public=False, nameservers=(),
                                  source="test")
    heard, ignored, outside = decode(captured, scope)
    assert [h.sender for h in heard] == ["198.18.0.50"] and outside == 1


def test_resilio_is_the_documented_group_and_port_only() -> None:
    payload = b"\x00opaque"
    captured = [("198.18.0.52", "239.192.0.0", 3838, payload), ("198.18.0.52", "239.192.0.0", 3838, payload * 3),
                ("198.18.0.53", "198.18.0.255", 3838, payload),  # same port, another destination: not Resilio
                ("198.18.0.54", "239.192.0.1", 3838, payload)]
    heard, ignored, outside = decode(captured)
    assert [(h.kind, h.sender, h.count) for h in heard] == [("resilio", "198.18.0.52", 2)]
    assert heard[0].summary == {"group": "239.192.0.0:3838", "payload_decoded": False,
                                "largest_datagram": len(payload * 3)}
    assert (ignored, outside) == (0, 0)


def test_ipv6_announcement_is_attributed_to_the_ipv4_sender_with_the_same_device() -> None:
    v6 = parse_ip_udp(_udp6("fe80::9c38:f2ff:fe08:78fa", "ff12::8384", 21027, SYNCTHING))
    assert v6 is not None
    captured = [("198.18.0.50", "198.18.0.255", 21027, SYNCTHING), v6]
    scope = scope_targets.build_scope(["198.18.0.0/24"], [], allow_public=False, nameservers=(), source="test")
    heard, _, outside = decode(captured, scope)
    (sender,) = heard
    assert (sender.sender, sender.count, outside) == ("198.18.0.50", 2, 0)
    assert sender.summary["ipv6_sources"] == ["fe80::9c38:f2ff:fe08:78fa"]
    # Heard over IPv6 only: a link-local address is not in an IPv4 scope, so it is not reported.
    heard, _, outside = decode([v6], scope)
    assert heard == () and outside == 1
