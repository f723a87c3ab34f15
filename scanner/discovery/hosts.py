"""Which addresses of the scope are live hosts, found before any port is swept.

Why first: a TCP connect to a dead address on the local segment waits about 3 s for the
kernel's ARP resolution to fail (docs/lab-notes.md: a naive sweep of a sparse /24 took 63 s against
nmap's 1.9 s). Asking "who is there" once per address, cheaply, and sweeping only the
answers is what makes a sparse network fast.

Methods:

- ``arp``: one ARP who-has per on-link IPv4 address, sent through an AF_PACKET socket on the
  interface that faces it (needs root / CAP_NET_RAW). Every device on an Ethernet segment
  must answer ARP for its address (RFC 826) even when a firewall drops all IP traffic, so
  this is both the fastest and the most complete method where it applies. The frames leave
  through a raw socket the scope audit hook cannot see, so every address is checked with
  ``require_in_scope`` before it is put in a request.
- ``tcp``: a TCP connect "ping" to a few ports that are open on most kinds of hosts. A
  completed handshake *or a refusal (RST)* proves the host is there (RFC 9293 §3.10.7.1: a
  closed port answers a SYN with a reset). Used for routed (off-link) targets, loopback,
  IPv6, our own addresses, and whenever raw sockets are not permitted. Its per-attempt
  timeout adapts to the round-trip times seen (a dead address must not hold a connect slot
  for the full second), and a host's ports are tried staggered, first answer wins.
- ``icmp``: in ``auto`` mode as root, an ICMP echo sweep (RFC 792) runs alongside the TCP
  ping for the addresses it has not heard from after ``ICMP_DELAY``: a host that drops the
  ping ports may still answer echo.
- ``none``: every address in scope is assumed live; the sweep sorts it out.

``host_discovery="tcp"`` means the TCP ping only; ``"arp"`` asks for ARP and says in the
notes which addresses could not be ARPed (and were pinged instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import os
import secrets
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from typing import Literal

from scanner.discovery.bounded import gather_first_error
from scanner.discovery.connect_io import PortState, connect_with_retries
from scanner.discovery.rtt import RttEstimator
from scanner.errors import ProbeError, ProbePermissionError
from scanner.scope.guard import require_in_scope

HostDiscoveryMode = Literal["auto", "arp", "tcp", "none"]

# Ports answered (accept or RST) by nearly every host type on a practice network: web consoles
# (printers, NAS, appliances), Unix (SSH), Windows (SMB, RDP). Each extra port costs a connect
# slot for every dead address, so the list stays short (nmap's unprivileged ping uses two). A
# host whose firewall silently drops all of them is found only by ARP or ICMP (or by the
# sweep with host_discovery=none).
PING_PORTS: tuple[int, ...] = (80, 443, 22, 445, 3389)

# Floor of the adaptive per-attempt ping timeout (see tcp_ping).
PING_TIMEOUT_FLOOR = 0.25
# Longest ping attempt: Linux sends the first SYN retransmission 1 s after the SYN (initial
# RTO, RFC 6298 §2.1), so 1.25 s sees the answer to it on any path with an RTT under 250 ms.
PING_ATTEMPT = 1.25

# ICMP echo (root, alongside the TCP ping) starts this long after the TCP ping.
ICMP_DELAY = 0.1

# ARP answers on a LAN come back in milliseconds; a device that is slow to answer (a NIC in
# power save) answers a later round, because the who-has is re-sent to every address still
# silent and any reply counts. ``1 + retries`` rounds of this wait.
ARP_ROUND_WAIT = 0.25

# Delay before the TCP ping tries a host's next port while the previous one is unanswered:
# a LAN answers in milliseconds, and RFC 8305 §5 recommends 250 ms for the same trade-off
# (fewer connects against a faster answer); a shorter delay keeps dead hosts cheap.
PING_STAGGER = 0.1

ProgressFn = Callable[[int, int], None]


@dataclass
class HostDiscoveryResult:
    """Live addresses and how each was found (``arp``, ``tcp-ping``, ``listed``)."""

    live: dict[str, str] = field(default_factory=dict)
    methods: list[str] = field(default_factory=list)  # in the order they ran: arp, tcp, none
    notes: list[str] = field(default_factory=list)
    probed: int = 0
    # What the TCP ping already established: {address: (port, open)}. The sweep does not ask
    # the same question twice.
    answered: dict[str, tuple[int, bool]] = field(default_factory=dict)
    # Round-trip seconds measured while finding each host (ARP reply, ping handshake): the
    # sweep's first RTT sample of that host (scanner.discovery.rtt).
    rtt: dict[str, float] = field(default_factory=dict)
    # The hardware address each ARP reply came from (aa:bb:cc:dd:ee:ff): the MAC vendor of the report.
    macs: dict[str, str] = field(default_factory=dict)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _is_local_address(address: str) -> bool:
    """True when the address is one of this machine's own (binding to it succeeds). No packet
    is sent: ``bind`` is local. Our own addresses are not found by ARP, nor need to be."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((address, 0))
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class _Route:
    network: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    iface: str
    metric: int


def _proc_address(value: int) -> ipaddress.IPv4Address:
    """/proc/net/route writes addresses as 32-bit hex in host (little-endian) byte order."""
    return ipaddress.IPv4Address(int.from_bytes(value.to_bytes(4, "little"), "big"))


def ipv4_routes(path: str = "/proc/net/route") -> list[_Route]:
    """The IPv4 main routing table of the current network namespace (Linux procfs; empty
    elsewhere). Read directly rather than through scapy, so that a scan with nothing on the
    local segment never pays for importing scapy (~0.15 s, ~30 MB)."""
    routes: list[_Route] = []
    try:
        with open(path, encoding="ascii") as table:
            lines = table.read().splitlines()[1:]
    except OSError:
        return routes
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            dest, gateway, flags = int(fields[1], 16), int(fields[2], 16), int(fields[3], 16)
            metric, mask = int(fields[6]), int(fields[7], 16)
            if not flags & 0x1:  # RTF_UP
                continue
            network = ipaddress.IPv4Network(f"{_proc_address(dest)}/{_proc_address(mask)}")
        except ValueError:
            continue
        routes.append(_Route(network, _proc_address(gateway), fields[0], metric))
    return routes


def arp_interfaces(
    addresses: Sequence[str], routes: Sequence[_Route] | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """Split addresses into {interface: on-link IPv4 addresses} (ARP-able) and the rest
    (routed, loopback, IPv6, our own). Longest-prefix match on the main table; policy routing
    is not modelled (an address it would route elsewhere is at worst pinged instead)."""
    table = list(routes) if routes is not None else ipv4_routes()
    on_link: dict[str, list[str]] = {}
    other: list[str] = []
    for address in addresses:
        addr = ipaddress.ip_address(address)
        if addr.version != 4 or addr.is_loopback or addr.is_multicast or _is_local_address(address):
            other.append(address)
            continue
        matches = [r for r in table if addr in r.network]
        best = max(matches, key=lambda r: (r.network.prefixlen, -r.metric), default=None)
        if best is not None and int(best.gateway) == 0 and best.iface != "lo":
            on_link.setdefault(best.iface, []).append(address)
        else:
            other.append(address)
    return on_link, other


def _icmp_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _echo_request(ident: int, seq: int) -> bytes:
    """ICMP echo request (RFC 792): type 8, code 0, checksum, identifier, sequence, payload."""
    payload = b"gapscan"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, _icmp_checksum(header + payload), ident, seq) + payload


def icmp_sweep(
    addresses: Sequence[str],
    *,
    rounds: int,
    wait: float,
    stop: threading.Event | None = None,
    delay: float = 0.0,
    skip: Container[str] = (),
) -> set[str]:
    """ICMP echo to every IPv4 address, re-sent to the silent ones each round; returns the
    addresses that answered. Blocking (run it in a thread). ``delay``: wait this long first
    (or until ``stop``), then leave out the addresses in ``skip`` (found meanwhile by other
    means) and those in ``skip`` at each later round.

    Needs a raw socket (root / CAP_NET_RAW): raises ``ProbePermissionError`` otherwise. The
    sends are Python ``sendto`` calls, so the scope audit hook checks each one; every address
    is also checked up front. Replies are accepted only from an address we asked, with our
    identifier (a raw socket sees every ICMP packet of the namespace).
    """
    for address in addresses:
        require_in_scope(address)
    if delay > 0 and stop is not None and stop.wait(delay):
        return set()
    wanted = [a for a in addresses if ":" not in a and a not in skip]
    if not wanted:
        return set()
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except PermissionError as exc:
        raise ProbePermissionError(f"ICMP echo needs a raw socket (root): {exc}") from exc
    except OSError as exc:
        raise ProbeError(f"ICMP echo: {exc.strerror or exc}") from exc
    ident = secrets.randbelow(0xFFFF) + 1
    answered: set[str] = set()
    wanted_set = set(wanted)
    with sock:
        sock.setblocking(False)
        for _round in range(max(1, rounds)):
            for seq, address in enumerate(a for a in wanted if a not in answered and a not in skip):
                with contextlib.suppress(BlockingIOError, InterruptedError):
                    sock.sendto(_echo_request(ident, seq & 0xFFFF), (address, 0))
            deadline = time.monotonic() + wait
            while len(answered) < len(wanted_set) and not (stop is not None and stop.is_set()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                ready, _, _ = select.select([sock], [], [], remaining)
                if not ready:
                    break
                try:
                    packet, (source, *_rest) = sock.recvfrom(2048)
                except (BlockingIOError, InterruptedError):
                    continue
                ihl = (packet[0] & 0x0F) * 4 if packet else 0
                reply = packet[ihl : ihl + 8]
                if len(reply) == 8 and reply[0] == 0 and reply[1] == 0 and \
                        int.from_bytes(reply[4:6], "big") == ident and source in wanted_set:
                    answered.add(source)
            if len(answered) == len(wanted_set) or (stop is not None and stop.is_set()):
                break
    return answered


_ETH_P_ARP = 0x0806
_ETH_P_IP = 0x0800
_SIOCGIFADDR = 0x8915
_BROADCAST = b"\xff" * 6


def _interface_ipv4(sock: socket.socket, iface: str) -> bytes:
    """The interface's IPv4 address (SIOCGIFADDR), the sender address of our requests."""
    request = struct.pack("256s", iface.encode()[:15])
    return fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)[20:24]


def arp_request(mac: bytes, ip: bytes, target: bytes) -> bytes:
    """An Ethernet broadcast ARP who-has (RFC 826): hardware Ethernet, protocol IPv4, op 1."""
    return (_BROADCAST + mac + struct.pack("!H", _ETH_P_ARP)
            + struct.pack("!HHBBH", 1, _ETH_P_IP, 6, 4, 1) + mac + ip + b"\x00" * 6 + target)


def parse_arp_reply(frame: bytes, our_ip: bytes) -> str | None:
    """The sender address of an ARP reply (op 2) to ``our_ip``, or None for anything else."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x06":
        return None
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", frame, 14)
    if (htype, ptype, hlen, plen, op) != (1, _ETH_P_IP, 6, 4, 2) or frame[38:42] != our_ip:
        return None
    return socket.inet_ntoa(frame[28:32])


def arp_sender_mac(frame: bytes) -> str:
    """The sender hardware address of an ARP frame (RFC 826: after the 8-byte header), as text."""
    return ":".join(f"{b:02x}" for b in frame[22:28])


def arp_sweep(iface: str, addresses: Sequence[str], *, rounds: int, wait: float,
              macs: dict[str, str] | None = None) -> dict[str, float]:
    """ARP who-has for every address on ``iface``; returns {address: rtt} for each answer.

    Blocking. One AF_PACKET socket: every request is sent at once, then re-sent each round to
    the addresses still silent (a NIC in power save answers a later round). Raises
    ``OutOfScopeError`` before sending if any address is outside the scope,
    ``ProbePermissionError`` without raw-socket rights, ``ProbeError`` otherwise. ``macs``, when
    given, receives the hardware address each answer came from.
    """
    for address in addresses:
        require_in_scope(address)  # raw frames bypass the audit hook: check every one
    if not addresses:
        return {}
    wanted = {socket.inet_aton(a): a for a in addresses}
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ARP))
    except PermissionError as exc:
        raise ProbePermissionError(f"ARP sweep on {iface}: raw sockets need root ({exc})") from exc
    except OSError as exc:
        raise ProbeError(f"ARP sweep on {iface}: {exc.strerror or exc}") from exc
    live: dict[str, float] = {}
    with sock:
        try:
            sock.bind((iface, _ETH_P_ARP))
            mac = sock.getsockname()[4]
            our_ip = _interface_ipv4(sock, iface)
        except OSError as exc:
            raise ProbeError(f"ARP sweep on {iface}: {exc.strerror or exc}") from exc
        sock.setblocking(False)
        sent_at: dict[str, float] = {}
        for _round in range(max(1, rounds)):
            for packed, address in wanted.items():
                if address in live:
                    continue
                sent_at[address] = time.monotonic()
                with contextlib.suppress(BlockingIOError, InterruptedError):
                    sock.send(arp_request(mac, our_ip, packed))
            deadline = time.monotonic() + wait
            while len(live) < len(wanted) and (remaining := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([sock], [], [], remaining)
                if not ready:
                    break
                while True:
                    try:
                        frame = sock.recv(2048)
                    except (BlockingIOError, InterruptedError):
                        break
                    source = parse_arp_reply(frame, our_ip)
                    # Only an answer *for* an address we asked about (a hostile segment may
                    # send gratuitous replies), and the first one.
                    if source in sent_at and source not in live:
                        live[source] = max(0.0, time.monotonic() - sent_at[source])
                        if macs is not None:
                            macs[source] = arp_sender_mac(frame)
            if len(live) == len(wanted):
                break
    return live


async def _ping_host(
    address: str,
    ports: Sequence[int],
    *,
    timeout: Callable[[], float],
    retries: int,
    per_host: int,
    stagger: float,
    global_sem: asyncio.Semaphore,
    rtt: RttEstimator,
) -> tuple[int, bool, float | None] | None:
    """Happy-Eyeballs-style ping of one host (RFC 8305 §5): start with the first port, start
    the next one only if no answer came within ``stagger`` (or the attempt in flight failed),
    at most ``per_host`` at once; the first answer cancels the rest. A live host thus costs
    one connect, and the forking daemons behind the other ping ports are left alone.
    Returns (port, open, round-trip seconds) of the first answer, or None."""

    async def attempt(port: int) -> tuple[int, PortState, float | None]:
        async with global_sem:
            for _ in range(1 + retries):
                outcome, _attempts = await connect_with_retries(address, port, timeout=timeout(), retries=0)
                if outcome.rtt is not None and outcome.state is not PortState.FILTERED:
                    rtt.add(outcome.rtt)
                if outcome.state is not PortState.FILTERED:
                    break
        return port, outcome.state, outcome.rtt

    queue = list(ports)
    running: set[asyncio.Task[tuple[int, PortState, float | None]]] = set()
    try:
        while queue or running:
            if queue and len(running) < per_host:
                running.add(asyncio.create_task(attempt(queue.pop(0))))
            done, running = await asyncio.wait(
                running, timeout=stagger if queue else None, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                port, state, seconds = task.result()
                if state in (PortState.OPEN, PortState.CLOSED):
                    return port, state is PortState.OPEN, seconds
                if state is PortState.UNREACHABLE:
                    return None  # ICMP unreachable / ARP failure: the host is not there
        return None
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)


async def tcp_ping(
    addresses: Sequence[str],
    *,
    ports: Sequence[int] = PING_PORTS,
    connect_timeout: float,
    retries: int,
    global_limit: int,
    per_host: int,
    stagger: float = PING_STAGGER,
    on_progress: ProgressFn | None = None,
    found: dict[str, tuple[int, bool]] | None = None,
    rtts: dict[str, float] | None = None,
    on_answer: Callable[[str, tuple[int, bool]], None] | None = None,
) -> dict[str, tuple[int, bool]]:
    """TCP connect "ping": {address: (port, open)} for every address that completed a
    handshake or refused one on any of ``ports`` (filled into ``found`` as answers come, when
    given, so that another thread can see progress; the answer's round trip into ``rtts``)."""
    for address in addresses:
        require_in_scope(address)
    live: dict[str, tuple[int, bool]] = found if found is not None else {}
    cap = min(connect_timeout, PING_ATTEMPT)
    rtt = RttEstimator()

    def timeout() -> float:
        # Until a host has answered, the full attempt (it includes the kernel's SYN
        # retransmission); then a few RTOs: a live host answers a SYN in one round trip, and a
        # dead one must not hold a connect slot for long (nmap likewise adapts its ping timeout).
        rto = rtt.rto()
        return cap if rto is None else min(cap, max(PING_TIMEOUT_FLOOR, 4 * rto))

    global_sem = asyncio.Semaphore(max(1, global_limit))
    pending = iter(addresses)
    finished = 0

    async def worker() -> None:
        # A bounded pool of host workers: memory stays flat however large the scope.
        nonlocal finished
        for address in pending:
            answer = await _ping_host(address, ports, timeout=timeout, retries=min(retries, 1),
                                      per_host=max(1, per_host), stagger=stagger, global_sem=global_sem, rtt=rtt)
            if answer is not None:
                live[address] = answer[:2]
                if on_answer is not None:
                    on_answer(address, answer[:2])
                if rtts is not None and answer[2] is not None:
                    rtts[address] = answer[2]
            finished += 1
            if on_progress is not None:
                on_progress(finished, len(addresses))

    await gather_first_error(worker() for _ in range(min(len(addresses), max(1, global_limit))))
    return live


async def discover_hosts(
    addresses: Sequence[str],
    mode: HostDiscoveryMode,
    *,
    connect_timeout: float,
    retries: int,
    global_limit: int,
    per_host: int,
    on_progress: ProgressFn | None = None,
    on_live: Callable[[str, str], None] | None = None,
) -> HostDiscoveryResult:
    """Find the live hosts among ``addresses`` with the requested method.

    ``on_live(address, how)`` is called as each ARP or TCP ping answer comes (so that an
    interrupted discovery keeps them, ``scanner.discovery.found``); ICMP echoes and ``none``'s
    listed addresses are known only in the result.

    ``auto``: ARP for on-link IPv4 addresses when running as root, TCP ping for the rest.
    ``arp``: the same, but say so in the notes when some addresses cannot be ARPed.
    ``tcp``: TCP ping only. ``none``: every address is listed as live.
    """
    for address in addresses:
        require_in_scope(address)
    result = HostDiscoveryResult(probed=len(addresses))
    if mode == "none":
        result.live = dict.fromkeys(addresses, "listed")
        result.methods.append("none")
        if on_progress is not None:
            on_progress(len(addresses), len(addresses))
        return result

    arp_groups: dict[str, list[str]] = {}
    tcp_targets: list[str] = list(addresses)
    if mode in ("auto", "arp"):
        if not is_root():
            if mode == "arp":
                result.notes.append("ARP host discovery needs root (raw sockets): TCP ping used instead")
        else:
            arp_groups, tcp_targets = arp_interfaces(addresses)
            if mode == "arp" and tcp_targets:
                result.notes.append(
                    f"{len(tcp_targets)} address(es) not on a local Ethernet segment "
                    "(routed, loopback, IPv6 or our own): TCP ping used for them"
                )

    done = 0
    total = len(addresses)

    def bump(n: int) -> None:
        nonlocal done
        done += n
        if on_progress is not None:
            on_progress(min(done, total), total)

    rounds = 1 + max(0, retries)
    for iface, group in arp_groups.items():
        start = time.monotonic()
        try:
            answers = await asyncio.to_thread(arp_sweep, iface, group, rounds=rounds, wait=ARP_ROUND_WAIT,
                                              macs=result.macs)
        except ProbeError as exc:
            result.notes.append(f"ARP sweep on {iface} failed ({exc}): TCP ping used instead")
            tcp_targets.extend(group)
            continue
        for address, seconds in answers.items():
            result.live[address] = "arp"
            result.rtt[address] = seconds
            if on_live is not None:
                on_live(address, "arp")
        if "arp" not in result.methods:
            result.methods.append("arp")
        bump(len(group))
        result.notes.append(
            f"ARP on {iface}: {len(answers)} of {len(group)} address(es) answered "
            f"in {time.monotonic() - start:.2f} s"
        )

    if tcp_targets:
        base = done

        def ping_progress(d: int, _t: int) -> None:
            if on_progress is not None:
                on_progress(min(base + d, total), total)

        # As root, an ICMP echo sweep runs alongside the TCP ping: a host that drops every
        # ping port may still answer echo (and the other way round).
        use_icmp = mode == "auto" and is_root() and any(":" not in a for a in tcp_targets)
        # The echoes start after ICMP_DELAY and only for the addresses the TCP ping has not
        # heard from yet: on a busy network nearly every host has answered by then.
        stop_icmp = threading.Event()
        pinged: dict[str, tuple[int, bool]] = {}
        icmp_task = (asyncio.create_task(asyncio.to_thread(
            icmp_sweep, tcp_targets, rounds=rounds, wait=ARP_ROUND_WAIT, stop=stop_icmp, delay=ICMP_DELAY,
            skip=pinged)) if use_icmp else None)
        try:
            await tcp_ping(tcp_targets, connect_timeout=connect_timeout, retries=retries, global_limit=global_limit,
                           per_host=per_host, on_progress=ping_progress, found=pinged, rtts=result.rtt,
                           on_answer=None if on_live is None else lambda address, _answer: on_live(address, "tcp-ping"))
        except BaseException:
            stop_icmp.set()  # the thread sees it within one select() wait
            raise
        if len(pinged) == len(tcp_targets):
            stop_icmp.set()  # everyone answered the TCP ping: no need to wait for echoes
        echoed: set[str] = set()
        if icmp_task is not None:
            try:
                echoed = await icmp_task
                result.methods.append("icmp")
            except ProbeError as exc:
                result.notes.append(f"ICMP echo unavailable ({exc}): TCP ping only")
        for address in tcp_targets:
            if address in pinged:
                result.live[address] = "tcp-ping"
            elif address in echoed:
                result.live[address] = "icmp"
        result.answered.update(pinged)
        result.methods.append("tcp")
        silent = sum(1 for a in tcp_targets if a not in result.live)
        if silent:
            asked = "ICMP echo nor TCP ports" if icmp_task is not None else "TCP ports"
            result.notes.append(
                f"{silent} of {len(tcp_targets)} address(es) answered none of {asked} "
                f"{','.join(map(str, PING_PORTS))} and are treated as not live"
            )
    if on_progress is not None:
        on_progress(total, total)
    return result
