"""mDNS names heard passively (scanner.discovery.mdns): responses built by dnspython as a responder
would announce itself (RFC 6762 section 8.3), parsed; hostile datagrams give nothing; and a real
capture on loopback hears an announcement sent to UDP 5353 (needs CAP_NET_RAW, else skipped)."""

from __future__ import annotations

import os
import socket

import dns.flags
import dns.message
import dns.rrset
import pytest

from scanner.discovery import mdns
from scanner.models import Host, NameSource


def announcement(*records: tuple[str, str, str]) -> bytes:
    message = dns.message.Message(id=0)
    message.flags = dns.flags.QR | dns.flags.AA
    for owner, rdtype, value in records:
        message.answer.append(dns.rrset.from_text(owner, 120, "IN", rdtype, value))
    return message.to_wire()


def test_a_host_naming_itself_is_believed() -> None:
    wire = announcement(("xray.local.", "A", "198.18.0.60"),
                        ("60.0.18.198.in-addr.arpa.", "PTR", "xray.local."),
                        ("_http._tcp.local.", "PTR", "xray._http._tcp.local."))
    assert mdns.names_in_response("198.18.0.60", wire) == ["xray.local"]


def test_the_cache_flush_bit_is_understood() -> None:
    wire = bytearray(announcement(("xray.local.", "A", "198.18.0.60")))
    class_at = len(wire) - 4 - 2 - 4 - 2  # rdata, rdlength, ttl, then the class
    assert wire[class_at:class_at + 2] == b"\x00\x01"
    wire[class_at] |= 0x80  # RFC 6762 section 10.2
    assert mdns.names_in_response("198.18.0.60", bytes(wire)) == ["xray.local"]


def test_a_name_claimed_for_another_address_is_not_believed() -> None:
    wire = announcement(("printer.local.", "A", "198.18.0.61"))
    assert mdns.names_in_response("198.18.0.60", wire) == []


def test_ipv6_self_announcement() -> None:
    wire = announcement(("nas.local.", "AAAA", "2001:db8::5"))
    assert mdns.names_in_response("2001:db8::5", wire) == ["nas.local"]


@pytest.mark.parametrize("payload", [b"", b"\x00" * 5, b"\xff" * 600, announcement()[:7],
                                     dns.message.make_query("xray.local.", "A").to_wire()])
def test_hostile_or_query_datagrams_give_nothing(payload: bytes) -> None:
    assert mdns.names_in_response("198.18.0.60", payload) == []


def test_control_characters_in_a_name_stay_escaped() -> None:
    wire = announcement(("bad\\027name.local.", "A", "198.18.0.60"))
    (name,) = mdns.names_in_response("198.18.0.60", wire)
    assert name == "bad\\027name.local" and name.isprintable() and "\x1b" not in name


def test_heard_names_attach_to_discovered_hosts_only() -> None:
    listener = mdns.MdnsListener(seconds=1.0)
    listener.heard = {"198.18.0.60": ["xray.local"], "198.18.9.9": ["elsewhere.local"]}
    hosts, note = mdns.mdns_names((Host(address="198.18.0.60"), Host(address="198.18.0.40")), listener)
    assert [(n.name, n.source) for n in hosts[0].learned_names] == [("xray.local", NameSource.MDNS)]
    assert hosts[1].learned_names == ()
    assert note is not None and "1 of 2" in note


def test_no_window_no_listening() -> None:
    hosts = (Host(address="198.18.0.60"),)
    assert mdns.mdns_names(hosts, mdns.MdnsListener(seconds=0).start()) == (hosts, None)
    assert mdns.mdns_names(hosts, None) == (hosts, None)


@pytest.mark.skipif(os.geteuid() != 0, reason="a cooked AF_PACKET capture needs CAP_NET_RAW")
def test_a_real_capture_on_loopback_hears_an_announcement() -> None:
    listener = mdns.MdnsListener(seconds=1.5).start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(3):
            sock.sendto(announcement(("loop.local.", "A", "127.0.0.1")), ("127.0.0.1", mdns.MDNS_PORT))
            sock.sendto(b"\xff" * 300, ("127.0.0.1", mdns.MDNS_PORT))
    hosts, note = mdns.mdns_names((Host(address="127.0.0.1"),), listener, wait=5.0)
    assert [n.name for n in hosts[0].learned_names] == ["loop.local"], note
