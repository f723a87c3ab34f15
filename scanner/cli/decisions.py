"""Client decisions (issue 10): gapscan decide and gapscan decisions."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from scanner.cli.common import DB_HELP, EXIT_OK, _exit_with, err
from scanner.cli.listing import emit_json, emit_rows
from scanner.history.decisions import DecisionKind


def decide(
    subject: Annotated[
        str, typer.Argument(metavar="FINGERPRINT|CHECK_ID", help="A finding's fingerprint or a check id")
    ],
    client: Annotated[str, typer.Option("--client", help="Practice (client) name")],
    decision: Annotated[DecisionKind, typer.Option("--decision", help="What the client decided")],
    by: Annotated[str, typer.Option("--by", help='Who decided: "name, role"')],
    note: Annotated[str | None, typer.Option("--note", help="The documented reason")] = None,
    until: Annotated[str | None, typer.Option("--until", help="YYYY-MM-DD: after it the finding is open again")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Record a client decision (append-only: a new decision supersedes the older one)."""
    from datetime import date

    from scanner.history.decisions import parse_by, parse_until
    from scanner.history.store import Store

    def work() -> int:
        who = parse_by(by)
        expires = parse_until(until)
        with Store.open(db) as store:
            recorded = store.add_decision(client, subject, decision, who, note=note, until=expires)
        err.print(f"recorded decision #{recorded.seq} for {client!r}: {recorded.decision.value} "
                  f"({recorded.subject_kind} {recorded.subject}) by {recorded.decided_by}"
                  + (f", until {recorded.until}" if recorded.until else "")
                  + f"; chain head decision#{recorded.seq}:{recorded.digest}", highlight=False, markup=False)
        if expires is not None and expires < date.today():
            err.print("note: --until is in the past: the finding already counts as open", highlight=False)
        return EXIT_OK

    _exit_with(work)


def list_decisions(
    client: Annotated[str, typer.Option("--client", help="Practice (client) name")],
    show_all: Annotated[
        bool, typer.Option("--all", help="Every decision ever recorded, not only standing ones")
    ] = False,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print decisions as JSON")] = False,
) -> None:
    """List a client's standing decisions (expired and superseded ones with --all)."""
    from datetime import date

    from scanner.history.decisions import standing
    from scanner.history.store import Store

    def work() -> int:
        with Store.open(db) as store:
            every = store.decisions(client)
        today = date.today()
        stands = standing(every, today)
        shown = every if show_all else sorted(stands.values(), key=lambda d: d.seq)
        if as_json:
            emit_json([d.as_dict() | {"standing": stands.get(d.subject) is d} for d in shown])
            return EXIT_OK

        def state(d: Any) -> str:
            return "standing" if stands.get(d.subject) is d else ("expired" if d.expired(today) else "superseded")

        emit_rows(f"decisions of {client}", ("#", "subject", "decision", "by", "on", "until", "state", "note"),
                  [(d.seq, d.subject, d.decision.value, d.decided_by, d.decided_at[:10], d.until or "", state(d),
                    d.note or "") for d in shown])
        return EXIT_OK

    _exit_with(work)
