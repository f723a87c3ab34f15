"""The recommendation letter (``--format letter`` and ``letter-pdf``): one page on the MSP's
letterhead, dated, addressed to the practice's decision maker, naming the few risks that matter
in plain words and the projects recommended, the date a decision is asked by, and where the
decision sheet and the full report are (the report by the SHA-256 of the scan.json it describes).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from reports.annotations import Catalogue, Decisions
from reports.client_file import ClientFile
from reports.html_report import _ENV
from reports.interview_view import Interview
from reports.projects import decision_deadline, ranked_items, remediation_projects
from reports.view import scan_digest
from scanner.config.framework import load_framework
from scanner.models import ScanRun

TOP_RISKS = 3
MAX_PROJECTS = 5


def letter_context(run: ScanRun, client: ClientFile | None = None, logo: str | None = None,
                   checks: Catalogue | None = None, interview: Interview | None = None,
                   today: dt.date | None = None) -> dict[str, Any]:
    projects = remediation_projects(run, load_framework(), client=client, checks=checks, interview=interview)
    letter = client.letter if client else None
    decide_by = decision_deadline(run, client)
    recommended = [p for p in projects if p.rating.level >= 3][:MAX_PROJECTS] or projects[:MAX_PROJECTS]
    return {
        "run": run, "client": client, "logo": logo, "digest": scan_digest(run),
        "date": (letter.date if letter and letter.date else None) or today or dt.date.today(),
        "decide_by": decide_by, "top_items": ranked_items(projects, TOP_RISKS), "recommended": recommended,
        "more_projects": len(projects) - len(recommended), "projects": projects,
        "open_gaps": run.summary.by_status.get("fail", 0),
    }


def letter_html(run: ScanRun, client: ClientFile | None = None, logo: str | None = None,
                checks: Catalogue | None = None, interview: Interview | None = None) -> str:
    return _ENV.get_template("letter.html.j2").render(**letter_context(run, client, logo, checks, interview))


def render_letter(run: ScanRun, path: Path, *, client: ClientFile | None = None, logo: str | None = None,
                  decisions: Decisions | None = None, checks: Catalogue | None = None,
                  anchor: str | None = None, interview: Interview | None = None) -> Path:
    path.write_text(letter_html(run, client, logo, checks, interview), encoding="utf-8")
    return path


def render_letter_pdf(run: ScanRun, path: Path, *, client: ClientFile | None = None, logo: str | None = None,
                      decisions: Decisions | None = None, checks: Catalogue | None = None,
                      anchor: str | None = None, interview: Interview | None = None) -> Path:
    from reports.pdf_report import INSTALL_HINT, PdfUnavailable, data_only_fetcher

    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(f"PDF output needs WeasyPrint: {INSTALL_HINT}") from exc
    html = letter_html(run, client, logo, checks, interview)
    HTML(string=html, url_fetcher=data_only_fetcher(), base_url=None).write_pdf(path)
    return path
