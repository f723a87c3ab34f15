"""mDNS names heard while the scan listens: nothing is sent.

Hosts that speak Multicast DNS (RFC 6762: printers, Macs, phones, Linux boxes with avahi) announce
their own records unsolicited when they start or change (section 8.3) and answer other machines'
queries to 224.0.0.251 / ff02::fb port 5353 where everyone on the link hears them. During the
scan's passive listening window (the same window as the LAN-sync capture, ``--listen-seconds``)
a cooked AF_PACKET socket reads the UDP datagrams to port 5353 on the scanner's interfaces, and
every A/AAAA record (``name.local -> address``) and reverse PTR record (``x.in-addr.arpa ->
name.local``) in a response is kept, but only where the address is the datagram's own sender: a
host names itself; a third machine claiming a name for someone else is not believed. Names
attach only to hosts discovery found, which are inside the declared scope.

Every datagram is untrusted: capped in size and count, parsed by dnspython (which bounds name
compression), and a name is kept only when it is printable and at most 253 characters.
Without CAP_NET_RAW nothing is heard and the run's note says so.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import dns.exception
import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.reversename

from scanner.models import Host, LearnedName, NameSource
from scanner.net.text import sanitize

MDNS_PORT = 5353
MAX_DATAGRAMS = 10_000  # per window: a flood ends the capture, not the scan
MAX_NAMES_PER_HOST = 4
MAX_NAME = 253  # RFC 1035 section 2.3.4, in text form
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def _udp_to_port(frame: bytes, port: int) -> tuple[str, bytes] | None:
    """(source address, payload) of an unfragmented IPv4/IPv6 UDP datagram to ``port``, else None."""
    if len(frame) < 28:
        return None
    if frame[0] >> 4 == 4:
        ihl = (frame[0] & 0x0F) * 4
        if frame[9] != 17 or ihl < 20 or len(frame) < ihl + 8 or struct.unpack(">H", frame[6:8])[0] & 0x3FFF:
            return None
        source, udp = socket.inet_ntop(socket.AF_INET, frame[12:16]), frame[ihl:]
    elif frame[0] >> 4 == 6 and len(frame) >= 48 and frame[6] == 17:
        source, udp = socket.inet_ntop(socket.AF_INET6, frame[8:24]), frame[40:]
    else:
        return None
    dport, length = struct.unpack(">HH", udp[2:6])
    if dport != port:
        return None
    return source, udp[8:max(8, min(length, len(udp)))]


def _clean(name: str) -> str | None:
    text = name.rstrip(".").lower()
    if not text or len(text) > MAX_NAME or not text.isprintable():
        return None
    return sanitize(text, limit=MAX_NAME)


def _skip_name(wire: bytes | bytearray, offset: int) -> int:
    for _ in range(128):  # a name has at most 127 labels; a loop of pointers cannot hold us here
        length = wire[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length
    raise ValueError("name too long")


def without_cache_flush(payload: bytes) -> bytes:
    """The message with the top bit of every class cleared: mDNS reuses it as the cache-flush bit
    of records and the unicast-response bit of questions (RFC 6762 sections 10.2, 5.4), which a
    unicast DNS parser would read as an unknown class. IndexError/ValueError if malformed."""
    wire = bytearray(payload)
    counts = struct.unpack_from("!HHHH", wire, 4)
    offset = 12
    for _ in range(counts[0]):
        offset = _skip_name(wire, offset)
        wire[offset + 2] &= 0x7F
        offset += 4
    for _ in range(sum(counts[1:])):
        offset = _skip_name(wire, offset)
        wire[offset + 2] &= 0x7F
        (rdlength,) = struct.unpack_from("!H", wire, offset + 8)
        offset += 10 + rdlength
    return bytes(wire)


def names_in_response(source: str, payload: bytes) -> list[str]:
    """The names an mDNS response from ``source`` gives that address (RFC 6762 sections 6, 8.3)."""
    try:
        message = dns.message.from_wire(without_cache_flush(payload), ignore_trailing=True)
    except (dns.exception.DNSException, ValueError, UnicodeError, IndexError, struct.error):
        return []
    if not message.flags & 0x8000:  # QR: queries carry no answers worth believing
        return []
    try:
        own = ipaddress.ip_address(source)
    except ValueError:
        return []
    found: list[str] = []
    for rrset in (*message.answer, *message.additional):
        if rrset.rdclass != dns.rdataclass.IN:
            continue
        for rdata in rrset:
            name: str | None = None
            if rdata.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                if ipaddress.ip_address(rdata.address) == own:
                    name = rrset.name.to_text()
            elif rdata.rdtype == dns.rdatatype.PTR:
                try:
                    address = dns.reversename.to_address(rrset.name)
                except (dns.exception.DNSException, ValueError):
                    continue  # a service PTR (_http._tcp.local), not a reverse name
                if ipaddress.ip_address(address) == own:
                    name = rdata.target.to_text()
            cleaned = _clean(name) if name else None
            if cleaned and cleaned not in found:
                found.append(cleaned)
    return found


@dataclass
class MdnsListener:
    """One listening window in a thread of its own; ``names()`` once it has ended."""

    seconds: float
    heard: dict[str, list[str]] = field(default_factory=dict)
    denied: str = ""
    datagrams: int = 0
    _thread: threading.Thread | None = None
    _open: threading.Event = field(default_factory=threading.Event)

    def start(self) -> MdnsListener:
        """Start the window; return once the capture socket is open (or a second has passed)."""
        if self.seconds > 0:
            self._thread = threading.Thread(target=self._capture, name="listen-mdns", daemon=True)
            self._thread.start()
            self._open.wait(1.0)
        return self

    def _capture(self) -> None:
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        except PermissionError as exc:
            self.denied = f"no raw socket: {exc.strerror}"
            self._open.set()
            return
        self._open.set()
        with sock:
            deadline = time.monotonic() + self.seconds
            while (remaining := deadline - time.monotonic()) > 0 and self.datagrams < MAX_DATAGRAMS:
                sock.settimeout(min(remaining, 1.0))
                try:
                    frame, addr = sock.recvfrom(65535)
                except (TimeoutError, OSError):
                    continue
                if addr[2] == PACKET_OUTGOING or addr[1] not in (0x0800, 0x86DD):
                    continue
                datagram = _udp_to_port(frame, MDNS_PORT)
                if datagram is None:
                    continue
                self.datagrams += 1
                source, payload = datagram
                names = self.heard.setdefault(source, [])
                for name in names_in_response(source, payload):
                    if name not in names and len(names) < MAX_NAMES_PER_HOST:
                        names.append(name)

    def finish(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds for the window to end; False if it has not."""
        if self._thread is None:
            return True
        self._thread.join(max(0.0, wait))
        return not self._thread.is_alive()


def mdns_names(hosts: Sequence[Host], listener: MdnsListener | None, *,
               wait: float = 2.0) -> tuple[tuple[Host, ...], str | None]:
    """The hosts with the .local names they announced added, and a note for the run (or None)."""
    if listener is None or listener.seconds <= 0 or not hosts:
        return tuple(hosts), None
    if not listener.finish(wait):
        return tuple(hosts), "mDNS: the listening window had not ended; no names taken from it"
    if listener.denied:
        return tuple(hosts), f"mDNS not heard ({listener.denied})"
    heard = {str(ipaddress.ip_address(a)): n for a, n in dict(listener.heard).items() if n}
    out, named = [], 0
    for host in hosts:
        names = heard.get(str(ipaddress.ip_address(host.address)), [])
        if names:
            named += 1
            learned = tuple(LearnedName(name=n, source=NameSource.MDNS) for n in names)
            host = host.model_copy(update={"learned_names": (*host.learned_names, *learned)})
        out.append(host)
    return tuple(out), (f"mDNS heard passively for {listener.seconds:.0f} s: {named} of {len(hosts)} "
                        f"live address(es) named ({listener.datagrams} datagram(s) to UDP {MDNS_PORT})")
