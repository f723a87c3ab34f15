"""Renderers of a saved ScanRun. They never probe and never branch on protocol: protocol
detail reaches them only through each result's evidence. They import only ``scanner.models``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reports.csv_report import render_csv
from reports.html_report import render_html
from reports.json_report import render_json
from scanner.models import ScanRun

Renderer = Callable[[ScanRun, Path], Path]

# Format name -> renderer(run, output path). scan.json is always written by the scanner itself;
# "json" here re-renders a saved run (used by `gapscan report`).
RENDERERS: dict[str, Renderer] = {
    "json": render_json,
    "csv": render_csv,
    "html": render_html,
}

FILE_NAMES = {"json": "scan.json", "csv": "findings.csv", "html": "report.html"}


def available_formats() -> list[str]:
    return sorted(RENDERERS)
