"""dns.spf_missing — the domain publishes no SPF record (RFC 7208 §4.5).

Without SPF any host can send mail as the practice's domain; phishing that impersonates the
practice is a reasonably anticipated threat for the risk management of 164.308(a)(1)(ii)(B).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.dns.probe import DomainDns, DomainDnsFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, Target
from scanner.net.text import sanitize


class DnsSpfMissing(SingleProbeCheck[DomainDnsFacts]):
    meta = CheckMeta(
        id="dns.spf_missing",
        title="Domain publishes no SPF record",
        severity=Severity.MEDIUM,
        applies_to=Applies(domains=True),
        why=(
            "Nothing tells other mail servers which servers may send the practice's mail, so forged mail in the "
            "practice's name (phishing staff or patients) is easier to deliver."
        ),
        remediation=(
            "Publish one TXT record at the domain listing the hosts that send its mail, ending in -all, e.g. "
            "'v=spf1 mx include:<your mail provider's SPF domain> -all'."
        ),
        description="Reads the TXT records at the domain and looks for one starting with v=spf1.",
    )
    probe = DomainDns

    def judge(self, target: Target, dns: DomainDnsFacts) -> Iterator[Finding | Skip]:
        records = dns.spf.records
        if records:
            detail = f"SPF record present at {dns.domain}: {sanitize(records[0], 200)!r}" + (
                f" (and {len(records) - 1} more: see dns.spf_invalid)" if len(records) > 1 else "")
        else:
            others = len(dns.apex_txt.records)
            detail = (f"no SPF record at {dns.domain} ({others} other TXT record(s)): any host can send mail "
                      f"claiming to be from @{dns.domain}")
        evidence = dns.evidence("dns-txt", f"TXT {dns.domain}: {len(dns.apex_txt.records)} record(s)", [dns.apex_txt])
        yield self.finding(target, passed=bool(records), detail=detail, evidence=[evidence])
