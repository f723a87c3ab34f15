"""NetBIOS node-status names (scanner.discovery.netbios), answered by a real UDP responder on
loopback that builds RFC 1002 section 4.2.18 replies; hostile and malformed replies give no name,
no crash, and the step ends by its deadline."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from scanner.discovery import netbios
from scanner.models import Host, NameSource

Reply = Callable[[bytes], bytes | None]


def entry(name: str, suffix: int, group: bool = False) -> bytes:
    flags = 0x8400 if group else 0x0400
    return name.encode("latin-1").ljust(15, b" ")[:15] + bytes([suffix]) + struct.pack("!H", flags)


def node_status_reply(query: bytes, entries: list[bytes], *, count: int | None = None, tid: int | None = None) -> bytes:
    qid = struct.unpack_from("!H", query, 0)[0] if tid is None else tid
    header = struct.pack("!HHHHHH", qid, 0x8400, 0, 1, 0, 0)
    rname = query[12:12 + 34]
    rdata = bytes([len(entries) if count is None else count]) + b"".join(entries) + b"\x00" * 46  # statistics
    return header + rname + struct.pack("!HHIH", netbios.NBSTAT, netbios.CLASS_IN, 0, len(rdata)) + rdata


def good(query: bytes) -> bytes:
    return node_status_reply(query, [entry("FRONTDESK", 0x00), entry("CLINIC", 0x00, group=True),
                                     entry("FRONTDESK", 0x20), entry("\x01\x02__MSBROWSE__\x02", 0x01, group=True)])


@pytest.fixture
def responder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Reply], list[bytes]]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    monkeypatch.setattr(netbios, "NBNS_PORT", sock.getsockname()[1])
    seen: list[bytes] = []
    stop = threading.Event()
    handler: list[Reply] = [good]

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                raw, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            seen.append(raw)
            reply = handler[0](raw)
            if reply is not None:
                sock.sendto(reply, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def use(reply: Reply) -> list[bytes]:
        handler[0] = reply
        return seen

    yield use
    stop.set()
    thread.join(2)
    sock.close()


def test_the_request_is_an_rfc1002_nbstat_query_for_the_wildcard() -> None:
    request = netbios.node_status_request(0x1234)
    assert request[:12] == struct.pack("!HHHHHH", 0x1234, 0, 1, 0, 0, 0)
    assert request[12] == 32 and request[13:15] == b"CK"  # "*" = 0x2A -> 'C' 'K' (RFC 1001 14.1)
    assert request[15:45] == b"A" * 30 and request[45] == 0
    assert request[46:] == struct.pack("!HH", 0x21, 1)


def test_computer_name_and_workgroup_are_learned(responder: Callable[[Reply], list[bytes]]) -> None:
    seen = responder(good)
    hosts = (Host(address="127.0.0.1", discovered_by="arp"),)
    named, note = netbios.netbios_names(hosts, total=2.0)
    assert [(n.name, n.source) for n in named[0].learned_names] == [("FRONTDESK", NameSource.NETBIOS)]
    assert named[0].workgroup == "CLINIC"
    assert len(seen) == 1
    assert note == f"NetBIOS node status (UDP {netbios.NBNS_PORT}): 1 of 1 live address(es) answered"
    assert named[0].model_dump(mode="json")["workgroup"] == "CLINIC"


def test_a_silent_host_has_no_name_and_the_step_ends_by_its_deadline(
        responder: Callable[[Reply], list[bytes]]) -> None:
    responder(lambda q: None)
    hosts = (Host(address="127.0.0.1", discovered_by="arp"), Host(address="127.0.0.2", discovered_by="tcp-ping"),
             Host(address="::1", discovered_by="icmp"))
    started = time.monotonic()
    named, note = netbios.netbios_names(hosts, total=0.5)
    print(f"silent hosts: step took {time.monotonic() - started:.2f} s for a 0.5 s budget")
    assert all(h.learned_names == () and h.workgroup is None for h in named)
    assert note is not None and "0 of 3" in note
    assert "workgroup" not in named[0].model_dump(mode="json")


@pytest.mark.parametrize("reply", [
    pytest.param(lambda q: b"", id="empty"),
    pytest.param(lambda q: q[:5], id="cut-header"),
    pytest.param(lambda q: q, id="echoed-query-not-a-response"),
    pytest.param(lambda q: node_status_reply(q, [entry("FRONTDESK", 0)], tid=(q[0] << 8 | q[1]) ^ 1), id="wrong-id"),
    pytest.param(lambda q: node_status_reply(q, [entry("FRONTDESK", 0)], count=255), id="count-past-end"),
    pytest.param(lambda q: node_status_reply(q, [entry("FRONTDESK", 0)])[:60], id="truncated"),
    pytest.param(lambda q: q[:2] + b"\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00" + b"\x3f" * 200, id="label-loop"),
    pytest.param(lambda q: node_status_reply(q, [entry("FRONT\x1b[2JX", 0), entry("\x00" * 15, 0x20)]),
                 id="control-characters"),
    pytest.param(lambda q: b"\xff" * 1400, id="garbage"),
])
def test_hostile_replies_give_no_name_and_no_error(responder: Callable[[Reply], list[bytes]], reply: Reply) -> None:
    responder(reply)
    named, note = netbios.netbios_names((Host(address="127.0.0.1", discovered_by="arp"),), total=0.5)
    assert named[0].learned_names == () and named[0].workgroup is None
    assert note is not None and "0 of 1" in note


def test_a_long_or_odd_name_is_capped_and_printable() -> None:
    query = netbios.node_status_request(7)
    status = netbios.parse_node_status(node_status_reply(query, [entry("A" * 40, 0x00)]), 7)
    assert status is not None and status.computer == "A" * 15


def test_no_hosts_or_listed_only_hosts_send_nothing(responder: Callable[[Reply], list[bytes]]) -> None:
    seen = responder(good)
    assert netbios.netbios_names(()) == ((), None)
    listed = (Host(address="127.0.0.1", discovered_by="listed"), Host(address="127.0.0.1"))
    assert netbios.netbios_names(listed, total=0.5) == (listed, None)
    assert seen == []
