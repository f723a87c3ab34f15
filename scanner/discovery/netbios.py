"""NetBIOS names of the live hosts: one node-status (NBSTAT) query each, no credentials.

A Windows PC or a Samba server running nmbd answers a node-status request for the wildcard name
``*`` (RFC 1002 section 4.2.17, reply section 4.2.18) with the table of NetBIOS names it has
registered: the computer name (suffix 0x00, unique), the file-server name (suffix 0x20) and the
workgroup or domain (suffix 0x00, group). The query goes to UDP 137 of each live address, which
discovery found inside the declared scope (the engine's scope guard refuses any other). All
queries leave one socket at once and the replies are read until a total deadline, so the step
costs at most ``TOTAL_SECONDS`` however many hosts stay silent; a host without a name service
(no reply, or ICMP port unreachable) simply has no NetBIOS name.

Every reply is untrusted: it must come from the queried address, carry the query's transaction
id, and parse within its own length; names are cut to 15 characters and sanitised.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.models import Host, LearnedName, NameSource
from scanner.net.text import sanitize

NBNS_PORT = 137  # RFC 1002 section 4.1: NetBIOS name service
TOTAL_SECONDS = 3.0  # every node-status query of a run together
MAX_REPLY = 1500  # one datagram; a node-status reply is a few hundred bytes
MAX_DATAGRAMS = 4096  # datagrams read in one run, whatever arrives (a flood ends the step)
NBSTAT = 0x0021  # RR type NBSTAT (RFC 1002 section 4.2.1.3)
CLASS_IN = 0x0001
GROUP_FLAG = 0x8000  # NAME_FLAGS G bit (RFC 1002 section 4.2.18)
SUFFIX_WORKSTATION = 0x00
SUFFIX_SERVER = 0x20
LIVE_BY = frozenset({"arp", "tcp-ping", "icmp", "nmap"})  # Host.discovered_by: it answered discovery


@dataclass(frozen=True)
class NodeStatus:
    """What a node-status reply says about a host."""

    computer: str | None  # the unique 0x00 name, else the 0x20 server name
    workgroup: str | None  # the group 0x00 name


def _encode_wildcard() -> bytes:
    """The first-level encoding (RFC 1001 section 14.1) of ``*`` padded with NULs to 16 bytes."""
    raw = b"*" + b"\x00" * 15
    encoded = bytes(c for b in raw for c in (ord("A") + (b >> 4), ord("A") + (b & 0x0F)))
    return bytes([32]) + encoded + b"\x00"


def node_status_request(transaction_id: int) -> bytes:
    """An NBSTAT request (RFC 1002 section 4.2.17): one question, no recursion, unicast."""
    header = struct.pack("!HHHHHH", transaction_id, 0x0000, 1, 0, 0, 0)
    return header + _encode_wildcard() + struct.pack("!HH", NBSTAT, CLASS_IN)


def _skip_name(data: bytes, offset: int) -> int:
    """The offset after an encoded name (labels, or a compression pointer); ValueError if cut."""
    for _ in range(64):  # labels of a NetBIOS name: bounded whatever the reply claims
        if offset >= len(data):
            raise ValueError("name runs past the reply")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length
    raise ValueError("too many labels")


def _clean(raw: bytes) -> str | None:
    """A name of the table, or None when it holds anything but printable characters."""
    text = raw.decode("latin-1").rstrip(" \x00")
    return sanitize(text, limit=15) if text and text.isprintable() else None


def parse_node_status(data: bytes, transaction_id: int) -> NodeStatus | None:
    """The names of a node-status reply, or None when it is not one (wrong id, cut, malformed)."""
    try:
        if len(data) < 12:
            return None
        tid, flags, _qd, answers, _ns, _ar = struct.unpack_from("!HHHHHH", data, 0)
        if tid != transaction_id or not flags & 0x8000 or answers < 1:
            return None  # not our reply, not a response, or no answer record
        offset = _skip_name(data, 12)
        rr_type, _rr_class, _ttl, rd_length = struct.unpack_from("!HHIH", data, offset)
        offset += 10
        if rr_type != NBSTAT or offset + rd_length > len(data) or rd_length < 1:
            return None
        count = data[offset]
        offset += 1
        if 1 + count * 18 > rd_length:
            return None
        workstation = server = workgroup = None
        for i in range(count):
            entry = data[offset + i * 18: offset + (i + 1) * 18]
            name, suffix, name_flags = entry[:15], entry[15], struct.unpack("!H", entry[16:18])[0]
            text = _clean(name)
            if text is None:
                continue
            group = bool(name_flags & GROUP_FLAG)
            if suffix == SUFFIX_WORKSTATION and not group and workstation is None:
                workstation = text
            elif suffix == SUFFIX_SERVER and not group and server is None:
                server = text
            elif suffix == SUFFIX_WORKSTATION and group and workgroup is None:
                workgroup = text
    except (struct.error, ValueError, IndexError):
        return None
    computer = workstation or server
    if computer is None and workgroup is None:
        return None
    return NodeStatus(computer=computer, workgroup=workgroup)


def _query_all(addresses: Sequence[str], total: float) -> dict[str, NodeStatus]:
    """Send one node-status request to each address, read replies until the deadline."""
    found: dict[str, NodeStatus] = {}
    by_family: dict[int, list[str]] = {}
    for address in addresses:
        by_family.setdefault(socket.AF_INET6 if ":" in address else socket.AF_INET, []).append(address)
    # NetBIOS over TCP/IP is IPv4 only (RFC 1001); IPv6 hosts are not asked.
    targets = by_family.get(socket.AF_INET, [])
    if not targets:
        return found
    deadline = time.monotonic() + total
    expected: dict[str, int] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for address in targets:
            tid = int.from_bytes(os.urandom(2), "big")
            try:
                sock.sendto(node_status_request(tid), (address, NBNS_PORT))
            except OSError:
                continue  # unreachable now: no name, not an error
            expected[address] = tid
        read = 0
        while len(found) < len(expected) and read < MAX_DATAGRAMS:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([sock], [], [], remaining)
            if not ready:
                break
            try:
                data, peer = sock.recvfrom(MAX_REPLY)
            except OSError:
                read += 1  # an ICMP port unreachable surfaces here on Linux: that host has no nmbd
                continue
            read += 1
            address = peer[0]
            if address not in expected or address in found:
                continue  # only the queried addresses are believed, once each
            status = parse_node_status(data, expected[address])
            if status is not None:
                found[address] = status
    return found


def netbios_names(hosts: Sequence[Host], *, total: float = TOTAL_SECONDS) -> tuple[tuple[Host, ...], str | None]:
    """The hosts with their NetBIOS computer name and workgroup added, and a note for the run."""
    # Only addresses discovery saw answer (ARP, a TCP ping, ICMP, nmap): a listed-only address
    # was never proven live, and a host from elsewhere (a fake discovery) is not ours to ask.
    asked = [h.address for h in hosts if h.discovered_by in LIVE_BY]
    if not asked or total <= 0:
        return tuple(hosts), None
    found = _query_all(asked, total)
    out = []
    for host in hosts:
        status = found.get(host.address)
        if status is not None:
            update: dict[str, object] = {}
            if status.computer:
                learned = LearnedName(name=status.computer, source=NameSource.NETBIOS)
                update["learned_names"] = (*host.learned_names, learned)
            if status.workgroup:
                update["workgroup"] = status.workgroup
            host = host.model_copy(update=update)
        out.append(host)
    note = f"NetBIOS node status (UDP {NBNS_PORT}): {len(found)} of {len(asked)} live address(es) answered"
    return tuple(out), note
