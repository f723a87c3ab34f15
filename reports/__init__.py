"""Renderers of a saved ScanRun. They never probe and never branch on protocol: protocol
detail reaches them only through each result's evidence. They import only ``scanner.models``
and the HIPAA catalogue (``scanner.config.framework``).

Every renderer takes the run, the output path and, optionally, the client file (practice, MSP,
BAA register, asset inventory), the MSP logo already embedded as a data: URI, the client's recorded
decisions (``reports.annotations``: plain values the CLI loads from the history store), the
standing interview answers (``reports.interview_view.InterviewNote``), and the catalogue
of what each check says about itself (title, why it matters, remediation), which the CLI builds
from the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from reports.annotations import Catalogue, DecisionNote, Decisions
from reports.client_file import ClientFile
from reports.csv_report import render_csv, render_tickets
from reports.html_report import render_html
from reports.interview_view import Interview, InterviewNote
from reports.json_report import render_json
from reports.letter import render_letter, render_letter_pdf
from reports.pdf_report import INSTALL_HINT, PdfUnavailable, pdf_available, render_pdf
from scanner.models import ScanRun


class Renderer(Protocol):
    def __call__(self, run: ScanRun, path: Path, *, client: ClientFile | None = None,
                 logo: str | None = None, decisions: Decisions | None = None,
                 checks: Catalogue | None = None, anchor: str | None = None,
                 interview: Interview | None = None) -> Path: ...


# Format name -> renderer(run, output path). scan.json is always written by the scanner itself;
# "json" here re-renders a saved run (used by `gapscan report`).
RENDERERS: dict[str, Renderer] = {
    "json": render_json,
    "csv": render_csv,
    "tickets": render_tickets,
    "html": render_html,
    "pdf": render_pdf,
    "letter": render_letter,
    "letter-pdf": render_letter_pdf,
}
PDF_FORMATS = frozenset({"pdf", "letter-pdf"})  # need the optional WeasyPrint extra

FILE_NAMES = {"json": "scan.json", "csv": "findings.csv", "tickets": "tickets.csv", "html": "report.html",
              "pdf": "report.pdf", "letter": "letter.html", "letter-pdf": "letter.pdf"}

__all__ = ["FILE_NAMES", "INSTALL_HINT", "PDF_FORMATS", "RENDERERS", "Catalogue", "ClientFile", "DecisionNote",
           "Decisions", "Interview", "InterviewNote", "PdfUnavailable", "Renderer", "available_formats",
           "pdf_available"]


def available_formats() -> list[str]:
    return sorted(RENDERERS)
