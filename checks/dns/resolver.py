"""DNS lookups for the domain checks: dnspython against the nameservers named with --nameserver.

Only those servers are asked (the scope guard allows no other during a scan), each query with
a timeout, the whole probe within a deadline. What the server says about a name is a fact:
an answer, NXDOMAIN or NODATA (``DnsAnswer.status``). What it does not say is an error:
SERVFAIL, REFUSED, a timeout or a malformed reply raise a ``ProbeError``, never an empty
answer that a check could mistake for "no record" (RFC 7208 §2.6.6 calls that a temperror).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from scanner.errors import ProbeError, ProbeRefused, ProbeTimeout, ProtocolError, translate_os_error
from scanner.models import ErrorReason, utcnow
from scanner.net.text import sanitize

EDNS_PAYLOAD = 1232  # the DNS Flag Day 2020 size: big enough for DNSKEY sets, no fragmentation
MAX_CNAME_HOPS = 4
UDP_TRIES = 2


class AnswerStatus(StrEnum):
    OK = "ok"
    NXDOMAIN = "nxdomain"  # RCODE 3: the name does not exist
    NODATA = "nodata"  # the name exists, but has no record of this type


@dataclass(frozen=True)
class DnsAnswer:
    """One question and what the server answered, as text (a fact a check can re-read)."""

    name: str  # as asked: lower-case, no trailing dot
    rdtype: str  # "TXT", "MX", ...
    status: AnswerStatus
    records: tuple[str, ...] = ()  # TXT: the joined character-strings (RFC 7208 §3.3); else rdata text
    server: str = ""
    queried_at: datetime = field(default_factory=utcnow)
    authenticated: bool = False  # the resolver's AD flag (RFC 4035 §3.2.3)
    canonical_name: str = ""  # the CNAME target the records belong to, when different

    @property
    def void(self) -> bool:
        """No records: NXDOMAIN or NODATA (a "void lookup", RFC 7208 §4.6.4)."""
        return not self.records

    def evidence_data(self) -> dict[str, object]:
        return {"name": self.name, "type": self.rdtype, "status": self.status.value,
                "records": [sanitize(r, 2048) for r in self.records], "server": self.server,
                "queried_at": self.queried_at.isoformat()}


def normalize(name: str) -> str:
    return name.strip().rstrip(".").lower()


class DnsClient:
    """Asks the given nameservers, in order, until one answers definitively.

    ``budget`` is the total seconds all queries of this client may take (the probe's own
    deadline: the runner cannot stop a thread, so the probe must stop itself).
    """

    def __init__(self, nameservers: Sequence[str], *, timeout: float, budget: float, port: int = 53) -> None:
        if not nameservers:
            raise ProbeError(
                "no --nameserver given: domain checks ask only the DNS servers named on the command line "
                "(the scan's scope allows no other); rerun with --nameserver <the practice's resolver>",
                ErrorReason.OUT_OF_SCOPE,
            )
        self.nameservers = tuple(nameservers)
        self.port = port
        self.timeout = timeout
        self.deadline = time.monotonic() + budget
        self.budget = budget
        self.queries = 0

    def _remaining(self, what: str) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0.05:
            raise ProbeTimeout(f"DNS lookups did not finish within {self.budget:.0f} s (at {what})")
        return min(self.timeout, remaining)

    def message(self, name: str, rdtype: str, *, dnssec: bool = False) -> tuple[dns.message.Message, str]:
        """The raw response of the first server that gives a definitive answer, and its address."""
        what = f"{rdtype} {normalize(name)}"
        failures: list[ProbeError] = []
        for server in self.nameservers:
            query = dns.message.make_query(normalize(name) + ".", rdtype, use_edns=0, payload=EDNS_PAYLOAD,
                                           want_dnssec=dnssec)
            if dnssec:
                query.flags |= dns.flags.AD  # RFC 6840 §5.7: ask a validating resolver to report AD
            try:
                response = self._ask(query, server, what)
            except ProbeError as exc:
                failures.append(exc)
                continue
            rcode = response.rcode()
            if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                return response, server
            text = dns.rcode.to_text(rcode)
            if rcode == dns.rcode.REFUSED:
                failures.append(ProbeRefused(f"DNS {what}: {server} answered REFUSED (not authoritative for "
                                             "the name and not recursive for us?)"))
            else:
                failures.append(ProbeError(f"DNS {what}: {server} answered {text}", ErrorReason.PROTOCOL))
        if len(failures) == 1:
            raise failures[0]
        raise type(failures[-1])("; ".join(str(f) for f in failures), failures[-1].reason)

    def _ask(self, query: dns.message.Message, server: str, what: str) -> dns.message.Message:
        """One server, with one more try after a timeout (a lost UDP datagram is common)."""
        for attempt in range(UDP_TRIES):
            self.queries += 1
            try:
                response, _tcp = dns.query.udp_with_fallback(query, server, timeout=self._remaining(what),
                                                             port=self.port)
                return response
            except dns.exception.Timeout:
                if attempt + 1 == UDP_TRIES:
                    raise ProbeTimeout(f"DNS {what}: no answer from {server} in {UDP_TRIES} tries") from None
            except dns.exception.DNSException as exc:
                raise ProtocolError(f"DNS {what}: malformed reply from {server}: {exc}") from exc
            except OSError as exc:
                raise translate_os_error(exc, f"DNS {what} to {server}") from exc
        raise AssertionError("unreachable")

    def query(self, name: str, rdtype: str, *, _hops: int = 0) -> DnsAnswer:
        """One lookup as a fact. Follows CNAMEs (within the reply, then by asking again)."""
        asked = normalize(name)
        response, server = self.message(asked, rdtype)
        if not isinstance(response, dns.message.QueryMessage):
            raise ProtocolError(f"DNS {rdtype} {asked}: the reply is not a query response")
        chain = response.resolve_chaining()
        canonical = normalize(chain.canonical_name.to_text())
        authenticated = bool(response.flags & dns.flags.AD)
        if chain.answer is None and response.rcode() == dns.rcode.NOERROR and canonical != asked:
            if _hops >= MAX_CNAME_HOPS:
                raise ProtocolError(f"DNS {rdtype} {asked}: CNAME chain longer than {MAX_CNAME_HOPS}")
            target = self.query(canonical, rdtype, _hops=_hops + 1)
            return DnsAnswer(asked, rdtype, target.status, target.records, server, target.queried_at,
                             False, target.canonical_name or canonical)
        if response.rcode() == dns.rcode.NXDOMAIN:
            status = AnswerStatus.NXDOMAIN
            records: tuple[str, ...] = ()
        else:
            records = rrset_values(chain.answer) if chain.answer is not None else ()
            status = AnswerStatus.OK if records else AnswerStatus.NODATA
        return DnsAnswer(asked, rdtype, status, records, server, utcnow(), authenticated,
                         canonical if canonical != asked else "")


def rrset_values(rrset: dns.rrset.RRset) -> tuple[str, ...]:
    """Record values as text; TXT character-strings joined without spaces (RFC 7208 §3.3)."""
    values = []
    for rdata in rrset:
        if rrset.rdtype == dns.rdatatype.TXT:
            values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
        else:
            values.append(rdata.to_text())
    return tuple(values)
