"""dns.mta_sts_missing — no MTA-STS policy record (RFC 8461 §3.1).

Without MTA-STS (or DANE), a sender's STARTTLS to the practice can be stripped by anyone on the
path and inbound ePHI delivered in clear: a gap against the encryption specification
164.312(e)(2)(ii). The scan reads the _mta-sts TXT record; it does not fetch the policy file
from https://mta-sts.<domain>/ (that host is not in the scan's scope) and says so.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.dns.policy_records import read_mta_sts
from checks.dns.probe import DomainDns, DomainDnsFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, Target
from scanner.net.text import sanitize


class DnsMtaStsMissing(SingleProbeCheck[DomainDnsFacts]):
    meta = CheckMeta(
        id="dns.mta_sts_missing",
        title="Domain publishes no MTA-STS policy",
        severity=Severity.LOW,
        applies_to=Applies(domains=True),
        why=(
            "Other mail servers are not told to insist on encryption when they deliver to the practice, so an "
            "attacker on the path can quietly force unencrypted delivery."
        ),
        remediation=(
            "Publish 'v=STSv1; id=<version>' at _mta-sts.<domain> and the policy file at "
            "https://mta-sts.<domain>/.well-known/mta-sts.txt (mode: enforce, mx: your MX hosts)."
        ),
        description="Reads TXT _mta-sts.<domain>; exactly one v=STSv1 record with an id is a policy.",
    )
    probe = DomainDns

    def judge(self, target: Target, dns: DomainDnsFacts) -> Iterator[Finding | Skip]:
        policy = read_mta_sts(dns.mta_sts.records)
        if policy.valid:
            detail = (f"MTA-STS record at _mta-sts.{dns.domain}: {sanitize(policy.record, 120)!r} (the policy file "
                      f"at https://mta-sts.{dns.domain}/.well-known/mta-sts.txt was not fetched: not in scope)")
        else:
            detail = f"no MTA-STS policy at _mta-sts.{dns.domain}: {policy.problem}"
        evidence = dns.evidence("dns-txt", f"TXT _mta-sts.{dns.domain}", [dns.mta_sts])
        yield self.finding(target, passed=policy.valid, detail=detail, evidence=[evidence])
