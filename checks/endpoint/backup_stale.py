"""endpoint.backup_stale — the newest successful backup is older than the profile's limit.

A backup plan is only as good as its newest copy (45 CFR 164.308(a)(7)(ii)(A)); the proposed
update of the Security Rule (January 2025) would require copies no older than 48 hours, the
default here (``settings: {endpoint.backup_stale: {max_age_hours: N}}``). Judged against the time
of collection, one finding per backup job; a job whose last success could not be read is
``error`` (e.g. restic, whose snapshot times are inside the encrypted repository).
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from scanner.check import Applies, CheckMeta, CheckSettings
from scanner.models import ErrorReason, Severity, Skip, SkipReason, Target

from .backup_checks import age_hours, job_evidence, job_label, third_parties
from .base import EndpointCheck, Item
from .inventory import Backups, EndpointInventory
from .probe import EndpointFacts


class BackupAgeSettings(CheckSettings):
    """``settings: {endpoint.backup_stale: {max_age_hours: N}}``."""

    max_age_hours: float = Field(default=48.0, gt=0, le=24 * 366)


class BackupStale(EndpointCheck[Backups]):
    meta = CheckMeta(
        id="endpoint.backup_stale",
        title="Newest backup is older than the allowed age",
        severity=Severity.HIGH,
        applies_to=Applies(hosts=True),
        why=(
            "A backup is configured but has not completed recently. Restoring after a failure or ransomware would "
            "lose every record entered since the last good copy."
        ),
        remediation=(
            "Find why the job stopped (restic/borg: the timer or cron log; Time Machine: the destination disk; "
            "Veeam: the last session's error), run it now, and alert on failed runs; keep copies under 48 hours old."
        ),
        description="Compares each backup job's newest successful copy with the time of collection.",
        settings_model=BackupAgeSettings,
    )
    section = "backup"

    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      backups: Backups) -> Iterator[Item]:
        if not backups.jobs:
            yield Skip(target=target, reason=SkipReason.NOT_APPLICABLE,
                       detail=f"{ep.host}: no backup configured (endpoint.backup_missing reports it)")
            return
        limit = self.settings_as(BackupAgeSettings).max_age_hours
        for job in backups.jobs:
            ev = job_evidence(backups, job, inv.collected_by)
            label = f"{ep.host}: {job_label(job)}"
            if job.time_unknown:
                yield self.undetermined(target, ErrorReason.PERMISSION if "password" in job.time_unknown
                                        else ErrorReason.PROTOCOL, f"{label}: last backup time unknown — "
                                        f"{job.time_unknown}", evidence=[ev], discriminator=job_label(job))
                continue
            age = age_hours(job, inv.collected_at)
            if age is None:
                yield self.finding(target, passed=False, evidence=[ev], discriminator=job_label(job),
                                   third_parties=third_parties(job),
                                   detail=f"{label}: no successful backup found ({job.last_note or 'none recorded'})")
                continue
            passed = age <= limit
            when = job.last_success.isoformat() if job.last_success else "?"
            yield self.finding(target, passed=passed, evidence=[ev], discriminator=job_label(job),
                               third_parties=third_parties(job),
                               detail=f"{label}: newest backup {when}, {age:.0f} h before collection "
                                      f"(limit {limit:.0f} h; {job.last_note})")
