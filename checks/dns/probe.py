"""One DNS probe per --domain, shared by every domain check (SPF, DMARC, DKIM, MTA-STS, TLS-RPT,
DNSSEC, consumer mail provider): all the TXT/MX/DNSKEY/DS facts, asked of the --nameserver
servers only, within the profile's timeouts.

A lookup that fails (SERVFAIL, REFUSED, timeout) fails the probe, so every domain check of that
domain becomes an ``error`` naming the query: judging from a partial answer could turn a
resolver problem into a comforting PASS. NXDOMAIN and NODATA are facts, except NXDOMAIN for
the domain itself, which means the domain given does not exist (an error: probably a typo).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from checks.dns import dnssec
from checks.dns.dmarc import dmarc_records
from checks.dns.orgdomain import organizational_domain
from checks.dns.policy_records import COMMON_DKIM_SELECTORS, DkimKey, parse_dkim_key
from checks.dns.resolver import AnswerStatus, DnsAnswer, DnsClient, normalize
from checks.dns.spf_eval import SpfAnalysis, analyze
from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeError
from scanner.models import ErrorReason, Evidence, Target, utcnow

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class DmarcDiscovery:
    """RFC 7489 §6.6.3: _dmarc.<domain>, else _dmarc.<organizational domain>."""

    domain: str
    org_domain: str
    source: str  # the domain whose _dmarc record applies; "" when none does
    records: tuple[str, ...]  # the DMARC records found at ``source`` (or at the domain)
    answers: tuple[DnsAnswer, ...]

    @property
    def inherited(self) -> bool:
        return bool(self.source) and self.source != self.domain


@dataclass(frozen=True)
class DkimLookup:
    selectors: tuple[str, ...]
    answers: tuple[DnsAnswer, ...]  # one per selector, in order
    domainkey: DnsAnswer  # TXT _domainkey.<domain>: NXDOMAIN there means nothing below (RFC 8020)
    keys: tuple[DkimKey, ...]  # every key-like record found (usable or not)


@dataclass(frozen=True)
class DomainDnsFacts:
    domain: str
    nameservers: tuple[str, ...]
    collected_at: datetime
    apex_txt: DnsAnswer
    mx: DnsAnswer
    spf: SpfAnalysis
    dmarc: DmarcDiscovery
    dkim: DkimLookup
    mta_sts: DnsAnswer
    tls_rpt: DnsAnswer
    dnssec: dnssec.DnssecFacts
    queries: int = 0

    def evidence(self, kind: str, summary: str, answers: tuple[DnsAnswer, ...] | list[DnsAnswer],
                 **extra: object) -> Evidence:
        """Evidence of DNS answers: each record as served, the server that answered and when."""
        return Evidence(
            kind=kind, summary=summary,
            data={"domain": self.domain, "resolvers": list(self.nameservers),
                  "answers": [a.evidence_data() for a in answers], **extra},
            collected_at=min((a.queried_at for a in answers), default=self.collected_at),
            method=f"DNS queries to {', '.join(self.nameservers)} (UDP, TCP when truncated)",
        )


def valid_domain(name: str) -> bool:
    labels = name.split(".")
    return len(name) <= 253 and len(labels) >= 2 and all(_LABEL.match(label) for label in labels)


def _dmarc(client: DnsClient, domain: str) -> DmarcDiscovery:
    org = organizational_domain(domain)
    first = client.query(f"_dmarc.{domain}", "TXT")
    records = dmarc_records(first.records)
    if records or org == domain:
        return DmarcDiscovery(domain, org, domain if records else "", tuple(records), (first,))
    fallback = client.query(f"_dmarc.{org}", "TXT")
    org_records = dmarc_records(fallback.records)
    return DmarcDiscovery(domain, org, org if org_records else "", tuple(org_records), (first, fallback))


def _dkim(client: DnsClient, domain: str, extra: tuple[str, ...]) -> DkimLookup:
    selectors = tuple(dict.fromkeys((*COMMON_DKIM_SELECTORS, *extra)))
    parent = client.query(f"_domainkey.{domain}", "TXT")
    answers = tuple(client.query(f"{s}._domainkey.{domain}", "TXT") for s in selectors)
    keys = []
    for selector, answer in zip(selectors, answers, strict=True):
        for value in answer.records:
            key = parse_dkim_key(selector, value)
            if key is not None:
                keys.append(key)
    return DkimLookup(selectors, answers, parent, tuple(keys))


class DomainDns(Probe[DomainDnsFacts]):
    """Every DNS fact the domain checks need, from the --nameserver servers."""

    name = "domain-dns"

    @classmethod
    def applies(cls, target: Target) -> bool:
        return target.domain is not None and target.host is None

    def collect(self, target: Target, ctx: ProbeContext) -> DomainDnsFacts:
        assert target.domain is not None
        domain = normalize(target.domain)
        if not valid_domain(domain):
            raise ProbeError(f"{target.domain!r} is not a domain name", ErrorReason.PROTOCOL)
        client = DnsClient(ctx.nameservers, timeout=ctx.timeouts.read, budget=ctx.remaining(ctx.timeouts.probe) * 0.9)
        started = utcnow()
        apex = client.query(domain, "TXT")
        if apex.status is AnswerStatus.NXDOMAIN:
            raise ProbeError(f"domain {domain} does not exist (NXDOMAIN from {apex.server})", ErrorReason.PROTOCOL)
        mx = client.query(domain, "MX")

        def lookup(name: str, rdtype: str) -> DnsAnswer:
            return apex if (name, rdtype) == (domain, "TXT") else client.query(name, rdtype)

        spf = analyze(domain, lookup)
        dmarc = _dmarc(client, domain)
        selectors = tuple((ctx.settings or {}).get("dkim_selectors", ()))
        dkim = _dkim(client, domain, selectors)
        mta_sts = client.query(f"_mta-sts.{domain}", "TXT")
        tls_rpt = client.query(f"_smtp._tls.{domain}", "TXT")
        zone = dnssec.collect(client, domain)
        return DomainDnsFacts(domain, client.nameservers, started, apex, mx, spf, dmarc, dkim, mta_sts, tls_rpt,
                              zone, client.queries)
