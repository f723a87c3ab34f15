"""endpoint.backup_missing — no backup tool is configured on the endpoint.

A data backup plan must create and keep retrievable exact copies of ePHI (45 CFR
164.308(a)(7)(ii)(A), required), and a copy must be made before equipment is moved
(164.310(d)(2)(iv)). What counts as configured: a restic or borg repository named on a cron line,
a systemd unit or in the credentials file, Déjà Dup with a backup or a schedule, Timeshift, a Time
Machine destination, File History or Veeam Agent (see docs/checks/endpoint.md, "Backups").
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.check import Applies, CheckMeta
from scanner.models import Severity, Target

from .backup_checks import job_label, third_parties
from .base import EndpointCheck, Item
from .inventory import Backups, EndpointInventory, evidence_of
from .probe import EndpointFacts


class BackupMissing(EndpointCheck[Backups]):
    meta = CheckMeta(
        id="endpoint.backup_missing",
        title="No backup is configured on the endpoint",
        severity=Severity.HIGH,
        applies_to=Applies(hosts=True),
        why=(
            "Nothing on this computer makes a backup copy of its files. If the disk fails, the machine is stolen "
            "or ransomware encrypts it, the patient information stored only here is gone."
        ),
        remediation=(
            "Set up an encrypted, scheduled backup of the data folders: restic or BorgBackup (repokey) on Linux "
            "from a systemd timer, Time Machine to an encrypted disk on macOS, Veeam Agent or File History to a "
            "BitLocker To Go drive on Windows; test a restore and record it."
        ),
        description="Looks for configured backups: restic/borg schedules, Déjà Dup, Timeshift, Time Machine, "
                    "File History, Veeam Agent.",
    )
    section = "backup"

    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      backups: Backups) -> Iterator[Item]:
        ev = evidence_of("endpoint-backup", f"{len(backups.jobs)} backup job(s) found", backups.observations,
                         inv.collected_by)
        if not backups.jobs:
            yield self.finding(target, passed=False, evidence=[ev],
                               detail=f"{ep.host}: no backup configured (no restic/borg schedule, Déjà Dup, Timeshift, "
                                      "Time Machine, File History or Veeam Agent found)")
            return
        names = "; ".join(job_label(j) + (f" ({j.scheduled})" if j.scheduled else "") for j in backups.jobs[:6])
        parties = [p for j in backups.jobs for p in third_parties(j)]
        yield self.finding(target, passed=True, evidence=[ev], third_parties=parties,
                           detail=f"{ep.host}: {len(backups.jobs)} backup(s) configured: {names}")
