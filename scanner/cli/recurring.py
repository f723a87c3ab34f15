"""Repeating a client's scan: gapscan rescan and gapscan schedule."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

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
    out,
)
from scanner.cli.runs import (
    _check_pdf,
    _check_unattended_credentials,
    _credentials,
    _fail_on_hit,
    _interrupted,
    _remove_stale_outputs,
    _render,
    _report_anchor,
    _report_decisions,
    _report_interview,
    _split_formats,
    _store_or_keep,
    _with_listen_window,
    _write_drift,
)
from scanner.config.profiles import load_profile
from scanner.engine.output import ResultSink
from scanner.errors import InputError
from scanner.models import Severity


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
    from scanner.engine.runner import ScanRequest, run_scan
    from scanner.history.drift import compare, trend
    from scanner.history.store import Store

    def work() -> int:
        chosen_formats = _split_formats(formats)
        _check_pdf(chosen_formats)
        with Store.open(db) as store:
            last = store.list_runs(client)
            if not last:
                raise InputError(f"client {client!r} has no stored run to repeat", source="--client")
            store.preflight(client)  # before the first packet: the store can take the run
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
        _remove_stale_outputs(target_dir, chosen_formats)
        for stale in ("drift.json", "drift.html"):
            (target_dir / stale).unlink(missing_ok=True)
        try:
            run = run_scan(request, registry, sink)
        except KeyboardInterrupt as exc:
            raise _interrupted(sink) from exc
        stored, not_stored = _store_or_keep(run, client, db, sign_key, target_dir / "scan.json")
        anchor = _report_anchor(client, db, stored.anchor()) if stored is not None else None
        written = _render(run, chosen_formats, target_dir, decisions=_report_decisions(run, client, db),
                          checks=registry.catalogue(), anchor=anchor,
                          interview=_report_interview(client, db, strict=False),
                          trend_rows=trend([*history_runs, run]))
        err.print(f"wrote {target_dir / 'scan.json'}" + "".join(f", {p}" for p in written), highlight=False)
        if not_stored is not None:
            raise not_stored
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

    from scanner.history.schedule import Every, build
    from scanner.history.store import Store, resolve_url

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
