"""scan.json: the canonical, schema-validated output."""

from __future__ import annotations

from pathlib import Path

from scanner.models import ScanRun


def render_json(run: ScanRun, path: Path) -> Path:
    path.write_text(run.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path
