"""dns.spf_weak — the SPF policy lets unlisted senders through (RFC 7208 §2.6, §4.7).

``+all`` authorizes everybody, ``?all`` (or no ``all``) says nothing, and ``~all`` is only a
hint unless DMARC tells receivers to act on it (p=quarantine/reject at pct=100). Spoofed mail
from the practice's domain is a phishing risk to manage under 164.308(a)(1)(ii)(B).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.dns.applied import applied_dmarc
from checks.dns.probe import DomainDns, DomainDnsFacts
from checks.dns.spf_eval import SpfResult
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, SkipReason, Target
from scanner.net.text import sanitize


class DnsSpfWeak(SingleProbeCheck[DomainDnsFacts]):
    meta = CheckMeta(
        id="dns.spf_weak",
        title="SPF policy does not reject unlisted senders",
        severity=Severity.MEDIUM,
        applies_to=Applies(domains=True),
        why=(
            "The practice's sender list is too permissive to stop forged mail in its name, which makes phishing of "
            "staff and patients easier."
        ),
        remediation=(
            "End the SPF record with -all once every legitimate sender is listed; ~all is acceptable only with "
            "a DMARC policy of p=quarantine or p=reject at pct=100. Never use +all."
        ),
        description="Follows include/redirect to the policy for unmatched senders and weighs ~all against DMARC.",
    )
    probe = DomainDns

    def judge(self, target: Target, dns: DomainDnsFacts) -> Iterator[Finding | Skip]:
        spf = dns.spf
        if not spf.valid or len(spf.records) != 1:
            yield self.skip(target, SkipReason.NOT_APPLICABLE,
                            f"no valid SPF policy to judge ({spf.problem}; see dns.spf_missing / dns.spf_invalid)")
            return
        dmarc = applied_dmarc(dns)
        severity = None
        if spf.result is SpfResult.FAIL:
            passed, why = True, "unlisted senders fail SPF"
        elif spf.result is SpfResult.PASS:
            passed, why, severity = False, "every host on the Internet passes SPF for this domain", Severity.HIGH
        elif spf.result is SpfResult.SOFTFAIL:
            passed = dmarc.enforcing
            why = (f"softfail, and DMARC p={dmarc.policy} at pct=100 makes receivers act on it" if passed else
                   "softfail is only a hint to receivers, and DMARC does not enforce "
                   f"({dmarc.problem or f'p={dmarc.policy}, pct={dmarc.record.pct if dmarc.record else 100}'})")
        else:
            passed, why = False, "neutral: receivers learn nothing about unlisted senders"
        detail = f"SPF for unlisted senders is {spf.result.value} ({sanitize(spf.policy, 200)}): {why}"
        evidence = dns.evidence("spf-policy", f"SPF policy of {dns.domain}: {spf.result.value}",
                                [*spf.answers, *dns.dmarc.answers],
                                walked=[{"domain": d, "record": sanitize(r, 2048)} for d, r in spf.walked])
        yield self.finding(target, passed=passed, detail=detail, evidence=[evidence], severity=severity)
