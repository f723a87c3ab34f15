"""Helpers of the commands that scan, render, store and compare runs (scan, report, rescan, diff)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape

from scanner.cli.common import EXIT_INTERRUPTED, CliExit, err
from scanner.config.profiles import LoadedProfile
from scanner.errors import InputError
from scanner.models import ScanRun, Severity, Status


def _split_formats(value: str) -> list[str]:
    from reports import available_formats

    formats = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = [f for f in formats if f not in available_formats() and f != "json"]
    if unknown:
        raise InputError(f"format {', '.join(unknown)} is not available; choose from "
                         f"{', '.join(available_formats())}", source="--format")
    return formats


def _check_pdf(formats: list[str]) -> None:
    """Refuse --format pdf before scanning when the optional WeasyPrint extra is missing."""
    from reports import INSTALL_HINT, PDF_FORMATS, pdf_available

    if PDF_FORMATS.intersection(formats) and not pdf_available():
        raise InputError(f"PDF output needs WeasyPrint, which is not installed: {INSTALL_HINT}",
                         source="--format")


def _credentials(path: Path | None) -> Any:
    """Secrets are resolved now, before any packet (a missing variable is exit 2, not an error result)."""
    if path is None:
        return None
    from scanner.config.credentials_file import load_credentials

    return load_credentials(path)


def _check_unattended_credentials(path: Path) -> None:
    """A scheduled rescan has no terminal: refuse a credentials file that would prompt."""
    from scanner.config.credentials_file import read_credentials_file

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
    from scanner.config.userfiles import load_model

    client = load_model(path, ClientFile)
    try:
        logo = client.logo_data_uri(path.parent)
    except LogoError as exc:
        raise InputError(str(exc), source=str(path), where="key 'msp.logo'") from exc
    return client, logo


def _render(run: ScanRun, formats: list[str], out_dir: Path, client: Any = None,
            logo: str | None = None, decisions: Any = None, checks: Any = None,
            anchor: str | None = None, interview: Any = None,
            trend_rows: list[dict[str, Any]] | None = None) -> list[Path]:
    """``checks``: the registry's catalogue (what each check says about itself) for the report;
    ``anchor``: the history heads the report is made from (printed on its cover); ``interview``:
    the client's standing interview answers (``_report_interview``); ``trend_rows``: the client's
    open gaps per run (``scanner.history.drift.trend``) for the report's trend picture."""
    from reports import FILE_NAMES, RENDERERS
    from scanner.engine.output import publish

    written = []
    for fmt in formats:
        if fmt == "json":
            continue  # scan.json is always written by the sink
        renderer: Any = RENDERERS[fmt]
        extra = {"trend": trend_rows} if trend_rows and fmt in ("html", "pdf") else {}
        written.append(publish(lambda path, r=renderer, x=extra: r(run, path, client=client, logo=logo,  # type: ignore[misc]
                                                                   decisions=decisions, checks=checks,
                                                                   anchor=anchor, interview=interview, **x),
                               out_dir / FILE_NAMES[fmt]))
    return written


def _remove_stale_outputs(out_dir: Path, formats: list[str]) -> None:
    """Before a scan: the reports a previous run left where this one will write its own go, so an
    interrupted scan never leaves an older run's report looking like this run's."""
    from reports import FILE_NAMES

    for fmt in formats:
        (out_dir / FILE_NAMES[fmt]).unlink(missing_ok=True)


def _report_decisions(run: ScanRun, client: str, db: str | None, *, strict: bool = False) -> dict[str, Any]:
    """The client's latest decision on each of the run's fingerprints and check ids, as plain
    ``reports.annotations.DecisionNote`` values (renderers never see the store). A client with no
    stored run yet has none. ``strict``: an unusable store is an error, else a note on stderr."""
    from datetime import date

    from reports.annotations import DecisionNote
    from scanner.history.decisions import latest
    from scanner.history.store import Store, StoreError

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


def _report_trend(run: ScanRun, client: str, db: str | None) -> list[dict[str, Any]]:
    """Open gaps per stored run of the client, this one included (plain rows for the trend picture);
    none when the store is unusable (a note on stderr) or knows no earlier run."""
    from scanner.history.drift import trend
    from scanner.history.store import Store, StoreError

    try:
        with Store.open(db) as store:
            if client not in store.clients():
                return []
            history = [r for r in store.client_runs(client) if r.run_id != run.run_id]
    except StoreError as exc:
        err.print(f"note: no trend in the report: {escape(str(exc))}", highlight=False)
        return []
    return trend([*history, run]) if history else []


def _report_interview(client: str, db: str | None, *, strict: bool = True) -> tuple[Any, ...]:
    """The client's standing interview answers as plain ``reports.interview_view.InterviewNote`` values
    (renderers never see the store); none for a client the store does not know. ``strict``: an
    unusable store is an error, else a note on stderr and no answers."""
    from scanner.history.interviews import current_answers
    from scanner.history.store import Store, StoreError

    try:
        with Store.open(db) as store:
            if client not in store.clients():
                return ()
            standing = current_answers(store.interview_answers(client))
    except StoreError as exc:
        if strict:
            raise
        err.print(f"note: interview answers not shown in the report: {escape(str(exc))}", highlight=False)
        return ()
    from scanner.config.interview_guide import load_guide
    from scanner.web.local.projects import interview_notes

    return interview_notes(standing, load_guide())


def _signer(sign_key: Path | None) -> Any:
    from scanner.history.signing import default_key_path, load_key

    if sign_key is not None:
        return load_key(sign_key)
    default = default_key_path()
    return load_key(default) if default.exists() else None


def _preflight_store(client: str, db: str | None) -> None:
    """Before the first packet: the store can take this client's next run (exit 2 if not; 4 if it
    no longer holds what the anchor log recorded)."""
    from scanner.history.store import Store

    with Store.open(db) as store:
        store.preflight(client)


def _store_run(run: ScanRun, client: str, db: str | None, sign_key: Path | None = None) -> Any:
    """Store the run (signed, timestamped where configured, anchored); returns its RunInfo."""
    from scanner.cli.integrity import settings, stamper
    from scanner.history.store import Store

    signer = _signer(sign_key)
    with Store.open(db) as store:
        info = store.store_run(run, client, signer=signer, stamper=stamper(settings()))
        signed = f", signed with key {info.signed_by}" if info.signed_by else ""
        stamped = ", timestamped" if info.timestamped else ""
        err.print(f"stored run {info.run_id} as #{info.seq} of client {client!r} in {store.url}{signed}{stamped}; "
                  f"chain head {info.anchor().text()}", highlight=False, markup=False)
    return info


def _store_or_keep(run: ScanRun, client: str | None, db: str | None, sign_key: Path | None,
                   scan_file: Path) -> tuple[Any, InputError | None]:
    """Store a finished scan (with ``--client``). When that fails the run is still in scan.json:
    the error, returned for the caller to raise once the reports are written, says how to store
    it later. (A store that no longer holds its anchored history raises at once: exit 4.)"""
    from scanner.history.store import StoreError

    if client is None:
        return None, None
    try:
        return _store_run(run, client, db, sign_key), None
    except StoreError as exc:
        import hashlib

        digest = hashlib.sha256(scan_file.read_bytes()).hexdigest()
        later = f"gapscan store {_quote(str(scan_file))} --client {_quote(client)}" + (
            f" --db {_quote(db)}" if db else "") + f" --sha256 {digest}"
        return None, StoreError(f"{exc}. The run is not lost: it is in {scan_file} (sha256 {digest}); store it "
                                f"later with: {later}")


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def _report_anchor(client: str | None, db: str | None, run_head: Any = None) -> str | None:
    """The chain heads a report is made from (printed on its cover): ``run_head`` (the run just
    stored) or the client's newest, and the newest decision. None without a stored client."""
    if client is None:
        return None
    from scanner.cli.integrity import head_text
    from scanner.history.store import Store, StoreError

    try:
        with Store.open(db) as store:
            newest_run, newest_decision = store.client_heads(client)
            return head_text(run_head or newest_run, newest_decision)
    except StoreError as exc:
        err.print(f"note: no history anchor on the report: {escape(str(exc))}", highlight=False)
        return None


def _with_listen_window(loaded: LoadedProfile, seconds: float | None) -> LoadedProfile:
    if seconds is None:
        return loaded
    return loaded.model_copy(update={"profile": loaded.profile.model_copy(update={"listen_seconds": seconds})})


def _fail_on_hit(run: ScanRun, threshold: Severity | None) -> bool:
    if threshold is None:
        return False
    return any(r.status is Status.FAIL and r.severity.rank >= threshold.rank for r in run.results)


def _write_drift(directory: Path, drift: dict[str, Any], trend_rows: list[dict[str, Any]],
                 client: str | None) -> None:
    """DIR/drift.json (the drift, its client and trend) and DIR/drift.html, each written atomically."""
    import json

    from reports.drift_report import render_drift_html
    from scanner.engine.output import publish

    def drift_json(path: Path) -> Path:
        path.write_text(json.dumps(drift | {"client": client, "trend": trend_rows}, indent=2) + "\n",
                        encoding="utf-8")
        return path

    drift_file = publish(drift_json, directory / "drift.json")
    html = publish(lambda path: render_drift_html(drift, trend_rows, path, client=client), directory / "drift.html")
    err.print(f"wrote {drift_file}, {html}", highlight=False)


def _interrupted(sink: Any) -> CliExit:
    """Say exactly what an interrupted scan saved (never more), and exit 130."""
    saved = getattr(sink, "saved", None)
    if saved is not None:
        err.print(f"interrupted: the results so far are saved in {saved} (complete: false)", highlight=False)
    else:
        err.print("interrupted before any result was saved", highlight=False)
    return CliExit(EXIT_INTERRUPTED)
