"""The command line: the only place that prints and picks exit codes.

Exit codes: 0 scan completed; 1 internal failure; 2 bad input (the message names what and
where); 3 ``--fail-on`` was given and a failed finding is at or above that severity;
130 interrupted (results so far are saved with ``complete: false``).
"""

from __future__ import annotations

import os
import stat
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
from scanner.errors import GapscanError, InputError
from scanner.framework import load_framework
from scanner.models import ScanRun, Severity, Status
from scanner.output import ResultSink, load_scan_json
from scanner.profiles import load_profile, shipped_profiles
from scanner.registry import Registry, load_registry
from scanner.scope import load_scope_file

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_FAIL_ON, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

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


def _check_credentials_file(path: Path) -> None:
    """Secrets files must be private: refuse one that group or others can read."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputError(f"cannot read credentials file ({exc.strerror or exc})", source=str(path)) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"credentials file is readable by others (mode {stat.S_IMODE(mode):o}); "
                         "run: chmod 600 " + str(path), source=str(path))


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
            logo: str | None = None) -> list[Path]:
    from reports import FILE_NAMES, RENDERERS

    written = []
    for fmt in formats:
        if fmt == "json":
            continue  # scan.json is always written by the sink
        written.append(RENDERERS[fmt](run, out_dir / FILE_NAMES[fmt], client=client, logo=logo))
    return written


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
    credentials: Annotated[Path | None, typer.Option(help="Credentials YAML (mode 0600)")] = None,
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary table")] = False,
) -> None:
    """Scan targets and domains; writes DIR/scan.json and the other formats asked for."""
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
        if credentials is not None:
            _check_credentials_file(credentials)
        registry = _registry()
        loaded = load_profile(profile, registry)
        for warning in loaded.warnings:
            err.print(f"note: {loaded.source}: {warning}", highlight=False)
        request = ScanRequest(
            profile=loaded, targets=tuple(all_targets), domains=tuple(domain or ()),
            exclusions=tuple(all_exclusions), nameservers=tuple(nameserver or ()), client=client,
            allow_public=allow_public, authorized_by=who,
            scope_file=str(scope_file) if scope_file else None,
            settings={"dkim_selectors": _dkim_selectors(dkim_selector or [])},
        )
        target_dir = out_dir or Path("gapscan-out")
        sink = ResultSink(target_dir)
        show = sys.stderr.isatty() and not quiet
        columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True, disable=not show) as bar:
            run = run_scan(request, registry, sink, progress=RichProgress(bar if show else None))
        written = _render(run, chosen_formats, target_dir, client_info, logo)
        if not quiet:
            out.print(_summary_table(run))
        counts = ", ".join(f"{v} {k}" for k, v in run.summary.by_status.items())
        err.print(f"{len(run.hosts)} host(s), {len(run.results)} result(s): {counts}", highlight=False)
        err.print(f"wrote {target_dir / 'scan.json'}" + "".join(f", {p}" for p in written), highlight=False)
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
) -> None:
    """Re-render a saved run. Reads the file only: no network."""
    from reports import FILE_NAMES, RENDERERS

    def work() -> int:
        chosen = _split_formats(formats)
        _check_pdf(chosen)
        client_info, logo = _load_client_file(client_file)
        run = load_scan_json(run_file)
        if out_path is not None and len(chosen) == 1 and out_path.suffix:
            targets = {chosen[0]: out_path}
        else:
            directory = out_path or run_file.parent
            directory.mkdir(parents=True, exist_ok=True)
            targets = {fmt: directory / FILE_NAMES[fmt] for fmt in chosen}
        for fmt, path in targets.items():
            if path.resolve() == run_file.resolve():
                raise InputError("refusing to overwrite the input run", source=str(path))
            RENDERERS[fmt](run, path, client=client_info, logo=logo)
            err.print(f"wrote {path}", highlight=False)
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
