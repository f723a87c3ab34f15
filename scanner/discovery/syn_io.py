"""Half-open ("SYN") probes through a raw socket: the sweep's transport when running as root.

A SYN goes out; a SYN-ACK means a listener (open), a RST means none (closed), silence means a
firewall or a lost packet (RFC 9293 §3.5, §3.10.7.1). The kernel never saw a connection of ours,
so it answers the SYN-ACK with a RST itself: the handshake never completes and the daemon
behind the port never accepts, forks or logs a connection. That is why this is both faster than
a connect sweep (no socket per port) and gentler on forking daemons and fragile devices: their
listen backlogs never fill (backlog_probe.py in benchmarks/ measures how few handshakes some take).

Scope: every frame is a ``sendto`` on an AF_INET socket, which the scope guard's audit hook
sees and checks; every address is also checked with ``require_in_scope`` before its first SYN.
Answers are accepted only from an address we probed, from the probed port, to our reserved
source port and acknowledging our sequence number (a raw socket sees every TCP segment of the
namespace). ICMP destination-unreachable messages quoting one of our SYNs are read too.

IPv4 only: IPv6 targets, and hosts without CAP_NET_RAW, use the connect transport.
"""

from __future__ import annotations

import errno
import secrets
import socket
import struct
from collections.abc import Iterator

from scanner.errors import ProbePermissionError
from scanner.scope.guard import require_in_scope

_TCP_HEADER = struct.Struct("!HHIIBBHHH")
_PORTS_SEQ_ACK = struct.Struct("!HHII")
_SYN_WITH_MSS = struct.Struct("!HHIIBBHHHHH")  # the header, then the MSS option's two words
_MSS_OPTION = b"\x02\x04\x05\xb4"  # MSS 1460 (RFC 9293 §3.7.1): what a real stack sends
_SYN, _RST, _ACK = 0x02, 0x04, 0x10
_WINDOW = 1024
# ICMP destination unreachable codes (RFC 792; RFC 1812 §5.2.7.1 for 9, 10, 13).
_ICMP_UNREACHABLE = 3
_HOST_GONE = frozenset({0, 1, 5, 6, 7, 8})
_PORT_UNREACHABLE = 3
_FRAGMENTATION_NEEDED = 4
_RECV_BATCH = 512


# One answer: (the probed address as a 32-bit integer, the probed port, "open" | "closed" |
# "unreachable" | "denied", which attempt's SYN it answers or None when unknown (ICMP)). A plain
# tuple: a dense sweep reads hundreds of thousands.
SynAnswer = tuple[int, int, str, int | None]


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def syn_segment(source: bytes, destination: bytes, sport: int, dport: int, seq: int) -> bytes:
    """A TCP SYN (with an MSS option) whose checksum covers the RFC 9293 §3.1 pseudo-header."""
    header = _TCP_HEADER.pack(sport, dport, seq, 0, 6 << 4, _SYN, _WINDOW, 0, 0) + _MSS_OPTION
    pseudo = source + destination + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(header))
    csum = checksum(pseudo + header)
    return header[:16] + struct.pack("!H", csum) + header[18:]


def parse_tcp_answer(packet: bytes, sport: int) -> tuple[str, int, int, int] | None:
    """(source address, source port, flags, ack) of an IPv4 TCP segment sent to ``sport``."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != socket.IPPROTO_TCP:
        return None
    ihl = (packet[0] & 0x0F) * 4
    if len(packet) < ihl + 14:
        return None
    src_port, dst_port, _seq, ack = struct.unpack_from("!HHII", packet, ihl)
    if dst_port != sport:
        return None
    return socket.inet_ntoa(packet[12:16]), src_port, packet[ihl + 13], ack


def parse_icmp_answer(packet: bytes, sport: int) -> tuple[str, int, int] | None:
    """(probed address, probed port, code) of an ICMP destination-unreachable quoting our SYN."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != socket.IPPROTO_ICMP:
        return None
    ihl = (packet[0] & 0x0F) * 4
    icmp = packet[ihl:]
    if len(icmp) < 8 + 20 or icmp[0] != _ICMP_UNREACHABLE:
        return None
    inner = icmp[8:]
    inner_ihl = (inner[0] & 0x0F) * 4
    if inner[9] != socket.IPPROTO_TCP or len(inner) < inner_ihl + 4:
        return None
    src_port, dst_port = struct.unpack_from("!HH", inner, inner_ihl)
    if src_port != sport:
        return None
    return socket.inet_ntoa(inner[16:20]), dst_port, icmp[1]


def raw_syn_available() -> bool:
    """True when this process may open raw IPv4 sockets (root / CAP_NET_RAW)."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP).close()
    except OSError:
        return False
    return True


class SynTransport:
    """One raw TCP socket to send SYNs and read answers, one raw ICMP socket for unreachables.

    ``send`` never blocks; ``answers`` drains what arrived. The sequence number of each SYN is
    derived from a per-sweep secret, the address and the port, with the attempt number in its
    low four bits: an answer is checked without per-probe state (its ``ack`` must be that
    number + 1), and it says which attempt it answers (Karn's rule, RFC 6298 §3, needs that).
    """

    def __init__(self) -> None:
        try:
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        except PermissionError as exc:
            raise ProbePermissionError(f"SYN sweep needs a raw socket (root): {exc}") from exc
        self.icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        # Our source port, reserved by a bound (never listening) socket so that no other local
        # connection is given it: SYN-ACKs to it reach no socket and the kernel resets them.
        self._reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._reserved.bind(("0.0.0.0", 0))
        self.sport = int(self._reserved.getsockname()[1])
        for sock in (self.tcp, self.icmp):
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._secret = secrets.randbits(32)
        # Per address: (partial checksum of the pseudo-header and every fixed header word, the
        # address as an integer for the sequence number).
        self._hosts: dict[str, tuple[int, int]] = {}
        self._fixed = self.sport + (6 << 12 | _SYN) + _WINDOW + 0x0204 + 0x05B4 + socket.IPPROTO_TCP + 24

    def filenos(self) -> tuple[int, ...]:
        return (self.tcp.fileno(), self.icmp.fileno())

    def seq(self, address: int, port: int, attempt: int) -> int:
        mixed = self._secret ^ ((address * 0x9E3779B1 + port * 0x85EBCA6B) & 0xFFFFFFFF)
        return (mixed & 0xFFFFFFF0) | (attempt & 0x0F)

    def prepare(self, address: str) -> tuple[int, int]:
        """What every SYN to ``address`` shares: (partial checksum, the address as an integer).
        The address is checked against the scope here, before any frame is built for it."""
        entry = self._hosts.get(address)
        if entry is None:
            require_in_scope(address)  # raw frames: checked here as well as by the audit hook
            # The source address the kernel will put in the IP header (the route's), needed
            # for the checksum: a connected UDP socket learns it without sending anything.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((address, 9))
                source = probe.getsockname()[0]
            words = struct.unpack("!4H", socket.inet_aton(source) + socket.inet_aton(address))
            entry = self._hosts[address] = (self._fixed + sum(words), int.from_bytes(socket.inet_aton(address), "big"))
        return entry

    def segment(self, prepared: tuple[int, int], port: int, attempt: int) -> bytes:
        """The SYN for one attempt (same bytes as ``syn_segment``, checksum summed incrementally
        and the sequence number inlined: the sweep sends hundreds of thousands)."""
        partial, number = prepared
        seq = ((self._secret ^ ((number * 0x9E3779B1 + port * 0x85EBCA6B) & 0xFFFFFFFF)) & 0xFFFFFFF0) | (attempt & 15)
        total = partial + port + (seq >> 16) + (seq & 0xFFFF)
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        return _SYN_WITH_MSS.pack(self.sport, port, seq, 0, 6 << 4, _SYN, _WINDOW, ~total & 0xFFFF, 0, 0x0204, 0x05B4)

    def send(self, prepared: tuple[int, int], address: str, port: int, attempt: int) -> int:
        """Send one SYN (``prepared``: from ``prepare(address)``). Returns 0, or an errno for a
        local shortage (ENOBUFS: retry later) or a route failure (EHOSTUNREACH, ENETUNREACH)."""
        segment = self.segment(prepared, port, attempt)
        try:
            self.tcp.sendto(segment, (address, 0))  # the scope audit hook runs here
        except BlockingIOError:
            return errno.ENOBUFS
        except OSError as exc:
            if exc.errno is None:
                raise
            return exc.errno
        return 0

    def answers(self, fd: int) -> Iterator[SynAnswer]:
        """Answers waiting on ``fd`` (one of ``filenos``), validated."""
        sock = self.tcp if fd == self.tcp.fileno() else self.icmp
        sport, recv, seq = self.sport, sock.recv, self.seq
        for _ in range(_RECV_BATCH):
            try:
                packet = recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            if sock is self.tcp:
                if len(packet) < 40 or packet[9] != socket.IPPROTO_TCP:
                    continue
                ihl = (packet[0] & 0x0F) * 4
                if len(packet) < ihl + 14:
                    continue
                port, dst_port, _seq, ack = _PORTS_SEQ_ACK.unpack_from(packet, ihl)
                if dst_port != sport:
                    continue
                answered = (ack - 1) & 0xFFFFFFFF
                attempt = answered & 0x0F
                if answered != seq(int.from_bytes(packet[12:16], "big"), port, attempt):
                    continue
                flags = packet[ihl + 13]
                if flags & (_SYN | _ACK) == _SYN | _ACK:
                    yield int.from_bytes(packet[12:16], "big"), port, "open", attempt
                elif flags & _RST:
                    yield int.from_bytes(packet[12:16], "big"), port, "closed", attempt
            else:
                quoted = parse_icmp_answer(packet, self.sport)
                if quoted is None:
                    continue
                address, port, code = quoted
                if code == _FRAGMENTATION_NEEDED:
                    continue  # a path-MTU message, not an answer about the port
                kind = "unreachable" if code in _HOST_GONE else "closed" if code == _PORT_UNREACHABLE else "denied"
                yield int.from_bytes(socket.inet_aton(address), "big"), port, kind, None

    def close(self) -> None:
        for sock in (self.tcp, self.icmp, self._reserved):
            sock.close()
