"""DnsClient against a scripted DNS server on loopback: facts (answer, NXDOMAIN, NODATA, CNAME)
versus errors (SERVFAIL, REFUSED, silence, garbage), each within the client's time budget."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dns.message
import dns.rcode
import dns.rrset
import pytest

from checks.dns.resolver import AnswerStatus, DnsClient
from scanner.errors import ProbeError, ProbeRefused, ProbeTimeout, ProtocolError

Reply = Callable[[dns.message.Message], bytes | None]


@contextmanager
def dns_server(reply: Reply) -> Iterator[tuple[int, list[str]]]:
    """A UDP DNS server on 127.0.0.1; ``reply`` maps a query to the bytes to send (None: stay silent)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    asked: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            query = dns.message.from_wire(wire)
            asked.append(f"{query.question[0].rdtype.name} {query.question[0].name}")
            data = reply(query)
            if data is not None:
                sock.sendto(data, peer)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], asked
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def answer(*records: str, rcode: dns.rcode.Rcode = dns.rcode.NOERROR) -> Reply:
    """Records like ``"x.test. 300 IN TXT \\"v=spf1 -all\\""``."""

    def reply(query: dns.message.Message) -> bytes:
        response = dns.message.make_response(query)
        response.set_rcode(rcode)
        for text in records:
            response.answer.append(dns.rrset.from_text(*_split(text)))
        return response.to_wire()

    return reply


def _split(text: str) -> tuple[str, int, str, str, str]:
    name, ttl, rdclass, rdtype, rdata = text.split(" ", 4)
    return name, int(ttl), rdclass, rdtype, rdata


def client(port: int, budget: float = 3.0) -> DnsClient:
    return DnsClient(["127.0.0.1"], timeout=0.5, budget=budget, port=port)


def test_an_answer_is_a_fact_with_the_server_and_time() -> None:
    with dns_server(answer('clinic.test. 300 IN TXT "v=spf1 " "-all"', 'clinic.test. 300 IN TXT "other"')) as (port, _):
        got = client(port).query("Clinic.Test.", "TXT")
    assert got.status is AnswerStatus.OK and got.name == "clinic.test"
    assert sorted(got.records) == ["other", "v=spf1 -all"]  # character-strings joined (RFC 7208 §3.3)
    assert got.server == "127.0.0.1" and got.queried_at.tzinfo is not None


def test_nxdomain_and_nodata_are_facts() -> None:
    with dns_server(answer(rcode=dns.rcode.NXDOMAIN)) as (port, _):
        assert client(port).query("gone.test", "TXT").status is AnswerStatus.NXDOMAIN
    with dns_server(answer()) as (port, _):
        nodata = client(port).query("clinic.test", "TXT")
    assert nodata.status is AnswerStatus.NODATA and nodata.void


def test_cname_is_followed_within_the_reply() -> None:
    records = ("sel._domainkey.clinic.test. 300 IN CNAME sel.provider.test.",
               'sel.provider.test. 300 IN TXT "v=DKIM1; p=abc"')
    with dns_server(answer(*records)) as (port, _):
        got = client(port).query("sel._domainkey.clinic.test", "TXT")
    assert got.records == ("v=DKIM1; p=abc",) and got.canonical_name == "sel.provider.test"


def test_cname_out_of_the_reply_is_asked_again() -> None:
    def reply(query: dns.message.Message) -> bytes | None:
        if str(query.question[0].name) == "alias.clinic.test.":
            return answer("alias.clinic.test. 300 IN CNAME real.clinic.test.")(query)
        return answer('real.clinic.test. 300 IN TXT "hello"')(query)

    with dns_server(reply) as (port, asked):
        got = client(port).query("alias.clinic.test", "TXT")
    assert got.records == ("hello",) and asked == ["TXT alias.clinic.test.", "TXT real.clinic.test."]


@pytest.mark.parametrize("rcode, error", [(dns.rcode.SERVFAIL, ProbeError), (dns.rcode.REFUSED, ProbeRefused),
                                          (dns.rcode.FORMERR, ProbeError)])
def test_server_failures_are_errors_not_empty_answers(rcode: dns.rcode.Rcode, error: type[ProbeError]) -> None:
    with dns_server(answer(rcode=rcode)) as (port, _), pytest.raises(error) as info:
        client(port).query("clinic.test", "TXT")
    assert dns.rcode.to_text(rcode) in str(info.value)
    assert info.value.reason.value in ("protocol", "refused")


def test_silence_is_a_timeout_within_the_budget() -> None:
    with dns_server(lambda q: None) as (port, asked):
        started = time.monotonic()
        with pytest.raises(ProbeTimeout):
            client(port).query("clinic.test", "TXT")
        elapsed = time.monotonic() - started
    assert elapsed < 1.6, elapsed  # two tries of 0.5 s
    assert len(asked) == 2


def test_the_budget_caps_many_slow_queries() -> None:
    with dns_server(lambda q: None) as (port, _):
        dns_client = client(port, budget=0.8)
        started = time.monotonic()
        with pytest.raises(ProbeTimeout):
            for _ in range(10):
                dns_client.query("clinic.test", "TXT")
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("garbage", [b"\x00", b"\xff" * 40, b"not dns at all, just text"])
def test_garbage_is_a_protocol_error(garbage: bytes) -> None:
    def reply(query: dns.message.Message) -> bytes:
        return query.id.to_bytes(2, "big") + garbage

    # A garbage header may carry the TC bit: then the TCP retry finds no server (refused). Either
    # way an error, never an answer.
    with dns_server(reply) as (port, _), pytest.raises((ProtocolError, ProbeRefused)):
        client(port).query("clinic.test", "TXT")


def test_hostile_txt_bytes_are_kept_but_escaped_in_evidence() -> None:
    with dns_server(answer('clinic.test. 300 IN TXT "v=spf1 \\000\\027[31m -all"')) as (port, _):
        got = client(port).query("clinic.test", "TXT")
    assert "\x00" in got.records[0]
    assert "\x00" not in str(got.evidence_data()) and "\\x00" in str(got.evidence_data())


def test_second_nameserver_is_asked_when_the_first_fails() -> None:
    with dns_server(answer('clinic.test. 300 IN TXT "ok"')) as (port, _):
        dns_client = DnsClient(["127.0.0.2", "127.0.0.1"], timeout=0.3, budget=3, port=port)
        got = dns_client.query("clinic.test", "TXT")
    assert got.records == ("ok",) and got.server == "127.0.0.1"
