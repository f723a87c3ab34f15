"""The DMARC policy that applies to a domain, read from the probe's facts (RFC 7489 §6.6.3)."""

from __future__ import annotations

from dataclasses import dataclass

from checks.dns.dmarc import DmarcRecord, DmarcSyntaxError, parse
from checks.dns.probe import DomainDnsFacts


@dataclass(frozen=True)
class AppliedDmarc:
    record: DmarcRecord | None
    policy: str | None  # none / quarantine / reject as applied to the domain; None when unusable
    source: str  # the domain the record was read from
    problem: str  # why no policy applies ("" when one does)

    @property
    def enforcing(self) -> bool:
        """Receivers act on failures for all mail: quarantine or reject, at pct=100."""
        return self.record is not None and self.policy in ("quarantine", "reject") and self.record.pct == 100


def applied_dmarc(facts: DomainDnsFacts) -> AppliedDmarc:
    found = facts.dmarc
    where = f"_dmarc.{facts.domain}" + (f" or _dmarc.{found.org_domain}" if found.org_domain != facts.domain else "")
    if not found.records:
        return AppliedDmarc(None, None, "", f"no DMARC record at {where}")
    if len(found.records) > 1:
        return AppliedDmarc(None, None, found.source, f"{len(found.records)} DMARC records at _dmarc.{found.source}: "
                            "receivers apply none of them (RFC 7489 §6.6.3)")
    try:
        record = parse(found.records[0])
    except DmarcSyntaxError as exc:
        return AppliedDmarc(None, None, found.source, f"the record at _dmarc.{found.source} is unusable: {exc}")
    policy = record.policy_for(subdomain=found.inherited)
    if policy is None:
        return AppliedDmarc(record, None, found.source, f"the record at _dmarc.{found.source} has no valid p= and "
                            "no valid rua=, so receivers ignore it (RFC 7489 §6.6.3)")
    return AppliedDmarc(record, policy, found.source, "")
