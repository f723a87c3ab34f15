"""dns.dkim_missing — no DKIM key found under the common selectors (RFC 6376 §3.6.1).

DKIM lets recipients detect that a message claiming to be from the practice was altered or
forged: the nearest safeguard is transmission integrity, 164.312(e)(2)(i). Selectors cannot be
listed through DNS, so "not found" is all a scan can say: the finding says so.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.dns.probe import DomainDns, DomainDnsFacts
from checks.dns.resolver import AnswerStatus
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, Target
from scanner.net.text import sanitize


class DnsDkimMissing(SingleProbeCheck[DomainDnsFacts]):
    meta = CheckMeta(
        id="dns.dkim_missing",
        title="No DKIM key found for the domain",
        severity=Severity.LOW,
        applies_to=Applies(domains=True),
        why=(
            "Outgoing mail carries no signature a receiver can check, so genuine mail is harder to tell from forged "
            "mail and tampering in transit goes unnoticed."
        ),
        remediation=(
            "Turn on DKIM signing at the mail provider and publish its public key at <selector>._domainkey.<domain>. "
            "If signing is already on, rerun with --dkim-selector <selector> so the scan can see the key."
        ),
        description="Looks up TXT <selector>._domainkey.<domain> for common selectors and those given.",
    )
    probe = DomainDns

    def judge(self, target: Target, dns: DomainDnsFacts) -> Iterator[Finding | Skip]:
        dkim = dns.dkim
        usable = [k for k in dkim.keys if k.usable]
        if usable:
            found = ", ".join(f"{k.selector}._domainkey.{dns.domain} ({sanitize(k.key_type, 20)})" for k in usable)
            detail = f"DKIM key found at {found}"
        else:
            detail = (f"no DKIM key found under the {len(dkim.selectors)} selectors tried "
                      f"({', '.join(dkim.selectors)}); selectors cannot be listed through DNS, so this means "
                      "'not found', not 'absent': give your provider's selector with --dkim-selector")
            if dkim.domainkey.status is AnswerStatus.NXDOMAIN:
                detail += f"; _domainkey.{dns.domain} does not exist, so no selector exists below it (RFC 8020)"
            unusable = [f"{k.selector}: {'revoked (empty p=)' if k.revoked else sanitize(k.problem, 80)}"
                        for k in dkim.keys]
            if unusable:
                detail += "; unusable key records: " + "; ".join(unusable)
        evidence = dns.evidence("dns-txt", f"DKIM selectors tried for {dns.domain}: {len(dkim.selectors)}",
                                [dkim.domainkey, *dkim.answers], selectors=list(dkim.selectors))
        yield self.finding(target, passed=bool(usable), detail=detail, evidence=[evidence])
