"""findings.csv: one row per result, for spreadsheets and ticketing imports.

Cells that start with = + - @ (or a tab/CR) are prefixed with an apostrophe: banners and share
names come off the network, and a spreadsheet must not execute them as formulas (CSV injection).
"""

from __future__ import annotations

import csv
from pathlib import Path

from scanner.models import ScanRun

COLUMNS = ("status", "severity", "check_id", "title", "target", "detail", "hipaa", "remediation",
           "reason", "fingerprint")


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def render_csv(run: ScanRun, path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for r in run.results:
            writer.writerow([_cell(v) for v in (
                r.status.value, r.severity.value, r.check_id, r.title, r.target.label(), r.detail,
                " ".join(r.hipaa), r.remediation, r.reason or "", r.fingerprint,
            )])
    return path
