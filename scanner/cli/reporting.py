"""gapscan report: re-render a saved run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scanner.cli.common import DB_HELP, EXIT_OK, _exit_with, _registry, err
from scanner.cli.runs import (
    _check_pdf,
    _load_client_file,
    _report_anchor,
    _report_decisions,
    _report_interview,
    _split_formats,
)
from scanner.engine.output import load_scan_json, publish
from scanner.errors import InputError


def report(
    run_file: Annotated[Path, typer.Argument(help="A saved scan.json")],
    formats: Annotated[str, typer.Option("--format", help="Comma-separated formats")] = "csv",
    out_path: Annotated[Path | None, typer.Option("--out", help="Output file (one format) or directory")] = None,
    client_file: Annotated[
        Path | None, typer.Option("--client-file", help="Client YAML: practice, MSP, technician, BAA register")
    ] = None,
    client: Annotated[
        str | None, typer.Option("--client", help="Stored client whose recorded decisions the report shows")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Re-render a saved run. Reads the file (and, with --client, the history database) only: no network."""
    from reports import FILE_NAMES, RENDERERS

    def work() -> int:
        chosen = _split_formats(formats)
        _check_pdf(chosen)
        client_info, logo = _load_client_file(client_file)
        run = load_scan_json(run_file)
        decisions = _report_decisions(run, client, db, strict=True) if client else None
        interview = _report_interview(client, db) if client else None
        checks = _registry().catalogue()  # each check's title, why it matters, remediation
        anchor = _report_anchor(client, db)
        if out_path is not None and len(chosen) == 1 and out_path.suffix and not out_path.is_dir():
            targets = {chosen[0]: out_path}
        else:
            directory = out_path or run_file.parent
            directory.mkdir(parents=True, exist_ok=True)
            targets = {fmt: directory / FILE_NAMES[fmt] for fmt in chosen}
        for fmt, path in targets.items():
            if path.resolve() == run_file.resolve():
                raise InputError("refusing to overwrite the input run", source=str(path))
            renderer = RENDERERS[fmt]
            publish(lambda staged, r=renderer: r(run, staged, client=client_info, logo=logo,  # type: ignore[misc]
                                                 decisions=decisions, checks=checks, anchor=anchor,
                                                 interview=interview), path)
            err.print(f"wrote {path}", highlight=False)
        return EXIT_OK

    _exit_with(work)
