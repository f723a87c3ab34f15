"""dns.tls_rpt_missing — no SMTP TLS reporting record (RFC 8460 §3).

Without TLS-RPT nobody learns that senders failed to reach the practice over TLS (a downgrade,
an expired certificate): the encryption of inbound ePHI (164.312(e)(2)(ii)) fails silently.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.dns.policy_records import read_tls_rpt
from checks.dns.probe import DomainDns, DomainDnsFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, Target
from scanner.net.text import sanitize


class DnsTlsRptMissing(SingleProbeCheck[DomainDnsFacts]):
    meta = CheckMeta(
        id="dns.tls_rpt_missing",
        title="Domain publishes no SMTP TLS reporting (TLS-RPT) record",
        severity=Severity.LOW,
        applies_to=Applies(domains=True),
        why=(
            "The practice receives no reports when other servers fail to deliver its mail securely, so attacks on "
            "mail encryption go unseen."
        ),
        remediation="Publish 'v=TLSRPTv1; rua=mailto:tls-reports@<domain>' at _smtp._tls.<domain>.",
        description="Reads TXT _smtp._tls.<domain>; exactly one v=TLSRPTv1 record with a rua is a policy.",
    )
    probe = DomainDns

    def judge(self, target: Target, dns: DomainDnsFacts) -> Iterator[Finding | Skip]:
        policy = read_tls_rpt(dns.tls_rpt.records)
        if policy.valid:
            detail = f"TLS-RPT record at _smtp._tls.{dns.domain}: {sanitize(policy.record, 160)!r}"
        else:
            detail = f"no TLS-RPT policy at _smtp._tls.{dns.domain}: {policy.problem}"
        evidence = dns.evidence("dns-txt", f"TXT _smtp._tls.{dns.domain}", [dns.tls_rpt])
        yield self.finding(target, passed=policy.valid, detail=detail, evidence=[evidence])
