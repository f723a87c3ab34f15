"""CSV outputs: findings.csv (every result) and tickets.csv (one row per failed finding).

tickets.csv is shaped for import into a PSA ticketing system (ConnectWise/Autotask style:
summary, description, priority, company, host, remediation); the fingerprint lets a re-import
match an existing ticket. Cells that start with = + - @ (or a tab/CR) are prefixed with an
apostrophe: banners and share names come off the network, and a spreadsheet must not execute
them as formulas (CSV injection).
"""

from __future__ import annotations

import csv
from pathlib import Path

from reports.annotations import Catalogue, Decisions, decision_for
from reports.client_file import ClientFile
from scanner.models import ScanRun, Severity, Status

COLUMNS = ("status", "severity", "check_id", "title", "target", "detail", "hipaa", "remediation",
           "reason", "fingerprint")
TICKET_COLUMNS = ("summary", "description", "priority", "company", "host", "port", "check_id", "hipaa",
                  "remediation", "fingerprint", "decision")
PRIORITY = {Severity.CRITICAL: "P1 - Critical", Severity.HIGH: "P2 - High", Severity.MEDIUM: "P3 - Medium",
            Severity.LOW: "P4 - Low", Severity.INFO: "P5 - Informational"}
SUMMARY_MAX = 100  # PSA summary fields are short (ConnectWise: 100 characters)


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def render_csv(run: ScanRun, path: Path, *, client: ClientFile | None = None, logo: str | None = None,
               decisions: Decisions | None = None, checks: Catalogue | None = None,
               anchor: str | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for r in run.results:
            writer.writerow([_cell(v) for v in (
                r.status.value, r.severity.value, r.check_id, r.title, r.target.label(), r.detail,
                " ".join(r.hipaa), r.remediation, r.reason or "", r.fingerprint,
            )])
    return path


def render_tickets(run: ScanRun, path: Path, *, client: ClientFile | None = None, logo: str | None = None,
               decisions: Decisions | None = None, checks: Catalogue | None = None,
               anchor: str | None = None) -> Path:
    company = client.practice if client else (run.client or "")
    failed = sorted((r for r in run.results if r.status is Status.FAIL),
                    key=lambda r: (-r.severity.rank, r.check_id, r.target.label()))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(TICKET_COLUMNS)
        for r in failed:
            summary = f"HIPAA gap: {r.title} ({r.target.label()})"
            if len(summary) > SUMMARY_MAX:
                summary = summary[: SUMMARY_MAX - 1] + "…"
            description = (f"{r.detail}\n\nGap against 45 CFR {', '.join(r.hipaa) or '(unmapped)'}. "
                           f"Found by gapscan {run.tool_version}, run {run.run_id}, "
                           f"{run.started_at.strftime('%Y-%m-%d %H:%M UTC')}.")
            writer.writerow([_cell(v) for v in (
                summary, description, PRIORITY[r.severity], company, r.target.host or r.target.domain or "",
                "" if r.target.port is None else str(r.target.port), r.check_id, " ".join(r.hipaa),
                r.remediation, r.fingerprint, _decision_cell(r.fingerprint, r.check_id, decisions),
            )])
    return path


def _decision_cell(fingerprint: str, check_id: str, decisions: Decisions | None) -> str:
    """The standing client decision ("declined by Dr. Lee, owner, on 2026-11-23: cost"), or the
    note that an expired one left the finding open again; empty when none was recorded."""
    found = decision_for(fingerprint, check_id, decisions)
    if found is None:
        return ""
    return f"open again (expired: {found.describe()})" if found.expired else found.describe()
