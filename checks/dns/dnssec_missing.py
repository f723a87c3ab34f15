"""dns.dnssec_missing — the domain's zone is not signed, or its signatures do not validate (RFC 4033-4035).

Unsigned DNS can be spoofed to redirect the practice's mail and web traffic; the reference
treats it as a risk-management item (164.308(a)(1)(ii)(B)).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.dns.probe import DomainDns, DomainDnsFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, Target
from scanner.net.text import sanitize


class DnsDnssecMissing(SingleProbeCheck[DomainDnsFacts]):
    meta = CheckMeta(
        id="dns.dnssec_missing",
        title="Domain is not protected by DNSSEC",
        severity=Severity.LOW,
        applies_to=Applies(domains=True),
        why=(
            "The practice's DNS answers are not signed, so a forged answer can redirect mail or web traffic without "
            "anyone noticing."
        ),
        remediation=(
            "Turn on DNSSEC signing at the DNS host and publish the DS record at the registrar; re-sign before "
            "signatures expire."
        ),
        description="Checks DNSKEY in the zone, a DS at the parent matching it, and the signatures (now).",
    )
    probe = DomainDns

    def judge(self, target: Target, dns: DomainDnsFacts) -> Iterator[Finding | Skip]:
        sec = dns.dnssec
        zone = f"zone {sec.zone}" + (f" (of {dns.domain})" if sec.zone != dns.domain else "")
        problems = "; ".join(sanitize(p, 160) for p in sec.problems)
        if not sec.signed:
            detail = f"{zone} is not signed: no DNSKEY"
        elif not sec.ds:
            detail = f"{zone} is signed but the parent publishes no DS: resolvers cannot validate it"
        elif not sec.ds_matched_tags:
            detail = f"{zone}: no DS at the parent matches a DNSKEY of the zone (broken chain of trust)"
        elif not sec.chain_valid:
            detail = f"{zone}: signatures do not validate: {problems or 'no valid signature found'}"
        else:
            tags = ", ".join(str(t) for t in sec.ds_matched_tags)
            detail = (f"{zone} is signed: the parent's DS matches key {tags}, and the DNSKEY and SOA signatures "
                      "validate now")
            if sec.resolver_authenticated:
                detail += "; the resolver also validated the chain (AD flag)"
        evidence = dns.evidence("dnssec", f"DNSSEC of {sec.zone}", sec.answers,
                                problems=[sanitize(p, 200) for p in sec.problems[:10]])
        # A PASS only down the whole chain (DNSKEY, DS, a DS matching a key, validated signatures):
        # contradictory facts (validated flags on a zone with no DNSKEY) are never a PASS.
        passed = sec.signed and bool(sec.ds) and bool(sec.ds_matched_tags) and sec.chain_valid
        yield self.finding(target, passed=passed, detail=detail, evidence=[evidence])
