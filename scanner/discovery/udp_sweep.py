"""UDP services, only where the profile asks for them (``udp_ports``).

UDP has no handshake: a port is reported open only when something answers our datagram.
Silence means "open or filtered" and is not reported (it is counted in the notes); an ICMP
port-unreachable (seen as ECONNREFUSED on a connected socket) means closed. So each probe
carries a payload the service must answer: a DNS query, an NTP client request, an SNMP
request, a NetBIOS name-status query, an SSDP search. Sends go through connected Python UDP
sockets, which the scope audit hook sees; silence is retried a bounded number of times.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from scanner.discovery.identify import MAX_READ, UDP_PORT_SERVICES, clean_banner
from scanner.discovery.tcp_sweep import run_per_host
from scanner.models import Service, Transport
from scanner.net import ber, snmp
from scanner.scope.guard import require_in_scope

UDP_WAIT = 1.0  # seconds per attempt; any answering service replies well within it on a LAN


def snmp_payloads(request_id: int) -> tuple[bytes, bytes]:
    """An SNMPv3 engine-ID discovery request (RFC 3414 §4: no credentials, any v3 agent
    answers with a Report) and an SNMPv1 GetRequest for sysDescr with community "public"
    (the probe every scanner sends; v1/v2c-only agents answer nothing else)."""
    empty = ber.tlv(0x04, b"")
    usm = ber.tlv(0x30, empty + ber.integer(0) + ber.integer(0) + empty + empty + empty)
    global_data = ber.tlv(0x30, ber.integer(request_id) + ber.integer(65507) + ber.tlv(0x04, b"\x04") + ber.integer(3))
    get_pdu = ber.tlv(0xA0, ber.integer(request_id) + ber.integer(0) + ber.integer(0) + ber.tlv(0x30, b""))
    scoped = ber.tlv(0x30, empty + empty + get_pdu)
    v3 = ber.tlv(0x30, ber.integer(3) + global_data + ber.tlv(0x04, usm) + scoped)
    return v3, snmp.get_request(0, "public", request_id)


def _dns_query(name_wire: bytes, qtype: int) -> bytes:
    # RFC 1035 §4.1: header (id, flags 0 = standard query without recursion, 1 question).
    return secrets.token_bytes(2) + b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name_wire + \
        qtype.to_bytes(2, "big") + b"\x00\x01"


def payloads_for(port: int) -> list[bytes]:
    """The datagram(s) that make the service on ``port`` answer."""
    if port == 53:
        return [_dns_query(b"\x00", 2)]  # ". IN NS": any DNS server answers (even REFUSED)
    if port == 5353:  # RFC 6762 §6.7: a unicast query from a non-5353 port gets a unicast reply
        return [_dns_query(b"\x09_services\x07_dns-sd\x04_udp\x05local\x00", 12)]
    if port == 123:
        return [b"\x1b" + b"\x00" * 47]  # RFC 5905: version 3, mode 3 (client)
    if port == 161:
        return list(snmp_payloads(secrets.randbelow(2**31 - 1) + 1))
    if port == 137:  # RFC 1002 §4.2.18 NODE STATUS REQUEST for "*"
        return [secrets.token_bytes(2) + b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                + b"\x20CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x00\x00\x21\x00\x01"]
    if port == 111:  # ONC RPC (RFC 5531 §9) CALL to portmapper (100000) v2, NULL procedure
        return [secrets.token_bytes(4) + bytes.fromhex("00000000" "00000002" "000186a0" "00000002"
                                                       "00000000" "00000000" "00000000" "00000000"
                                                       "00000000")]
    if port == 1900:
        return [b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
                b"MX: 1\r\nST: ssdp:all\r\n\r\n"]
    return [b"\r\n"]


def snmp_sysdescr(raw: bytes) -> str | None:
    """sysDescr from an SNMP response, when present (varbind OID then OCTET STRING)."""
    marker = ber.object_identifier(snmp.SYSDESCR) + b"\x04"
    at = raw.find(marker)
    if at < 0:
        return None
    pos = at + len(marker)
    if pos >= len(raw):
        return None
    length = raw[pos]
    pos += 1
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(raw[pos : pos + count], "big")
        pos += count
    return clean_banner(raw[pos : pos + min(length, MAX_READ)]) or None


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answer: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not self.answer.done():
            self.answer.set_result(data[:MAX_READ])

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable surfaces as ConnectionRefusedError: the port is closed.
        if not self.answer.done():
            self.answer.set_result(None)


async def udp_probe(address: str, port: int, *, wait: float, retries: int) -> bytes | None:
    """The first datagram the service answered with, or None (closed or silent)."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_Collector, remote_addr=(address, port))
    try:
        for _attempt in range(1 + max(0, retries)):
            for payload in payloads_for(port):
                transport.sendto(payload)
            try:
                return await asyncio.wait_for(asyncio.shield(protocol.answer), wait)
            except TimeoutError:
                continue
        return None
    finally:
        transport.close()


@dataclass
class UdpResult:
    services: dict[str, list[Service]] = field(default_factory=dict)
    silent: int = 0


async def udp_scan(
    hosts: Sequence[str],
    ports: Sequence[int],
    *,
    retries: int,
    global_limit: int,
    per_host: int,
    wait: float = UDP_WAIT,
    on_progress: Callable[[int, int], None] | None = None,
) -> UdpResult:
    for address in hosts:
        require_in_scope(address)
    result = UdpResult()
    total = len(hosts) * len(ports)
    done = 0

    async def one(host: str, port: int) -> bool:
        nonlocal done
        try:
            raw = await udp_probe(host, port, wait=wait, retries=retries)
        except OSError:
            raw = None
        done += 1
        if on_progress is not None:
            on_progress(done, total)
        if raw is None:
            result.silent += 1
            return True
        banner = snmp_sysdescr(raw) if port == 161 else None
        result.services.setdefault(host, []).append(Service(
            port=port, transport=Transport.UDP, service=UDP_PORT_SERVICES.get(port),
            banner=banner or clean_banner(raw) or None, identified_by="udp-probe"))
        return True

    await run_per_host([(h, list(ports)) for h in hosts], one, global_limit=global_limit, per_host=per_host)
    for services in result.services.values():
        services.sort(key=lambda s: s.port)
    return result


def merge(tcp: Mapping[str, Sequence[Service]], udp: Mapping[str, Sequence[Service]]) -> dict[str, list[Service]]:
    merged: dict[str, list[Service]] = {h: list(s) for h, s in tcp.items()}
    for host, services in udp.items():
        merged.setdefault(host, []).extend(services)
    return merged
