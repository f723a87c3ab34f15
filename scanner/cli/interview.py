"""gapscan interview import: interview answers collected elsewhere, from a YAML file (issue 18)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scanner.cli.common import DB_HELP, EXIT_OK, _exit_with, err
from scanner.errors import InputError


def interview_import(
    answers_file: Annotated[Path, typer.Argument(metavar="FILE", help="Interview answers YAML")],
    client: Annotated[str, typer.Option("--client", help="Practice (client) name")],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Record interview answers from a YAML file (append-only: a new answer supersedes the older one)."""
    from scanner.config.interview_file import load_interview_file
    from scanner.history.interviews import AnswerInput, AnswerKind
    from scanner.history.store import Store

    def work() -> int:
        parsed = load_interview_file(answers_file)
        if parsed.client is not None and parsed.client != client:
            raise InputError(f"the file is for client {parsed.client!r}, not {client!r}", source=str(answers_file),
                             where="key 'client'")
        given = [AnswerInput(key_activity=a.key_activity, answer=AnswerKind(a.answer),
                             answered_by=a.answered_by or parsed.answered_by or "", notes=a.notes,
                             evidence_ref=a.evidence) for a in parsed.answers]
        with Store.open(db) as store:
            written = store.add_answers(client, given, f"import: {answers_file.name}")
        err.print(f"recorded {len(written)} interview answer(s) for {client!r} "
                  f"({len(given) - len(written)} unchanged, not recorded again)", highlight=False)
        return EXIT_OK

    _exit_with(work)
