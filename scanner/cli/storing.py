"""gapscan store: store a saved scan.json afterwards (when the store could not take it at the end
of the scan, or the scan ran without --client)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import typer

from scanner.cli.common import DB_HELP, EXIT_OK, SIGN_KEY_HELP, _exit_with, err
from scanner.cli.runs import _store_run
from scanner.errors import InputError
from scanner.models import ScanRun


def store(
    run_file: Annotated[Path, typer.Argument(help="A scan.json that gapscan wrote")],
    client: Annotated[str, typer.Option("--client", help="Practice (client) to store it under")],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="The SHA-256 the scan printed: the file must still have it")
    ] = None,
    sign_key: Annotated[Path | None, typer.Option("--sign-key", help=SIGN_KEY_HELP)] = None,
) -> None:
    """Store a saved run as the client's next run, checking it is the exact file gapscan wrote."""
    from scanner.history.store import canonical_text

    def work() -> int:
        try:
            data = run_file.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read ({exc.strerror or exc})", source=str(run_file)) from exc
        digest = hashlib.sha256(data).hexdigest()
        if sha256 is not None and sha256.strip().lower() != digest:
            raise InputError(f"its SHA-256 is {digest}, not the {sha256.strip()} given: the file changed since the "
                             "scan; not stored", source=str(run_file))
        try:
            text = data.decode("utf-8")
            run = ScanRun.model_validate_json(text)
        except ValueError as exc:
            raise InputError(f"not a gapscan scan.json ({exc.__class__.__name__})", source=str(run_file)) from exc
        if canonical_text(run) != text:
            raise InputError("not byte for byte the scan.json gapscan wrote (edited or re-formatted since): its "
                             "digest would not be the scan's; not stored", source=str(run_file))
        if run.client is not None and run.client != client:
            raise InputError(f"the run was scanned for client {run.client!r}, not {client!r}", source="--client")
        _store_run(run, client, db, sign_key)
        err.print(f"scan.json sha256 {digest}", highlight=False)
        return EXIT_OK

    _exit_with(work)
