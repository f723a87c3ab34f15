"""What the three backup checks share: the stale limit setting and the per-job evidence."""

from __future__ import annotations

from datetime import datetime

from scanner.models import Evidence, ThirdParty

from .inventory import BackupJob, Backups, evidence_of

DEFAULT_MAX_AGE_HOURS = 48.0  # the proposed Security Rule update (2025): backups no older than 48 hours


def job_label(job: BackupJob) -> str:
    return f"{job.tool} to {job.destination}"


def job_evidence(backups: Backups, job: BackupJob, method: str) -> Evidence:
    facts = [job_label(job), f"encryption: {job.encryption_note}"]
    if job.last_success:
        facts.append(f"last success {job.last_success.isoformat()} ({job.last_note})")
    if job.scheduled:
        facts.append(f"scheduled: {job.scheduled}")
    return evidence_of("endpoint-backup", "; ".join(facts), backups.observations, method)


def third_parties(job: BackupJob) -> list[ThirdParty]:
    return [ThirdParty(vendor=job.cloud_vendor, service="Backup storage")] if job.cloud_vendor else []


def age_hours(job: BackupJob, now: datetime) -> float | None:
    return None if job.last_success is None else (now - job.last_success).total_seconds() / 3600
