"""endpoint.patches_pending — security updates wait too long, or nothing has been installed lately.

Keeping systems patched is part of risk management and protection from malicious software (45 CFR
164.308(a)(1)(ii)(B), 164.308(a)(5)(ii)(B)); the proposed Security Rule update (January 2025)
would set 15 days for critical patches and 30 for the rest, the defaults here
(``settings: {endpoint.patches_pending: {critical_days, other_days, max_days_without_update}}``).

FAIL when a security update whose issue date is known has waited longer than its limit (dnf's
advisories carry one); when a security update is pending whose date is not known (apt, macOS)
and nothing was installed for longer than the critical limit (patching does not keep up); or when
no update at all was installed for ``max_days_without_update``. Judged at the time of collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import Field

from scanner.check import Applies, CheckMeta, CheckSettings
from scanner.models import ErrorReason, Severity, Target

from .base import EndpointCheck, Item
from .inventory import EndpointInventory, Patches, PendingUpdate, evidence_of
from .probe import EndpointFacts


def _days(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 86400


class PatchSettings(CheckSettings):
    """``settings: {endpoint.patches_pending: {critical_days, other_days, max_days_without_update}}``."""

    critical_days: float = Field(default=15.0, gt=0, le=3650)
    other_days: float = Field(default=30.0, gt=0, le=3650)
    max_days_without_update: float = Field(default=30.0, gt=0, le=3650)


def _limit(update: PendingUpdate, limits: PatchSettings) -> float:
    return limits.critical_days if (update.severity or "").lower() == "critical" else limits.other_days


class PatchesPending(EndpointCheck[Patches]):
    meta = CheckMeta(
        id="endpoint.patches_pending",
        title="Security updates are pending too long",
        severity=Severity.HIGH,
        applies_to=Applies(hosts=True),
        why=(
            "Fixes for known security flaws are available for this computer but have not been installed. Attackers "
            "use such published flaws within days, so delays leave the door open."
        ),
        remediation=(
            "Install the pending updates and turn on automatic security updates: Debian/Ubuntu "
            "unattended-upgrades, Fedora/RHEL dnf-automatic, macOS 'Install Security Responses and system files', "
            "Windows Update for Business or the RMM's patch policy with a 15-day deadline for critical fixes."
        ),
        description="Lists pending updates from the local package lists and when updates were last installed.",
        settings_model=PatchSettings,
    )
    section = "patches"

    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      patches: Patches) -> Iterator[Item]:
        now = inv.collected_at
        limits = self.settings_as(PatchSettings)
        security = [u for u in patches.pending if u.security]
        ev = evidence_of("endpoint-patches", f"{patches.source}: {len(patches.pending)} pending "
                         f"({len(security)} security); last install "
                         f"{patches.last_install.isoformat() if patches.last_install else 'unknown'}",
                         patches.observations, inv.collected_by)
        reasons: list[str] = []
        for update in security:
            if update.published is not None and _days(now, update.published) > _limit(update, limits):
                reasons.append(f"{update.package} {update.available} ({update.origin}, "
                               f"{update.severity or 'unrated'}) issued {update.published.date()}, pending "
                               f"{_days(now, update.published):.0f} days (limit {_limit(update, limits):.0f})")
        since = _days(now, patches.last_install) if patches.last_install else None
        undated = [u for u in security if u.published is None]
        if undated and since is not None and since > limits.critical_days:
            names = ", ".join(f"{u.package} {u.available}" for u in undated[:5])
            reasons.append(f"{len(undated)} security update(s) pending ({names}{', …' if len(undated) > 5 else ''}; "
                           f"from {undated[0].origin}) and nothing installed for {since:.0f} days "
                           f"(limit {limits.critical_days:.0f})")
        if since is not None and since > limits.max_days_without_update:
            reasons.append(f"no update installed for {since:.0f} days (limit {limits.max_days_without_update:.0f})")
        head = f"{ep.host} ({patches.source})"
        if reasons:
            yield self.finding(target, passed=False, evidence=[ev], detail=f"{head}: " + "; ".join(reasons))
            return
        if since is None:
            yield self.undetermined(target, ErrorReason.PROTOCOL,
                                    f"{head}: {len(security)} security update(s) pending; when updates were last "
                                    f"installed is unknown ({patches.last_install_note})", evidence=[ev])
            return
        pending = (f"{len(security)} security update(s) pending, issued within their limits or of unknown date"
                   if security else "no security update pending")
        if not patches.pending_known:
            pending = "pending updates are not visible to this collector"
        yield self.finding(target, passed=True, evidence=[ev],
                           detail=f"{head}: {pending}; last install {since:.0f} days before collection "
                                  f"({patches.last_install_note})")
