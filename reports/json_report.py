"""scan.json: the canonical, schema-validated output."""

from __future__ import annotations

from pathlib import Path

from reports.annotations import Catalogue, Decisions
from reports.client_file import ClientFile
from reports.interview_view import Interview
from scanner.models import ScanRun


def render_json(run: ScanRun, path: Path, *, client: ClientFile | None = None, logo: str | None = None,
               decisions: Decisions | None = None, checks: Catalogue | None = None,
               anchor: str | None = None, interview: Interview | None = None) -> Path:
    """The client file is not part of scan.json (it holds names and the BAA register, not scan facts)."""
    path.write_text(run.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path
