"""A dict-backed DNS for unit tests of the SPF/DMARC evaluation and the domain checks (no network)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from checks.dns.resolver import AnswerStatus, DnsAnswer, normalize
from checks.dns.spf_eval import SpfTempError

Zone = Mapping[tuple[str, str], Sequence[str]]


class FakeDns:
    """``lookup(name, rdtype)`` over a {(name, type): [values]} table.

    A name with no entry of any type and nothing below it is NXDOMAIN; otherwise NODATA.
    Names in ``failing`` raise SpfTempError (a SERVFAIL); every question asked is recorded.
    """

    def __init__(self, zone: Zone, failing: Sequence[str] = ()) -> None:
        self.zone = {(normalize(n), t.upper()): tuple(v) for (n, t), v in zone.items()}
        self.names = {n for n, _ in self.zone}
        self.failing = {normalize(n) for n in failing}
        self.asked: list[tuple[str, str]] = []

    def __call__(self, name: str, rdtype: str) -> DnsAnswer:
        name = normalize(name)
        self.asked.append((name, rdtype))
        if name in self.failing:
            raise SpfTempError(f"SERVFAIL for {rdtype} {name}")
        records = self.zone.get((name, rdtype), ())
        if records:
            status = AnswerStatus.OK
        elif name in self.names or any(n.endswith("." + name) for n in self.names):
            status = AnswerStatus.NODATA  # the name, or an empty non-terminal above names (RFC 8020)
        else:
            status = AnswerStatus.NXDOMAIN
        return DnsAnswer(name, rdtype, status, records, server="127.0.0.1")

    # DnsClient-compatible: the probe calls client.query(name, rdtype).
    def query(self, name: str, rdtype: str) -> DnsAnswer:
        return self(name, rdtype)


def test_fake_dns_distinguishes_nxdomain_from_nodata() -> None:
    dns = FakeDns({("a.test", "TXT"): ["x"]})
    assert dns("a.test", "TXT").status is AnswerStatus.OK
    assert dns("a.test", "MX").status is AnswerStatus.NODATA
    assert dns("b.test", "MX").status is AnswerStatus.NXDOMAIN
    assert FakeDns({("x.a.test", "A"): ["192.0.2.1"]})("a.test", "A").status is AnswerStatus.NODATA
