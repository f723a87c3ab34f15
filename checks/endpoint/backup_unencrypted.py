"""endpoint.backup_unencrypted — a backup that stores its copy without encryption.

Backup media are the copy of ePHI most often lost or stolen; encrypted to NIST standards their
loss is not a breach of unsecured PHI (HHS breach guidance), unencrypted it is: a gap against the
encryption specification 164.312(a)(2)(iv) and device and media controls (164.310(d)(2)(iv)).
One finding per job. A backup synchronised to a consumer cloud folder (Google Drive, Dropbox,
OneDrive) also names that vendor as a third party holding the practice's data.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.check import Applies, CheckMeta
from scanner.models import ErrorReason, Severity, Skip, SkipReason, Target

from .backup_checks import job_evidence, job_label, third_parties
from .base import EndpointCheck, Item
from .inventory import Backups, EndpointInventory
from .probe import EndpointFacts


class BackupUnencrypted(EndpointCheck[Backups]):
    meta = CheckMeta(
        id="endpoint.backup_unencrypted",
        title="Backup copy is not encrypted",
        severity=Severity.HIGH,
        applies_to=Applies(hosts=True),
        why=(
            "The backup copy of this computer's files is stored without encryption. Whoever gets the backup disk "
            "or folder can read every patient record in it, and losing it is a reportable breach."
        ),
        remediation=(
            "Use an encrypting backup: BorgBackup 'borg init -e repokey-blake2' (a new repository: borg cannot "
            "encrypt an existing one), restic (always encrypted), Time Machine 'Encrypt backups', BitLocker To Go "
            "on Windows backup drives; keep the key outside the backup."
        ),
        description="Reads each backup job's encryption (borg mode, restic, Time Machine encryption state, ...).",
    )
    section = "backup"

    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      backups: Backups) -> Iterator[Item]:
        if not backups.jobs:
            yield Skip(target=target, reason=SkipReason.NOT_APPLICABLE,
                       detail=f"{ep.host}: no backup configured (endpoint.backup_missing reports it)")
            return
        for job in backups.jobs:
            ev = job_evidence(backups, job, inv.collected_by)
            label = f"{ep.host}: {job_label(job)}"
            cloud = f"; synchronised to {job.cloud_vendor}" if job.cloud_vendor else ""
            if job.encrypted is None:
                yield self.undetermined(target, ErrorReason.PROTOCOL,
                                        f"{label}: encryption unknown — {job.encryption_note}{cloud}",
                                        evidence=[ev], discriminator=job_label(job))
                continue
            yield self.finding(target, passed=job.encrypted, evidence=[ev], discriminator=job_label(job),
                               third_parties=third_parties(job),
                               detail=f"{label}: {'encrypted' if job.encrypted else 'NOT encrypted'} "
                                      f"({job.encryption_note}){cloud}")
