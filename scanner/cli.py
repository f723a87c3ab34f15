"""The command line: the only place that prints and picks exit codes.

Exit codes: 0 scan completed; 1 internal failure; 2 bad input (the message names what and
where; also an unusable history database); 3 ``--fail-on`` was given and a failed finding is at
or above that severity; 4 ``verify`` found a record that does not match its digest or chain;
130 interrupted (results so far are saved with ``complete: false``).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from scanner import __version__
from scanner.decisions import DecisionKind
from scanner.errors import GapscanError, InputError
from scanner.framework import load_framework
from scanner.models import ScanRun, Severity, Status
from scanner.output import ResultSink, load_scan_json
from scanner.profiles import LoadedProfile, load_profile, shipped_profiles
from scanner.registry import Registry, load_registry
from scanner.scope import load_scope_file

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_FAIL_ON, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_TAMPERED = 4  # gapscan verify: a stored record no longer matches its digest or chain

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="gapscan: find HIPAA Security Rule gaps in a practice's network and endpoints.")
out = Console()
err = Console(stderr=True, soft_wrap=True)


class CliExit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@contextmanager
def friendly_errors() -> Iterator[None]:
    """User mistakes get one paragraph and exit 2; our bugs get exit 1 (traceback with GAPSCAN_DEBUG=1).

    Messages quote what users wrote and what servers sent (``checks.include[0]``, ``[pdf]``):
    escaped here, once, so rich never reads them as markup."""
    try:
        yield
    except InputError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
        raise CliExit(EXIT_INPUT) from exc
    except KeyboardInterrupt as exc:
        err.print("interrupted: results so far are saved (complete: false)")
        raise CliExit(EXIT_INTERRUPTED) from exc
    except GapscanError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
        raise CliExit(EXIT_INTERNAL) from exc
    except Exception as exc:
        if os.environ.get("GAPSCAN_DEBUG"):
            traceback.print_exc()
        err.print(f"[bold red]internal error:[/] {exc.__class__.__name__}: {escape(str(exc))} "
                  "(set GAPSCAN_DEBUG=1 for a traceback)", markup=True, highlight=False)
        raise CliExit(EXIT_INTERNAL) from exc


def _registry() -> Registry:
    return load_registry(load_framework())


class RichProgress:
    """ProgressReporter on a terminal; silent when stderr is not a TTY."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def phase(self, name: str, total: int) -> None:
        if self.progress is not None:
            self.tasks[name] = self.progress.add_task(name, total=total)

    def advance(self, name: str, done: int | None = None) -> None:
        if self.progress is None or name not in self.tasks:
            return
        if done is None:
            self.progress.advance(self.tasks[name])
        else:
            self.progress.update(self.tasks[name], completed=done)


def _split_formats(value: str) -> list[str]:
    from reports import available_formats

    formats = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = [f for f in formats if f not in available_formats() and f != "json"]
    if unknown:
        raise InputError(f"format {', '.join(unknown)} is not available; choose from "
                         f"{', '.join(available_formats())}", source="--format")
    return formats


CREDENTIALS_OPTION = typer.Option(
    "--credentials", help="Credentials YAML (mode 0600) for endpoint checks; secrets from env/file/prompt")


def _credentials(path: Path | None) -> Any:
    """Secrets are resolved now, before any packet (a missing variable is exit 2, not an error result)."""
    if path is None:
        return None
    from scanner.credentials import load_credentials

    return load_credentials(path)


def _check_unattended_credentials(path: Path) -> None:
    """A scheduled rescan has no terminal: refuse a credentials file that would prompt."""
    from scanner.credentials import read_credentials_file

    parsed = read_credentials_file(path)
    prompting = [c.name for c in parsed.credentials if c.password_prompt]
    if prompting:
        raise InputError(f"credential(s) {', '.join(prompting)} use password_prompt, which an unattended rescan "
                         "cannot answer: use password_file", source=str(path))


def _load_client_file(path: Path | None) -> tuple[Any, str | None]:
    """The client file (practice, MSP, BAA register) and its MSP logo as a data: URI."""
    if path is None:
        return None, None
    from reports.client_file import ClientFile, LogoError
    from scanner.userfiles import load_model

    client = load_model(path, ClientFile)
    try:
        logo = client.logo_data_uri(path.parent)
    except LogoError as exc:
        raise InputError(str(exc), source=str(path), where="key 'msp.logo'") from exc
    return client, logo


def _check_pdf(formats: list[str]) -> None:
    """Refuse --format pdf before scanning when the optional WeasyPrint extra is missing."""
    from reports import INSTALL_HINT, pdf_available

    if "pdf" in formats and not pdf_available():
        raise InputError(f"PDF output needs WeasyPrint, which is not installed: {INSTALL_HINT}",
                         source="--format")


def _render(run: ScanRun, formats: list[str], out_dir: Path, client: Any = None,
            logo: str | None = None, decisions: Any = None) -> list[Path]:
    from reports import FILE_NAMES, RENDERERS

    written = []
    for fmt in formats:
        if fmt == "json":
            continue  # scan.json is always written by the sink
        written.append(RENDERERS[fmt](run, out_dir / FILE_NAMES[fmt], client=client, logo=logo,
                                      decisions=decisions))
    return written


def _report_decisions(run: ScanRun, client: str, db: str | None, *, strict: bool = False) -> dict[str, Any]:
    """The client's latest decision on each of the run's fingerprints and check ids, as plain
    ``reports.annotations.DecisionNote`` values (renderers never see the store). A client with no
    stored run yet has none. ``strict``: an unusable store is an error, else a note on stderr."""
    from datetime import date

    from reports.annotations import DecisionNote
    from scanner.decisions import latest
    from scanner.store import Store, StoreError

    subjects = {r.fingerprint for r in run.results} | {r.check_id for r in run.results}
    try:
        with Store.open(db) as store:
            if client not in store.clients():
                return {}
            recorded = latest(store.decisions(client))
    except StoreError as exc:
        if strict:
            raise
        err.print(f"note: client decisions not shown in the report: {escape(str(exc))}", highlight=False)
        return {}
    today = date.today()
    return {subject: DecisionNote(subject=subject, decision=d.decision.value, decided_by=d.decided_by,
                                  decided_on=d.decided_at[:10], note=d.note,
                                  until=d.until.isoformat() if d.until else None, expired=d.expired(today))
            for subject, d in recorded.items() if subject in subjects}


def _dkim_selectors(values: list[str]) -> tuple[str, ...]:
    """Selectors are DNS labels (RFC 6376 §3.1: sub-domain syntax, dots allowed)."""
    for value in values:
        labels = value.split(".")
        if not all(0 < len(x) <= 63 and all(c.isascii() and (c.isalnum() or c in "-_") for c in x) for x in labels):
            raise InputError(f"{value!r} is not a DKIM selector (letters, digits, '-', '_' and dots)",
                             source="--dkim-selector")
    return tuple(dict.fromkeys(v.lower() for v in values))


def _summary_table(run: ScanRun) -> Table:
    table = Table(title=f"gapscan run {run.run_id}", show_lines=False)
    for col in ("status", "severity", "check", "target", "detail"):
        table.add_column(col, overflow="fold")
    order = {Status.FAIL: 0, Status.ERROR: 1, Status.SKIPPED: 2, Status.PASS: 3}
    for r in sorted(run.results, key=lambda r: (order[r.status], -r.severity.rank, r.check_id)):
        table.add_row(r.status.value, r.severity.value, r.check_id, r.target.label(), r.detail)
    return table


DB_HELP = "History database: a SQLAlchemy URL or a SQLite file (default: the XDG data path)"


SIGN_KEY_HELP = "Ed25519 key to sign stored runs with (default: the gapscan keys init file, if it exists)"


def _signer(sign_key: Path | None) -> Any:
    from scanner.store_signing import default_key_path, load_key

    if sign_key is not None:
        return load_key(sign_key)
    default = default_key_path()
    return load_key(default) if default.exists() else None


def _store_run(run: ScanRun, client: str, db: str | None, sign_key: Path | None = None) -> None:
    from scanner.store import Store

    signer = _signer(sign_key)
    with Store.open(db) as store:
        info = store.store_run(run, client, signer=signer)
        signed = f", signed with key {info.signed_by}" if info.signed_by else ""
        err.print(f"stored run {info.run_id} as #{info.seq} of client {client!r} in {store.url}{signed}",
                  highlight=False)


LISTEN_OPTION = typer.Option("--listen-seconds", min=0, max=3600,
                             help="Passive listening window for LAN-sync announcements (0: do not listen); "
                                  "overrides the profile")


def _with_listen_window(loaded: LoadedProfile, seconds: float | None) -> LoadedProfile:
    if seconds is None:
        return loaded
    return loaded.model_copy(update={"profile": loaded.profile.model_copy(update={"listen_seconds": seconds})})


def _fail_on_hit(run: ScanRun, threshold: Severity | None) -> bool:
    if threshold is None:
        return False
    return any(r.status is Status.FAIL and r.severity.rank >= threshold.rank for r in run.results)


@app.command()
def scan(
    targets: Annotated[list[str] | None, typer.Argument(help="IPs, CIDRs, ranges (198.18.0.1-50), hostnames")] = None,
    domain: Annotated[list[str] | None, typer.Option("--domain", help="Mail/DNS domain of the practice")] = None,
    profile: Annotated[str, typer.Option(help="Profile name or YAML file")] = "onboarding",
    client: Annotated[str | None, typer.Option(help="Practice (client) name")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Address, CIDR or range to leave out")] = None,
    scope_file: Annotated[
        Path | None, typer.Option("--scope-file", help="File of targets, !exclusions, authorized-by:")
    ] = None,
    nameserver: Annotated[list[str] | None, typer.Option("--nameserver", help="DNS server for domain checks")] = None,
    dkim_selector: Annotated[
        list[str] | None, typer.Option("--dkim-selector", help="DKIM selector to look for besides the common ones")
    ] = None,
    credentials: Annotated[Path | None, CREDENTIALS_OPTION] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output directory")] = None,
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated: json,html,pdf,csv,tickets")
    ] = "json,html,csv,tickets",
    client_file: Annotated[
        Path | None, typer.Option("--client-file", help="Client YAML: practice, MSP, technician, BAA register")
    ] = None,
    fail_on: Annotated[
        Severity | None, typer.Option("--fail-on", help="Exit 3 if a failed finding is at/above this")
    ] = None,
    allow_public: Annotated[bool, typer.Option("--allow-public", help="Allow globally routable targets")] = False,
    authorized_by: Annotated[str | None, typer.Option("--authorized-by", help="Who authorized this scan")] = None,
    listen_seconds: Annotated[float | None, LISTEN_OPTION] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary table")] = False,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    sign_key: Annotated[Path | None, typer.Option("--sign-key", help=SIGN_KEY_HELP)] = None,
) -> None:
    """Scan targets and domains; writes DIR/scan.json and the other formats asked for.

    With --client the run is also stored in the history database (see gapscan history)."""
    from scanner.runner import ScanRequest, run_scan

    def work() -> int:
        chosen_formats = _split_formats(formats)
        _check_pdf(chosen_formats)
        client_info, logo = _load_client_file(client_file)
        all_targets = list(targets or [])
        all_exclusions = list(exclude or [])
        who = authorized_by
        if scope_file is not None:
            file_targets, file_excl, file_who = load_scope_file(scope_file)
            all_targets += file_targets
            all_exclusions += file_excl
            who = who or file_who
        if not all_targets and not domain:
            raise InputError("nothing to scan: give targets, --scope-file or --domain", source="command line")
        creds = _credentials(credentials)
        if client:
            _signer(sign_key)  # a bad signing key is refused before the scan, not after
        registry = _registry()
        loaded = _with_listen_window(load_profile(profile, registry), listen_seconds)
        for warning in loaded.warnings:
            err.print(f"note: {loaded.source}: {warning}", highlight=False)
        request = ScanRequest(
            profile=loaded, targets=tuple(all_targets), domains=tuple(domain or ()),
            exclusions=tuple(all_exclusions), nameservers=tuple(nameserver or ()), client=client,
            allow_public=allow_public, authorized_by=who,
            scope_file=str(scope_file) if scope_file else None,
            settings={"dkim_selectors": _dkim_selectors(dkim_selector or [])}, credentials=creds,
        )
        target_dir = out_dir or Path("gapscan-out")
        sink = ResultSink(target_dir)
        show = sys.stderr.isatty() and not quiet
        columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True, disable=not show) as bar:
            run = run_scan(request, registry, sink, progress=RichProgress(bar if show else None))
        decisions = _report_decisions(run, client, db) if client else None
        written = _render(run, chosen_formats, target_dir, client_info, logo, decisions)
        if not quiet:
            out.print(_summary_table(run))
        counts = ", ".join(f"{v} {k}" for k, v in run.summary.by_status.items())
        err.print(f"{len(run.hosts)} host(s), {len(run.results)} result(s): {counts}", highlight=False)
        err.print(f"wrote {target_dir / 'scan.json'}" + "".join(f", {p}" for p in written), highlight=False)
        if client:
            _store_run(run, client, db, sign_key)
        return EXIT_FAIL_ON if _fail_on_hit(run, fail_on) else EXIT_OK

    _exit_with(work)


@app.command()
def discover(
    targets: Annotated[list[str], typer.Argument(help="IPs, CIDRs, ranges, hostnames")],
    profile: Annotated[str, typer.Option(help="Profile whose discovery settings to use")] = "onboarding",
    exclude: Annotated[list[str] | None, typer.Option("--exclude")] = None,
    ports: Annotated[str | None, typer.Option(help="Comma-separated TCP ports (overrides the profile)")] = None,
    allow_public: Annotated[bool, typer.Option("--allow-public")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print hosts as JSON")] = False,
) -> None:
    """Find live hosts and open services only (no checks)."""
    import json

    from scanner import scope as scope_mod
    from scanner.discovery import discover as run_discovery

    def work() -> int:
        loaded = load_profile(profile, _registry())
        config = loaded.profile.discovery
        if ports:
            try:
                port_list = tuple(int(p) for p in ports.split(",") if p.strip())
            except ValueError as exc:
                raise InputError("expected comma-separated port numbers", source="--ports") from exc
            if not port_list or not all(0 < p < 65536 for p in port_list):
                raise InputError("ports must be between 1 and 65535", source="--ports")
            config = config.model_copy(update={"tcp_ports": port_list})
        scope = scope_mod.build_scope(targets, exclude or (), allow_public=allow_public)
        with scope_mod.enforce(scope):
            result = run_discovery(scope, config, loaded.profile.concurrency)
        if as_json:
            out.print_json(json.dumps({
                "engine": result.engine, "host_discovery": result.host_discovery,
                "duration_s": result.duration_s, "notes": list(result.notes),
                "hosts": [h.model_dump(mode="json") for h in result.hosts],
            }))
            return EXIT_OK
        table = Table(title=f"{len(result.hosts)} live host(s) ({result.engine}, {result.duration_s:.1f} s)")
        for col in ("address", "port", "service", "product", "version"):
            table.add_column(col)
        for host in result.hosts:
            for svc in host.services or ():
                table.add_row(host.address, f"{svc.port}/{svc.transport.value}", svc.service or "?",
                              svc.product or "", svc.version or "")
            if not host.services:
                table.add_row(host.address, "-", "", "", "")
        out.print(table)
        for note in result.notes:
            err.print(f"note: {note}", highlight=False)
        return EXIT_OK

    _exit_with(work)


@app.command("checks")
def list_checks() -> None:
    """List installed checks with their severity and HIPAA citations."""

    def work() -> int:
        table = Table(title="gapscan checks")
        for col in ("id", "title", "severity", "intrusive", "HIPAA"):
            table.add_column(col, overflow="fold")
        for check in _registry():
            table.add_row(check.id, check.meta.title, check.meta.severity.value,
                          "yes" if check.meta.intrusive else "no", ", ".join(check.hipaa) or "(unmapped)")
        out.print(table)
        return EXIT_OK

    _exit_with(work)


@app.command("profiles")
def list_profiles() -> None:
    """List shipped profiles."""

    def work() -> int:
        registry = _registry()
        table = Table(title="gapscan profiles")
        for col in ("name", "checks", "intrusive", "description"):
            table.add_column(col, overflow="fold")
        for name in shipped_profiles():
            loaded = load_profile(name, registry)
            table.add_row(name, str(len(loaded.check_ids)), "yes" if loaded.profile.intrusive else "no",
                          loaded.profile.description)
        out.print(table)
        return EXIT_OK

    _exit_with(work)


@app.command()
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
        if out_path is not None and len(chosen) == 1 and out_path.suffix:
            targets = {chosen[0]: out_path}
        else:
            directory = out_path or run_file.parent
            directory.mkdir(parents=True, exist_ok=True)
            targets = {fmt: directory / FILE_NAMES[fmt] for fmt in chosen}
        for fmt, path in targets.items():
            if path.resolve() == run_file.resolve():
                raise InputError("refusing to overwrite the input run", source=str(path))
            RENDERERS[fmt](run, path, client=client_info, logo=logo, decisions=decisions)
            err.print(f"wrote {path}", highlight=False)
        return EXIT_OK

    _exit_with(work)


# -- history, drift, decisions, verification (issue 10) --------------------------------------


def _load_for_diff(ref: str, db: str | None, opened: dict[str, Any]) -> tuple[ScanRun, str | None]:
    """A run id from the store, or a path to a scan.json; returns the run and its stored client."""
    from scanner.store import Store

    path = Path(ref)
    if path.is_file() or ref.endswith(".json"):
        return load_scan_json(path), None
    if "store" not in opened:
        opened["store"] = Store.open(db)
    store = opened["store"]
    info = store.run_info(ref)
    return store.load_run(ref), info.client


@app.command()
def history(
    client: Annotated[str | None, typer.Option("--client", help="Only this client's runs")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print runs as JSON")] = False,
) -> None:
    """List stored runs (oldest first per client), with their digests."""
    import json
    from dataclasses import asdict

    from scanner.store import Store

    def work() -> int:
        with Store.open(db) as store:
            infos = store.list_runs(client)
            if as_json:
                out.print_json(json.dumps([asdict(i) for i in infos]))
                return EXIT_OK
            table = Table(title=f"gapscan history ({store.url})")
            for col in ("client", "#", "run", "started", "profile", "failed", "results", "sha256"):
                table.add_column(col, overflow="fold")
            for i in infos:
                table.add_row(escape(i.client), str(i.seq), escape(i.run_id), i.started_at[:19], escape(i.profile),
                              str(i.failed), str(i.results) + ("" if i.complete else " (incomplete)"), i.digest[:16])
            out.print(table)
            if not infos:
                err.print("no runs stored yet: gapscan scan ... --client NAME stores one", highlight=False)
        return EXIT_OK

    _exit_with(work)


@app.command()
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
    import json

    from scanner.drift import compare, runs_before, trend

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
            out.print_json(json.dumps(drift.as_dict()))
            return EXIT_OK
        table = Table(title=f"drift {a.run_id} -> {b.run_id}")
        for col in ("class", "severity", "check", "target", "before", "after", "detail"):
            table.add_column(col, overflow="fold")
        for item in drift.items:
            if item.kind != "persisting":
                table.add_row(item.kind, item.severity, escape(item.check_id), escape(item.target),
                              item.before or "-", item.after or "-", escape(item.detail))
        out.print(table)
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


def _write_drift(directory: Path, drift: dict[str, Any], trend_rows: list[dict[str, Any]],
                 client: str | None) -> None:
    """DIR/drift.json (the drift, its client and trend) and DIR/drift.html, each written atomically."""
    import json

    from reports.drift_report import render_drift_html

    directory.mkdir(parents=True, exist_ok=True)
    drift_file = directory / "drift.json"
    tmp = drift_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(drift | {"client": client, "trend": trend_rows}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(drift_file)
    html = render_drift_html(drift, trend_rows, directory / "drift.html", client=client)
    err.print(f"wrote {drift_file}, {html}", highlight=False)


@app.command()
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

    from scanner.decisions import parse_by, parse_until
    from scanner.store import Store

    def work() -> int:
        who = parse_by(by)
        expires = parse_until(until)
        with Store.open(db) as store:
            recorded = store.add_decision(client, subject, decision, who, note=note, until=expires)
        err.print(f"recorded decision #{recorded.seq} for {client!r}: {recorded.decision.value} "
                  f"({recorded.subject_kind} {recorded.subject}) by {recorded.decided_by}"
                  + (f", until {recorded.until}" if recorded.until else ""), highlight=False)
        if expires is not None and expires < date.today():
            err.print("note: --until is in the past: the finding already counts as open", highlight=False)
        return EXIT_OK

    _exit_with(work)


@app.command("decisions")
def list_decisions(
    client: Annotated[str, typer.Option("--client", help="Practice (client) name")],
    show_all: Annotated[
        bool, typer.Option("--all", help="Every decision ever recorded, not only standing ones")
    ] = False,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print decisions as JSON")] = False,
) -> None:
    """List a client's standing decisions (expired and superseded ones with --all)."""
    import json
    from datetime import date

    from scanner.decisions import standing
    from scanner.store import Store

    def work() -> int:
        with Store.open(db) as store:
            every = store.decisions(client)
        today = date.today()
        stands = standing(every, today)
        shown = every if show_all else sorted(stands.values(), key=lambda d: d.seq)
        if as_json:
            out.print_json(json.dumps([d.as_dict() | {"standing": stands.get(d.subject) is d} for d in shown]))
            return EXIT_OK
        table = Table(title=f"decisions of {client}")
        for col in ("#", "subject", "decision", "by", "on", "until", "state", "note"):
            table.add_column(col, overflow="fold")
        for d in shown:
            state = "standing" if stands.get(d.subject) is d else ("expired" if d.expired(today) else "superseded")
            table.add_row(str(d.seq), escape(d.subject), d.decision.value, escape(d.decided_by), d.decided_at[:10],
                          str(d.until or ""), state, escape(d.note or ""))
        out.print(table)
        return EXIT_OK

    _exit_with(work)


@app.command()
def verify(
    client: Annotated[str | None, typer.Option("--client", help="Only this client's chains")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Recompute the run and decision hash chains; exit 4 naming the first record that does not match."""
    from scanner.store import Store

    def work() -> int:
        with Store.open(db) as store:
            report = store.verify(client)
        for problem in report.problems:
            err.print(f"TAMPERED: {problem}", highlight=False)
        if not report.ok:
            return EXIT_TAMPERED
        err.print(f"ok: {report.runs} run(s) and {report.decisions} decision(s) of {report.clients} client(s) "
                  "match their digests and chains", highlight=False)
        return EXIT_OK

    _exit_with(work)


@app.command()
def rescan(
    client: Annotated[str, typer.Option("--client", help="Practice (client) whose last scan to repeat")],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output directory")] = None,
    formats: Annotated[str, typer.Option("--format", help="Comma-separated: json,html,pdf,csv,tickets")] = "json",
    fail_on: Annotated[
        Severity | None, typer.Option("--fail-on", help="Exit 3 if a failed finding is at/above this")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No drift table")] = False,
    listen_seconds: Annotated[float | None, LISTEN_OPTION] = None,
    sign_key: Annotated[Path | None, typer.Option("--sign-key", help=SIGN_KEY_HELP)] = None,
    credentials: Annotated[Path | None, CREDENTIALS_OPTION] = None,
) -> None:
    """Repeat the client's last stored scope and profile, store the run, and print the drift.

    Writes DIR/drift.json and DIR/drift.html (the drift report with the client's trend chart)."""
    from scanner.drift import compare, trend
    from scanner.runner import ScanRequest, run_scan
    from scanner.store import Store

    def work() -> int:
        chosen_formats = _split_formats(formats)
        _check_pdf(chosen_formats)
        with Store.open(db) as store:
            last = store.list_runs(client)
            if not last:
                raise InputError(f"client {client!r} has no stored run to repeat", source="--client")
            previous = store.load_run(last[-1].run_id)
            history_runs = store.client_runs(client)
        scope = previous.scope
        creds = _credentials(credentials)
        registry = _registry()
        loaded = _with_listen_window(load_profile(previous.profile, registry), listen_seconds)
        request = ScanRequest(
            profile=loaded, targets=scope.targets, domains=scope.domains, exclusions=scope.exclusions,
            nameservers=scope.nameservers, client=client, allow_public=scope.allow_public,
            authorized_by=scope.authorized_by, scope_file=scope.scope_file, credentials=creds,
        )
        target_dir = out_dir or Path("gapscan-out")
        sink = ResultSink(target_dir)
        run = run_scan(request, registry, sink)
        written = _render(run, chosen_formats, target_dir, decisions=_report_decisions(run, client, db))
        err.print(f"wrote {target_dir / 'scan.json'}" + "".join(f", {p}" for p in written), highlight=False)
        _store_run(run, client, db, sign_key)
        drift = compare(previous, run, history_runs)
        _write_drift(target_dir, drift.as_dict(), trend([*history_runs, run]), client)
        if not quiet:
            for item in drift.items:
                if item.kind != "persisting":
                    out.print(f"{item.kind}: {item.severity} {item.check_id} {item.target}", highlight=False,
                              soft_wrap=True)
        out.print(f"drift since {previous.run_id}: "
                  + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in drift.counts.items()),
                  highlight=False, soft_wrap=True)
        return EXIT_FAIL_ON if _fail_on_hit(run, fail_on) else EXIT_OK

    _exit_with(work)


@app.command()
def evidence(
    client: Annotated[str, typer.Option("--client", help="Practice (client) name")],
    host: Annotated[str, typer.Option("--host", help="The host's address")],
    check: Annotated[str | None, typer.Option("--check", help="Only this check id")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the timeline as JSON")] = False,
) -> None:
    """Timeline of one host's state across the client's runs, with each run's SHA-256."""
    import json

    from scanner.store import Store

    def work() -> int:
        with Store.open(db) as store:
            timeline = store.host_timeline(client, host, check)
        if as_json:
            out.print_json(json.dumps([
                {"run_id": e.run_id, "seq": e.seq, "started_at": e.started_at, "sha256": e.digest,
                 "results": [r.model_dump(mode="json") for r in e.results]} for e in timeline]))
            return EXIT_OK
        for entry in timeline:
            out.print(f"#{entry.seq} {entry.started_at[:19]} run {entry.run_id} sha256 {entry.digest}",
                      highlight=False, soft_wrap=True)
            if not entry.results:
                out.print("    (host not seen in this run)", highlight=False)
            for r in entry.results:
                out.print(f"    {r.status.value:<7} {r.check_id} {r.target.label()}: {r.detail}", highlight=False,
                          soft_wrap=True, markup=False)
        return EXIT_OK

    _exit_with(work)


@app.command()
def schedule(
    client: Annotated[str, typer.Option("--client", help="Practice (client) to rescan")],
    every: Annotated[str, typer.Option("--every", help="daily, weekly or monthly")],
    at: Annotated[str, typer.Option("--at", help="Time of day, HH:MM")] = "02:00",
    units_dir: Annotated[
        Path | None, typer.Option("--units-dir", help="Where to write the unit pair (default: systemd user units)")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output directory of each rescan")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    credentials: Annotated[Path | None, CREDENTIALS_OPTION] = None,
) -> None:
    """Write a systemd service + timer pair running gapscan rescan; print the crontab equivalent.

    With --credentials the rescans run the endpoint checks too: the file (mode 0600) must take its
    secrets from password_file or the unit's environment, never a prompt."""
    import shutil
    import subprocess

    from sqlalchemy.engine import make_url

    from scanner.store import Store, resolve_url
    from scanner.store_schedule import Every, build

    def work() -> int:
        try:
            period = Every(every)
        except ValueError as exc:
            raise InputError(f"{every!r}: expected daily, weekly or monthly", source="--every") from exc
        url = resolve_url(db)
        if make_url(url).password:
            raise InputError("the database URL holds a password, which a unit file must not: use peer "
                             "authentication or a ~/.pgpass file", source="--db")
        with Store.open(db) as store:
            if not store.list_runs(client):
                raise InputError(f"client {client!r} has no stored run to repeat", source="--client")
        program = Path(sys.executable).with_name("gapscan")
        found = str(program) if program.exists() else shutil.which("gapscan")
        if found is None:
            raise InputError("cannot find the gapscan program to schedule (is it installed?)", source="gapscan")
        results_dir = (out_dir or Path("gapscan-out") / "rescans").expanduser().absolute()
        argv = [found, "rescan", "--client", client, "--db", url, "--out", str(results_dir), "-q"]
        if credentials is not None:
            _check_unattended_credentials(credentials)
            argv += ["--credentials", str(credentials.expanduser().absolute())]
        plan = build(client, period, at, argv)
        config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        folder = units_dir or Path(config_home) / "systemd" / "user"
        folder.mkdir(parents=True, exist_ok=True)
        files = {folder / f"{plan.unit_name}.service": plan.service, folder / f"{plan.unit_name}.timer": plan.timer}
        for path, content in files.items():
            if path.exists() and path.read_text(encoding="utf-8") != content:
                raise InputError("exists with other content; not overwritten (remove it first)", source=str(path))
        for path, content in files.items():
            path.write_text(content, encoding="utf-8")
            err.print(f"wrote {path}", highlight=False)
        analyze = shutil.which("systemd-analyze")
        if analyze:
            checked = subprocess.run([analyze, "verify", "--man=no", *map(str, files)], capture_output=True,
                                     text=True, timeout=60, check=False)
            if checked.returncode != 0:
                raise InputError(f"systemd-analyze verify rejected the units: {checked.stderr.strip()}",
                                 source=str(folder))
            err.print("systemd-analyze verify: ok", highlight=False)
        out.print(f"enable: systemctl --user daemon-reload && systemctl --user enable --now {plan.unit_name}.timer",
                  highlight=False, soft_wrap=True, markup=False)
        out.print(f"crontab line (without systemd): {plan.crontab}", highlight=False, soft_wrap=True, markup=False)
        return EXIT_OK

    _exit_with(work)


keys_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="The MSP's Ed25519 signing key.")
app.add_typer(keys_app, name="keys")


@keys_app.command("init")
def keys_init(
    key: Annotated[Path | None, typer.Option("--key", help="Key file (default: XDG config path)")] = None,
) -> None:
    """Create the signing key (mode 0600; an existing key is never overwritten)."""
    from scanner.store_signing import default_key_path, init_key

    def work() -> int:
        path = key or default_key_path()
        signer = init_key(path)
        err.print(f"wrote {path} (keep it private; back it up)", highlight=False)
        out.print(f"key fingerprint: {signer.fingerprint}", highlight=False)
        return EXIT_OK

    _exit_with(work)


@keys_app.command("show")
def keys_show(
    key: Annotated[Path | None, typer.Option("--key", help="Key file (default: XDG config path)")] = None,
) -> None:
    """Print the signing key's fingerprint and public key."""
    from scanner.store_signing import default_key_path, load_key

    def work() -> int:
        signer = load_key(key or default_key_path())
        out.print(f"key fingerprint: {signer.fingerprint}\npublic key (Ed25519, hex): {signer.public_raw.hex()}",
                  highlight=False, soft_wrap=True)
        return EXIT_OK

    _exit_with(work)


@app.command()
def version() -> None:
    """Print the version."""
    out.print(f"gapscan {__version__}")


def _exit_with(work: Callable[[], int]) -> None:
    try:
        with friendly_errors():
            code = work()
    except CliExit as exc:
        raise typer.Exit(exc.code) from None
    raise typer.Exit(code)


def main(argv: list[str] | None = None) -> Any:
    return app(args=argv)
