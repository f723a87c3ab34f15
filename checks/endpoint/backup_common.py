"""What every platform's backup reader shares: consumer-cloud destinations, endpoint clock, redaction.

A backup whose destination is a folder a consumer sync client uploads (Google Drive for desktop,
Dropbox, OneDrive, iCloud Drive) or a cloud storage backend hands copies of the practice's data to
that company: the finding names it as a third party (a possible business associate, 45 CFR
164.308(b)(1)), so the report lists it beside the BAA register.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from .commands import Results
from .inventory import Observation

# A destination path naming one of these folders is synchronised to the vendor's cloud.
CLOUD_FOLDERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Google Drive", re.compile(r"(?i)google ?drive|/my drive(/|$)|/GoogleDrive")),
    ("Dropbox", re.compile(r"(?i)(^|[/\\])dropbox([/\\ ]|$)")),
    ("Microsoft OneDrive", re.compile(r"(?i)onedrive")),
    ("iCloud Drive", re.compile(r"(?i)icloud|Mobile Documents")),
)
# restic repository URL schemes that store the repository at a cloud provider (restic manual,
# "Preparing a new repository"); sftp:, rest: and rclone: name no provider by themselves.
RESTIC_CLOUDS = {"s3": "Amazon S3 (or an S3-compatible store)", "b2": "Backblaze B2", "azure": "Microsoft Azure",
                 "gs": "Google Cloud Storage", "swift": "OpenStack Swift"}
SECRET_ASSIGNMENT = re.compile(r"(?i)\b([A-Z0-9_]*(?:PASS(?:WORD|PHRASE)?|SECRET|TOKEN|ACCESS_KEY|ACCOUNT_KEY)"
                               r"[A-Z0-9_]*)\s*=\s*(\"[^\"]*\"|'[^']*'|\S+)")
SECRET_FLAG = re.compile(r"(?i)(--(?:password|passphrase|secret|token)(?![-_a-z])[= ])\S+")


def cloud_vendor(destination: str) -> str | None:
    """The company whose cloud receives a backup written to ``destination``, if its name says so."""
    scheme = destination.split(":", 1)[0].lower() if ":" in destination and not destination.startswith("/") else ""
    if scheme in RESTIC_CLOUDS:
        return RESTIC_CLOUDS[scheme]
    return next((vendor for vendor, pattern in CLOUD_FOLDERS if pattern.search(destination)), None)


def redact(text: str) -> str:
    """Mask anything that looks like a secret on a cron line or unit file (BORG_PASSPHRASE=...)."""
    return SECRET_FLAG.sub(r"\1***", SECRET_ASSIGNMENT.sub(r"\1=***", text))


def redacted(obs: Observation) -> Observation:
    return Observation(source=obs.source, output=redact(obs.output), collected_at=obs.collected_at,
                       exit_status=obs.exit_status)


def endpoint_offset(results: Results) -> timezone | None:
    """The endpoint's UTC offset from ``date +%Y-%m-%dT%H:%M:%S%z`` (local times in logs need it)."""
    clock = results.get("clock")
    if clock is None or not clock.ok:
        return None
    match = re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-])(\d\d)(\d\d)", clock.stdout.strip())
    if not match:
        return None
    sign = 1 if match.group(1) == "+" else -1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def local_time(text: str, offset: timezone | None) -> datetime | None:
    """A naive local timestamp ("2026-11-01T08:00:00.000000", "2026-11-01  12:00:00") as UTC-aware,
    or None when it cannot be read or the endpoint's offset is unknown."""
    cleaned = re.sub(r"\s+", " ", text.strip().replace("T", " "))
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d_%H-%M-%S", "%Y-%m-%d-%H%M%S"):
        try:
            naive = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        if naive.tzinfo is None:
            if offset is None:
                return None
            naive = naive.replace(tzinfo=offset)
        return naive.astimezone(UTC)
    return None


def iso_time(text: str) -> datetime | None:
    """An ISO 8601 time with a zone ("2026-11-01T08:00:00Z", "...+01:00"), as UTC; None otherwise."""
    value = text.strip().strip("'\"")
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)  # restic prints nanoseconds
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo is not None else None
