"""dns.spf_invalid — the SPF record is a permerror (RFC 7208 §4.5, §4.6, §4.6.4, §5.2).

Receivers treat a permerror like no SPF at all: a syntax error, two records, more than 10
DNS-querying terms, more than 2 void lookups, an include loop or an include of a name without
SPF silently disables the practice's spoofing protection (164.308(a)(1)(ii)(B)).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.dns.probe import DomainDns, DomainDnsFacts
from checks.dns.spf_eval import MAX_DNS_TERMS, MAX_VOID_LOOKUPS, SpfResult
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Skip, SkipReason, Target, Undetermined
from scanner.net.text import sanitize


class DnsSpfInvalid(SingleProbeCheck[DomainDnsFacts]):
    meta = CheckMeta(
        id="dns.spf_invalid",
        title="SPF record is invalid (receivers ignore it)",
        severity=Severity.MEDIUM,
        applies_to=Applies(domains=True),
        why=(
            "The practice's sender list has an error, so receiving servers may ignore it and forged mail in the "
            "practice's name gets through more easily."
        ),
        remediation=(
            "Publish exactly one v=spf1 record; fix its syntax; keep include/a/mx/ptr/exists/redirect terms at 10 "
            "or fewer across all includes (replace includes by ip4:/ip6: ranges where possible) and remove terms "
            "that point at names that do not exist."
        ),
        description="Parses the record and walks every include/redirect, counting DNS lookups and void lookups.",
    )
    probe = DomainDns

    def judge(self, target: Target, dns: DomainDnsFacts) -> Iterator[Finding | Skip | Undetermined]:
        spf = dns.spf
        if spf.result is SpfResult.NONE or not spf.records:
            yield self.skip(target, SkipReason.NOT_APPLICABLE, "no SPF record to validate (see dns.spf_missing)")
            return
        if spf.result is SpfResult.TEMPERROR:
            raise RuntimeError(f"SPF temperror in collected facts: {spf.problem}")  # the probe raises instead
        counts = (f"{spf.dns_terms} DNS-querying term(s) (limit {MAX_DNS_TERMS}), {spf.void_lookups} void "
                  f"lookup(s) (limit {MAX_VOID_LOOKUPS})")
        if spf.result is not SpfResult.PERMERROR and len(spf.records) > 1:
            # RFC 7208 §4.5: more than one record is a permerror; an evaluation that says otherwise
            # did not judge the records it was given.
            yield self.undetermined(target, ErrorReason.PROTOCOL, f"{len(spf.records)} SPF records but the "
                                    f"evaluation says {spf.result.value}, not permerror: not judged")
            return
        if spf.result is SpfResult.PERMERROR:
            detail = f"SPF permerror, so receivers ignore the policy: {sanitize(spf.problem, 300)}; counted {counts}"
        else:
            detail = f"one valid SPF record; {counts}"
            if spf.notes:
                detail += "; note: " + "; ".join(sanitize(n, 160) for n in spf.notes)
        evidence = dns.evidence("spf-evaluation", f"SPF of {dns.domain}: {spf.result.value}", spf.answers,
                                walked=[{"domain": d, "record": sanitize(r, 2048)} for d, r in spf.walked],
                                dns_terms=spf.dns_terms, void_lookups=spf.void_lookups,
                                problem=sanitize(spf.problem, 400), problem_kind=spf.problem_kind)
        yield self.finding(target, passed=spf.result is not SpfResult.PERMERROR, detail=detail, evidence=[evidence])
