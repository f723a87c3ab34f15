"""gapscan scan and gapscan discover."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from scanner.cli.common import (
    CREDENTIALS_OPTION,
    DB_HELP,
    EXIT_FAIL_ON,
    EXIT_OK,
    LISTEN_OPTION,
    SIGN_KEY_HELP,
    _exit_with,
    _registry,
    err,
)
from scanner.cli.listing import emit_json, emit_line, emit_rows
from scanner.cli.runs import (
    _check_pdf,
    _credentials,
    _fail_on_hit,
    _interrupted,
    _load_client_file,
    _preflight_store,
    _remove_stale_outputs,
    _render,
    _report_anchor,
    _report_decisions,
    _report_interview,
    _report_trend,
    _signer,
    _split_formats,
    _store_or_keep,
    _with_listen_window,
)
from scanner.config.profiles import load_profile
from scanner.config.scope_file import load_scope_file
from scanner.engine.output import ResultSink
from scanner.errors import InputError
from scanner.models import ScanRun, Severity, Status


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


def _dkim_selectors(values: list[str]) -> tuple[str, ...]:
    """Selectors are DNS labels (RFC 6376 §3.1: sub-domain syntax, dots allowed)."""
    for value in values:
        labels = value.split(".")
        if not all(0 < len(x) <= 63 and all(c.isascii() and (c.isalnum() or c in "-_") for c in x) for x in labels):
            raise InputError(f"{value!r} is not a DKIM selector (letters, digits, '-', '_' and dots)",
                             source="--dkim-selector")
    return tuple(dict.fromkeys(v.lower() for v in values))


_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.SKIPPED: 2, Status.PASS: 3}
TOP_GAPS = 5


def _print_results(run: ScanRun) -> None:
    """--verbose: every result, failed first (a table on a terminal, tab-separated in a pipe)."""
    ordered = sorted(run.results, key=lambda r: (_ORDER[r.status], -r.severity.rank, r.check_id))
    emit_rows(f"gapscan run {run.run_id}", ("status", "severity", "check", "target", "detail"),
              [(r.status.value, r.severity.value, r.check_id, r.target.label(), r.detail) for r in ordered])


def _print_summary(run: ScanRun, written: list[Path]) -> None:
    """What a technician needs at the end of a scan: the counts, the worst gaps, where the reports are."""
    gaps = run.summary.by_severity
    by_status = run.summary.by_status
    others = ", ".join(f"{by_status[s.value]} {s.value}" for s in (Status.PASS, Status.ERROR, Status.SKIPPED))
    emit_line(f"gapscan run {run.run_id}: {len(run.hosts)} host(s), {len(run.results)} result(s)"
              + ("" if run.complete else " (incomplete)"))
    emit_line("open gaps: " + ", ".join(f"{gaps[s.value]} {s.value}" for s in Severity) + f" ({others})")
    failed = sorted((r for r in run.results if r.status is Status.FAIL), key=lambda r: (-r.severity.rank, r.check_id))
    if failed:
        emit_line(f"top gaps ({min(TOP_GAPS, len(failed))} of {len(failed)}; --verbose lists every result):")
        for r in failed[:TOP_GAPS]:
            emit_line(f"  {r.severity.value:<8} {r.check_id}  {r.target.label()}  {r.title}")
    emit_line("reports: " + ", ".join(str(p) for p in written))


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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Every result, not only the summary")] = False,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    sign_key: Annotated[Path | None, typer.Option("--sign-key", help=SIGN_KEY_HELP)] = None,
) -> None:
    """Scan targets and domains; writes DIR/scan.json and the other formats asked for.

    With --client the run is also stored in the history database (see gapscan history)."""
    from scanner.engine.runner import ScanRequest, run_scan

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
            _preflight_store(client, db)  # so is a store that cannot take the run
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
        _remove_stale_outputs(target_dir, chosen_formats)
        show = sys.stderr.isatty() and not quiet
        columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        try:
            with Progress(*columns, console=err, transient=True, disable=not show) as bar:
                run = run_scan(request, registry, sink, progress=RichProgress(bar if show else None))
        except KeyboardInterrupt as exc:
            raise _interrupted(sink) from exc
        stored, not_stored = _store_or_keep(run, client, db, sign_key, target_dir / "scan.json")
        decisions = _report_decisions(run, client, db) if client else None
        interview = _report_interview(client, db, strict=False) if client else None
        anchor = _report_anchor(client, db, stored.anchor()) if stored is not None else None
        trend_rows = _report_trend(run, client, db) if client and stored is not None else None
        written = _render(run, chosen_formats, target_dir, client_info, logo, decisions, registry.catalogue(), anchor,
                          interview, trend_rows)
        if verbose:
            _print_results(run)
        if not quiet:
            _print_summary(run, [target_dir / "scan.json", *written])
        if not_stored is not None:
            raise not_stored
        return EXIT_FAIL_ON if _fail_on_hit(run, fail_on) else EXIT_OK

    _exit_with(work)


def discover(
    targets: Annotated[list[str], typer.Argument(help="IPs, CIDRs, ranges, hostnames")],
    profile: Annotated[str, typer.Option(help="Profile whose discovery settings to use")] = "onboarding",
    exclude: Annotated[list[str] | None, typer.Option("--exclude")] = None,
    ports: Annotated[str | None, typer.Option(help="Comma-separated TCP ports (overrides the profile)")] = None,
    allow_public: Annotated[bool, typer.Option("--allow-public")] = False,
    nameserver: Annotated[
        list[str] | None, typer.Option("--nameserver", help="DNS server that resolves host-name targets")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print hosts as JSON")] = False,
) -> None:
    """Find live hosts and open services only (no checks)."""

    from scanner.discovery.pipeline import discover as run_discovery
    from scanner.scope import guard as scope_guard
    from scanner.scope import targets as scope_targets

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
        scope = scope_targets.build_scope(targets, exclude or (), allow_public=allow_public,
                                          nameservers=nameserver or ())
        with scope_guard.enforce(scope):
            result = run_discovery(scope, config, loaded.profile.concurrency)
        if as_json:
            emit_json({
                "engine": result.engine, "host_discovery": result.host_discovery,
                "duration_s": result.duration_s, "notes": list(result.notes),
                "hosts": [h.model_dump(mode="json") for h in result.hosts],
            })
            return EXIT_OK
        rows: list[tuple[object, ...]] = []
        for host in result.hosts:
            rows += [(host.address, f"{svc.port}/{svc.transport.value}", svc.service or "?", svc.product or "",
                      svc.version or "") for svc in host.services]
            if not host.services:
                rows.append((host.address, "-", "", "", ""))
        emit_rows(f"{len(result.hosts)} live host(s) ({result.engine}, {result.duration_s:.1f} s)",
                  ("address", "port", "service", "product", "version"), rows)
        for note in result.notes:
            err.print(f"note: {note}", highlight=False)
        return EXIT_OK

    _exit_with(work)
