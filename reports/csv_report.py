"""CSV outputs: findings.csv (every result) and tickets.csv (one row per failed finding).

tickets.csv is shaped for import into a PSA ticketing system (ConnectWise/Autotask style): one
ticket per remediation project per host (reports/projects.py), host first in the summary, with
status, queue, type, priority (from the risk rating) and due-date columns, UTF-8 with a BOM for
Excel; the fingerprints let a re-import match an existing ticket. Cells that start with = + - @
(or a tab/CR) are prefixed with an apostrophe: banners and share names come off the network, and a
spreadsheet must not execute them as formulas (CSV injection).
"""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

from reports.annotations import Catalogue, Decisions, decision_for
from reports.client_file import ClientFile
from reports.interview_view import Interview
from reports.projects import Place, Project, remediation_projects
from reports.risk import level_name
from scanner.config.framework import load_framework
from scanner.models import ScanRun

COLUMNS = ("status", "severity", "check_id", "title", "target", "detail", "hipaa", "remediation",
           "reason", "fingerprint")
TICKET_COLUMNS = ("summary", "description", "status", "queue", "type", "priority", "cw_priority", "autotask_priority",
                  "due_date", "company", "host", "project", "risk", "check_ids", "hipaa", "remediation", "fingerprints",
                  "decision")
# One ticket per project per host. Priority from the risk level (NIST SP 800-30 Rev. 1 scale), as
# gapscan's own P1-P5 and as the default priority names of ConnectWise Manage and Autotask
# (docs/reports.md: an import maps the column its PSA uses).
PRIORITY = {5: "P1 - Critical", 4: "P2 - High", 3: "P3 - Medium", 2: "P4 - Low", 1: "P5 - Informational"}
CONNECTWISE_PRIORITY = {5: "Priority 1 - Emergency Response", 4: "Priority 2 - Quick Response",
                        3: "Priority 3 - Normal Response", 2: "Priority 4 - Schedule Maintenance",
                        1: "Priority 5 - Next Time"}
AUTOTASK_PRIORITY = {5: "Critical", 4: "High", 3: "Medium", 2: "Low", 1: "Low"}
DUE_DAYS = {5: 7, 4: 30, 3: 90, 2: 180, 1: 365}  # days after the scan a fix is due, by risk level
TICKET_STATUS, TICKET_QUEUE, TICKET_TYPE = "New", "HIPAA remediation", "Security gap"
PRACTICE_WIDE = "Practice-wide"  # the host of a ticket for a safeguard the interview found missing
SUMMARY_MAX = 100  # PSA summary fields are short (ConnectWise: 100 characters)


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def render_csv(run: ScanRun, path: Path, *, client: ClientFile | None = None, logo: str | None = None,
               decisions: Decisions | None = None, checks: Catalogue | None = None,
               anchor: str | None = None, interview: Interview | None = None) -> Path:
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
               anchor: str | None = None, interview: Interview | None = None) -> Path:
    """tickets.csv: one ticket per remediation project per host (device or domain), host first in
    the summary, UTF-8 with a byte-order mark so that Excel reads it as UTF-8."""
    company = client.practice if client else (run.client or "")
    projects = remediation_projects(run, load_framework(), client=client, checks=checks, interview=interview)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(TICKET_COLUMNS)
        for project in projects:
            for host, places in _by_host(project):
                writer.writerow([_cell(v) for v in _ticket(run, company, project, host, places, decisions)])
    return path


def _by_host(project: Project) -> list[tuple[str, list[Place]]]:
    """The project's places per device or domain (its address or name: what a PSA matches a
    configuration item by), the riskiest host first."""
    hosts: dict[str, list[Place]] = {}
    for item in project.items:
        for place in item.places:
            hosts.setdefault(place.asset.key if place.asset is not None else PRACTICE_WIDE, []).append(place)
    return sorted(hosts.items(), key=lambda kv: (-max(p.rating.level for p in kv[1]), kv[0]))


def _ticket(run: ScanRun, company: str, project: Project, host: str, places: list[Place],
            decisions: Decisions | None) -> list[str]:
    level = max(p.rating.level for p in places)
    results = [r for p in places for r in p.results]
    where = places[0].host if places[0].asset is not None else PRACTICE_WIDE
    summary = f"{where}: {project.title}"
    if len(summary) > SUMMARY_MAX:
        summary = summary[: SUMMARY_MAX - 1] + "…"
    lines = [f"- {p.label}: {r.title}: {r.detail}" for p in places for r in p.results]
    lines += [f"- {p.label}: {p.results[0].title if p.results else 'interview finding'}" for p in places
              if not p.results]
    hipaa = sorted({h for r in results for h in r.hipaa} | {c.citation for c in project.citations if not results})
    description = (f"{project.what_to_do}\n\nAt {where}:\n" + "\n".join(lines)
                   + f"\n\nGap against 45 CFR {', '.join(hipaa) or '(unmapped)'}. Found by gapscan {run.tool_version}, "
                   f"run {run.run_id}, {run.started_at.strftime('%Y-%m-%d %H:%M UTC')}.")
    due = (run.started_at.date() + timedelta(days=DUE_DAYS[level])).isoformat()
    check_ids = " ".join(dict.fromkeys(r.check_id for r in results))
    remediation = " ".join(dict.fromkeys(r.remediation for r in results)) or project.what_to_do
    fingerprints = " ".join(r.fingerprint for r in results)
    cells = [_decision_cell(r.fingerprint, r.check_id, decisions) for r in results]
    decision = cells[0] if cells and len(set(cells)) == 1 else "; ".join(c for c in dict.fromkeys(cells) if c)
    return [summary, description, TICKET_STATUS, TICKET_QUEUE, TICKET_TYPE, PRIORITY[level],
            CONNECTWISE_PRIORITY[level], AUTOTASK_PRIORITY[level], due, company, host, project.project_id,
            level_name(level), check_ids, " ".join(hipaa), remediation, fingerprints, decision]


def _decision_cell(fingerprint: str, check_id: str, decisions: Decisions | None) -> str:
    """The standing client decision ("declined by Dr. Lee, owner, on 2026-11-23: cost"), or the
    note that an expired one left the finding open again; empty when none was recorded."""
    found = decision_for(fingerprint, check_id, decisions)
    if found is None:
        return ""
    return f"open again (expired: {found.describe()})" if found.expired else found.describe()
