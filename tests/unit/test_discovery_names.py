"""Names and vendors of hosts, learned without credentials: reverse DNS at the declared nameserver
only (scanner.discovery.names), answered by a small UDP responder on loopback (dnspython builds
its answers as an authoritative server would); the MAC of an ARP reply and its OUI vendor."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dns.message
import dns.rrset
import pytest

from scanner.discovery import names
from scanner.models import Host, NameSource

PTR = {"40.0.18.198.in-addr.arpa.": "ws-frontdesk.lab.test."}


@pytest.fixture
def nameserver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dns.message.Message]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    monkeypatch.setattr(names.scope_names, "DNS_PORT", sock.getsockname()[1])
    seen: list[dns.message.Message] = []
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                raw, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(raw)
            seen.append(query)
            reply = dns.message.make_response(query)
            qname = query.question[0].name.to_text()
            if qname in PTR:
                reply.answer.append(dns.rrset.from_text(qname, 300, "IN", "PTR", PTR[qname]))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield seen
    stop.set()
    thread.join(2)
    sock.close()


def test_ptr_names_are_learned_from_the_declared_nameserver(nameserver: list[dns.message.Message]) -> None:
    hosts = (Host(address="198.18.0.40"), Host(address="198.18.0.41"))
    named, note = names.reverse_names(hosts, ["127.0.0.1"])
    assert named[0].learned_names[0].name == "ws-frontdesk.lab.test"
    assert named[0].learned_names[0].source is NameSource.REVERSE_DNS
    assert named[1].learned_names == ()
    assert note == "reverse DNS at 127.0.0.1: 1 of 2 live address(es) named"
    assert [q.question[0].rdtype for q in nameserver] == [dns.rdatatype.PTR] * 2


def test_no_nameserver_sends_nothing() -> None:
    hosts = (Host(address="198.18.0.40"),)
    assert names.reverse_names(hosts, []) == (hosts, None)


def test_a_silent_nameserver_costs_two_queries_not_one_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # bound, never answers
    monkeypatch.setattr(names.scope_names, "DNS_PORT", silent.getsockname()[1])
    monkeypatch.setattr(names, "QUERY_SECONDS", 0.2)
    try:
        hosts = tuple(Host(address=f"198.18.0.{i}") for i in range(1, 30))
        named, note = names.reverse_names(hosts, ["127.0.0.1"])
    finally:
        silent.close()
    assert named == hosts
    assert note is not None and "stopped after 2" in note


def test_arp_reply_sender_mac_and_its_vendor() -> None:
    from scanner.discovery import oui
    from scanner.discovery.hosts import arp_sender_mac, parse_arp_reply

    ours, theirs = bytes([198, 18, 0, 100]), bytes([198, 18, 0, 40])
    sender = bytes.fromhex("001b21aabbcc")
    frame = (bytes.fromhex("020000000001") + sender + b"\x08\x06" + bytes.fromhex("0001080006040002") + sender
             + theirs + bytes.fromhex("020000000001") + ours)
    assert parse_arp_reply(frame, ours) == "198.18.0.40"
    assert arp_sender_mac(frame) == "00:1b:21:aa:bb:cc"
    assert oui.vendor_of("02:42:ac:11:00:02") == oui.LOCALLY_ADMINISTERED
    assert oui.vendor_of(None) is None and oui.vendor_of("zz") is None
    if oui._prefixes():  # nmap's IEEE table is installed here
        assert oui.vendor_of("00:1b:21:aa:bb:cc") == "Intel Corporate"


def test_hosts_without_mac_or_names_serialise_as_before() -> None:
    assert Host(address="198.18.0.40").model_dump_json() == \
        '{"address":"198.18.0.40","hostnames":[],"services":[],"discovered_by":null}'
