"""mail.consumer_provider — the practice's mail is handled by a consumer mailbox service.

Read from the MX host names the lab or the practice's DNS serves (names only, never resolved
or contacted), or from the domain itself when the technician gives an address domain such as
gmail.com. A mailbox provider that stores ePHI is a business associate; consumer tiers sign no
BAA: a gap against 164.308(b)(1) and 164.314(a)(1). The finding names the provider and says a
BAA must be verified rather than asserting a violation.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.dns.probe import DomainDns, DomainDnsFacts
from checks.mail.providers import provider_of_address_domain, provider_of_mx
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Skip, Target, ThirdParty
from scanner.net.text import sanitize


def mx_hosts(records: tuple[str, ...]) -> list[str]:
    """Exchange names of MX records ("10 mail.example.com."), by preference; "." is a null MX (RFC 7505)."""
    pairs = []
    for record in records:
        preference, _, host = record.partition(" ")
        pairs.append((int(preference) if preference.isdigit() else 65536, host.strip().rstrip(".").lower()))
    return [host for _, host in sorted(pairs)]


class MailConsumerProvider(SingleProbeCheck[DomainDnsFacts]):
    meta = CheckMeta(
        id="mail.consumer_provider",
        title="Practice mail is handled by a consumer mailbox service (no BAA)",
        severity=Severity.HIGH,
        applies_to=Applies(domains=True),
        why=(
            "Practice mail is kept by a consumer mail service that does not sign a business associate agreement. "
            "Any patient information in that mailbox is held by a vendor with no HIPAA contract."
        ),
        remediation=(
            "Move practice mail to a business mail service that signs a HIPAA business associate agreement "
            "(e.g. Google Workspace or Microsoft 365 with the BAA accepted) and keep the signed BAA on file."
        ),
        description="Matches the MX host names (and the domain itself) against known consumer mail services.",
    )
    probe = DomainDns

    def judge(self, target: Target, dns: DomainDnsFacts) -> Iterator[Finding | Skip]:
        hosts = mx_hosts(dns.mx.records)
        own = provider_of_address_domain(dns.domain)
        found = {h: p for h in hosts if (p := provider_of_mx(h)) is not None}
        consumer = sorted({p.name for p in found.values() if p.consumer} | ({own.name} if own else set()))
        shown = ", ".join(sanitize(h, 100) for h in hosts) or "none"
        named = consumer or sorted({p.name for p in found.values()})  # the consumer ones, else the business ones
        if consumer:
            via = f"the domain itself is a {own.name} address domain" if own else f"MX {shown}"
            detail = (f"mail for {dns.domain} is handled by {', '.join(consumer)} ({via}): consumer services do "
                      "not sign a HIPAA BAA; verify a BAA or move practice mail to a business tier")
        elif found:
            detail = f"MX {shown}: {', '.join(named)}; a business tier can sign a BAA: verify that it is signed"
        elif hosts == [""] or not hosts:
            detail = f"{dns.domain} publishes {'a null MX' if hosts else 'no MX'}: it receives no mail by MX"
        else:
            detail = f"MX {shown}: no consumer mailbox service recognised"
        evidence = dns.evidence("dns-mx", f"MX {dns.domain}: {len(hosts)} host(s)", [dns.mx],
                                mx_hosts=[sanitize(h, 255) for h in hosts])
        yield self.finding(target, passed=not consumer, detail=detail, evidence=[evidence],
                           third_parties=[ThirdParty(vendor=name, service="Email hosting") for name in named])
