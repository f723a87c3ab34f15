"""Reading the history database (issue 10): gapscan history, diff, evidence and verify."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from scanner.cli.common import DB_HELP, EXIT_OK, EXIT_TAMPERED, _exit_with, err, out
from scanner.cli.integrity import ANCHOR_HELP, TRUST_HELP
from scanner.cli.listing import cell, emit_json, emit_line, emit_rows
from scanner.cli.runs import _write_drift
from scanner.engine.output import load_scan_json
from scanner.models import ScanRun


def _load_for_diff(ref: str, db: str | None, opened: dict[str, Any]) -> tuple[ScanRun, str | None]:
    """A run id from the store, or a path to a scan.json; returns the run and its stored client."""
    from scanner.history.store import Store

    path = Path(ref)
    if path.is_file() or ref.endswith(".json"):
        return load_scan_json(path), None
    if "store" not in opened:
        opened["store"] = Store.open(db)
    store = opened["store"]
    info = store.run_info(ref)
    return store.load_run(ref), info.client


def history(
    client: Annotated[str | None, typer.Option("--client", help="Only this client's runs")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print runs as JSON")] = False,
) -> None:
    """List stored runs (oldest first per client), with their digests."""
    from dataclasses import asdict

    from scanner.history.store import Store

    def work() -> int:
        with Store.open(db) as store:
            infos = store.list_runs(client)
            if as_json:
                emit_json([asdict(i) for i in infos])
                return EXIT_OK
            emit_rows(f"gapscan history ({store.url})",
                      ("client", "#", "run", "started", "profile", "failed", "results", "sha256"),
                      [(i.client, i.seq, i.run_id, i.started_at[:19], i.profile, i.failed,
                        f"{i.results}" + ("" if i.complete else " (incomplete)"), i.digest[:16]) for i in infos])
            if not infos:
                err.print("no runs stored yet: gapscan scan ... --client NAME stores one", highlight=False)
        return EXIT_OK

    _exit_with(work)


def diff(
    run_a: Annotated[str, typer.Argument(help="Older run: a stored run id or a scan.json path")],
    run_b: Annotated[str, typer.Argument(help="Newer run: a stored run id or a scan.json path")],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the drift as JSON")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Also write DIR/drift.json and DIR/drift.html (with the trend chart)")
    ] = None,
) -> None:
    """Drift between two runs: new, resolved, persisting, regressed, changed evidence; hosts and services."""

    from scanner.history.drift import compare, runs_before, trend

    def work() -> int:
        opened: dict[str, Any] = {}
        history_runs: list[ScanRun] = []
        try:
            a, _ = _load_for_diff(run_a, db, opened)
            b, client_b = _load_for_diff(run_b, db, opened)
            earlier: list[ScanRun] = []
            if client_b is not None:
                history_runs = opened["store"].client_runs(client_b)
                earlier = runs_before(history_runs, b)
        finally:
            if "store" in opened:
                opened["store"].close()
        drift = compare(a, b, earlier)
        if out_dir is not None:
            upto = [r for r in history_runs if r.started_at <= b.started_at] or [a, b]
            _write_drift(out_dir, drift.as_dict(), trend(upto), client_b or b.client)
        if as_json:
            emit_json(drift.as_dict())
            return EXIT_OK
        emit_rows(f"drift {a.run_id} -> {b.run_id}", ("class", "severity", "check", "target", "before", "after",
                                                       "detail"),
                  [(i.kind, i.severity, i.check_id, i.target, i.before or "-", i.after or "-", i.detail)
                   for i in drift.items if i.kind != "persisting"])
        out.print(", ".join(f"{n} {k.replace('_', ' ')}" for k, n in drift.counts.items()), highlight=False,
                  soft_wrap=True)
        for label, values in (("hosts appeared", drift.hosts_appeared), ("hosts vanished", drift.hosts_vanished),
                              ("services appeared", drift.services_appeared),
                              ("services vanished", drift.services_vanished)):
            if values:
                out.print(f"{label}: {', '.join(values)}", highlight=False, soft_wrap=True)
        if client_b is None:
            err.print("note: run B is a file, not a stored run: 'regressed' needs the client's history "
                      "(give stored run ids)", highlight=False)
        return EXIT_OK

    _exit_with(work)


def verify(
    client: Annotated[str | None, typer.Option("--client", help="Only this client's chains")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    trust: Annotated[list[str] | None, typer.Option("--trust", metavar="KEY", help=TRUST_HELP)] = None,
    anchor: Annotated[list[str] | None, typer.Option("--anchor", metavar="FILE|HEAD", help=ANCHOR_HELP)] = None,
    tsa_ca: Annotated[
        Path | None, typer.Option("--tsa-ca", help="CA certificate(s) of the timestamp authority (PEM)")
    ] = None,
) -> None:
    """Recompute the run, decision, interview-answer and sign-off chains, check signatures with the MSP's
    own keys only, timestamp tokens and every anchor; exit 4 naming the first record that does not match."""
    from scanner.cli.integrity import anchors_given, settings, trust_roots, tsa_certificates
    from scanner.history.store import Store

    def work() -> int:
        loaded = settings()
        roots = trust_roots(trust or [], loaded)
        given, given_problems = anchors_given(anchor or [])
        certs = tsa_certificates(loaded, tsa_ca)
        with Store.open(db) as store:
            report = store.verify(client, trust=roots, anchors=given, anchor_problems=given_problems,
                                  tsa_certs=certs)
        # Client names and anchor files are people's input: printed inert (listing.cell).
        for problem in (*report.problems, *report.other_problems):
            err.print(f"TAMPERED: {cell(problem)}", highlight=False, markup=False)
        for note in report.notes:
            err.print(f"note: {cell(note)}", highlight=False, markup=False)
        if not report.ok:
            return EXIT_TAMPERED
        people = (f", {report.answers} interview answer(s) and {report.signoffs} sign-off(s)"
                  if report.answers or report.signoffs else "")
        err.print(f"ok: {report.runs} run(s) and {report.decisions} decision(s){people} of {report.clients} "
                  f"client(s) match their digests and chains; {report.signed} run signature(s) by trusted keys, "
                  f"{report.stamped} timestamp token(s) and {report.anchors} anchor(s) verified",
                  highlight=False, markup=False)
        return EXIT_OK

    _exit_with(work)


def evidence(
    client: Annotated[str, typer.Option("--client", help="Practice (client) name")],
    host: Annotated[str, typer.Option("--host", help="The host's address")],
    check: Annotated[str | None, typer.Option("--check", help="Only this check id")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the timeline as JSON")] = False,
    export: Annotated[
        Path | None,
        typer.Option("--export", metavar="DIR", help="Write the evidence pack of the host into DIR (new or empty)"),
    ] = None,
) -> None:
    """Timeline of one host's state across the client's runs, with each run's SHA-256; with
    --export, the evidence pack an investigator checks on their own machine (see its README)."""

    from scanner.history.store import Store

    def work() -> int:
        if export is not None:
            return _export(client, host, db, export)
        with Store.open(db) as store:
            timeline = store.host_timeline(client, host, check)
        if as_json:
            emit_json([{"run_id": e.run_id, "seq": e.seq, "started_at": e.started_at, "sha256": e.digest,
                        "results": [r.model_dump(mode="json") for r in e.results]} for e in timeline])
            return EXIT_OK
        for entry in timeline:
            emit_line(f"#{entry.seq} {entry.started_at[:19]} run {entry.run_id} sha256 {entry.digest}")
            if not entry.results:
                emit_line("    (host not seen in this run)")
            for r in entry.results:
                emit_line(f"    {r.status.value:<7} {r.check_id} {r.target.label()}: {r.detail}")
        return EXIT_OK

    _exit_with(work)


def _export(client: str, host: str, db: str | None, directory: Path) -> int:
    from scanner import __version__
    from scanner.cli.integrity import settings
    from scanner.history.evidence_pack import export_pack
    from scanner.history.store import Store

    loaded = settings()
    tsa_ca = loaded.timestamp_authority.ca_file if loaded.timestamp_authority else None
    with Store.open(db) as store:
        summary = export_pack(store, client, host, directory, tsa_ca=tsa_ca, tool_version=__version__)
    keys = ", ".join(summary.fingerprints) or "none (unsigned runs)"
    err.print(f"wrote the evidence pack of {host} to {directory}: {summary.runs} run(s), {summary.runs_with_host} "
              f"with results for the host, {summary.timestamps} timestamp(s), {summary.anchors} anchor(s); "
              f"signing key(s): {keys}. Check it as {directory / 'README.md'} says.", highlight=False, markup=False)
    return EXIT_OK
