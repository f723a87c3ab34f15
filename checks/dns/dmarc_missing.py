"""dns.dmarc_missing — no usable DMARC policy for the domain (RFC 7489 §6.6.3).

Looked up at _dmarc.<domain> and, for a subdomain, at _dmarc.<organizational domain>. Without a
usable policy receivers have no instruction for mail that fails SPF/DKIM: a spoofing risk for
the risk management of 164.308(a)(1)(ii)(B).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.dns.applied import applied_dmarc
from checks.dns.probe import DomainDns, DomainDnsFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, Target
from scanner.net.text import sanitize


class DnsDmarcMissing(SingleProbeCheck[DomainDnsFacts]):
    meta = CheckMeta(
        id="dns.dmarc_missing",
        title="Domain has no usable DMARC policy",
        severity=Severity.MEDIUM,
        applies_to=Applies(domains=True),
        why=(
            "Receiving mail servers are not told to reject forged mail that uses the practice's name, and the "
            "practice gets no reports of such abuse."
        ),
        remediation=(
            "Publish one TXT record at _dmarc.<domain>, e.g. 'v=DMARC1; p=none; rua=mailto:dmarc@<domain>' to start "
            "collecting reports, then move to p=quarantine and p=reject."
        ),
        description="Reads _dmarc.<domain> (and the organizational domain's record for a subdomain).",
    )
    probe = DomainDns

    def judge(self, target: Target, dns: DomainDnsFacts) -> Iterator[Finding | Skip]:
        applied = applied_dmarc(dns)
        if applied.policy is None:
            detail = applied.problem
        else:
            inherited = f", inherited from the organizational domain {applied.source}" if dns.dmarc.inherited else ""
            record = sanitize(dns.dmarc.records[0], 200)
            detail = f"DMARC policy p={applied.policy} applies to {dns.domain}{inherited}: {record!r}"
        evidence = dns.evidence("dns-txt", f"DMARC lookup for {dns.domain}", dns.dmarc.answers,
                                source=applied.source)
        yield self.finding(target, passed=applied.policy is not None, detail=detail, evidence=[evidence])
