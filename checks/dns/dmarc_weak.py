"""dns.dmarc_weak — the DMARC policy does not protect (RFC 7489 §6.3).

``p=none`` only monitors, ``pct`` below 100 exempts part of the mail, ``sp=none`` leaves
subdomains open, and without ``rua`` nobody sees the aggregate reports that show abuse. A
risk-management gap (164.308(a)(1)(ii)(B)), like the missing policy.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.dns.applied import applied_dmarc
from checks.dns.probe import DomainDns, DomainDnsFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, SkipReason, Target
from scanner.net.text import sanitize


class DnsDmarcWeak(SingleProbeCheck[DomainDnsFacts]):
    meta = CheckMeta(
        id="dns.dmarc_weak",
        title="DMARC policy does not enforce or report",
        severity=Severity.LOW,
        applies_to=Applies(domains=True),
        why=(
            "The practice's anti-forgery policy only monitors; forged mail in its name is still delivered."
        ),
        remediation=(
            "Move the DMARC policy to p=quarantine or p=reject at pct=100 (the default), do not set sp=none, and add "
            "rua=mailto:<address> so that someone reads the aggregate reports."
        ),
        description="Judges the applied policy (p, or sp for a subdomain), pct, sp and rua.",
    )
    probe = DomainDns

    def judge(self, target: Target, dns: DomainDnsFacts) -> Iterator[Finding | Skip]:
        applied = applied_dmarc(dns)
        record = applied.record
        if applied.policy is None or record is None:
            yield self.skip(target, SkipReason.NOT_APPLICABLE, f"no usable DMARC policy to judge ({applied.problem}; "
                            "see dns.dmarc_missing)")
            return
        weaknesses = []
        if applied.policy == "none":
            weaknesses.append("p=none only monitors: failing mail is delivered" if not dns.dmarc.inherited else
                              f"the policy for subdomains of {applied.source} is none")
        if record.pct < 100:
            weaknesses.append(f"pct={record.pct}: the policy applies to {record.pct}% of failing mail only")
        if record.sp == "none" and applied.policy != "none":
            weaknesses.append("sp=none leaves subdomains unprotected")
        if not record.rua:
            weaknesses.append("no rua: nobody receives aggregate reports")
        weaknesses += [sanitize(p, 160) for p in record.problems]
        source = f"_dmarc.{applied.source}"
        if weaknesses:
            detail = f"DMARC at {source} is weak: " + "; ".join(weaknesses)
        else:
            detail = (f"DMARC at {source} enforces p={applied.policy} on all mail and reports to "
                      f"{len(record.rua)} URI(s)")
        evidence = dns.evidence("dns-txt", f"DMARC record {source}", dns.dmarc.answers,
                                applied_policy=applied.policy, pct=record.pct, sp=record.sp,
                                rua=[sanitize(u, 200) for u in record.rua])
        yield self.finding(target, passed=not weaknesses, detail=detail, evidence=[evidence])
