"""The owner's sign-off page: ``/clients/<client>/runs/<run>/signoff`` (issue 18).

GET shows the decision sheet of the run as a form, or, once signed, the frozen sheet with its
sealed decision record; ``?again=1`` starts a new sign-off that supersedes the standing one
(nothing is edited). POST checks every field (``signoff_form``), then records every decision and
the sign-off in one transaction, with the sealed PDF made inside it: either all of it is
recorded or nothing is, and a refused or failed submission shows the form again as it was typed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from reports.decision_record import SheetLine, SignedSheet, record_pdf
from reports.view import scan_digest
from scanner.history.decisions import DecisionKind, latest
from scanner.history.interviews import current_answers
from scanner.history.signoffs import Signoff, SignoffInput, signing_statement
from scanner.history.store import Store
from scanner.models import ScanRun
from scanner.web.context import AppContext, context_of, in_store
from scanner.web.errors import PageError
from scanner.web.forms import verified_form
from scanner.web.local.clients import client_param, known_run
from scanner.web.local.projects import Project, interview_notes, projects
from scanner.web.local.signoff_form import CHOICE_OF, SheetForm, field_name, parse_sheet
from scanner.web.rendering import page, path

DECISION_LABELS = {DecisionKind.ACCEPTED: "Accepted", DecisionKind.DECLINED: "Declined",
                   DecisionKind.DEFERRED: "Deferred", DecisionKind.COMPENSATING_CONTROL: "Compensating control"}


def _detail(decision: DecisionKind, reason: str | None, until: str | None) -> str | None:
    if decision is DecisionKind.DEFERRED:
        return f"until {until}" + (f": {reason}" if reason else "")
    return reason


def signed_sheet(ctx: AppContext, signoff: Signoff, run: ScanRun, earlier: list[Signoff]) -> SignedSheet:
    """The plain value the decision record is rendered from."""
    lines = tuple(SheetLine(project_id=r.project_id, title=r.title, citations=r.citations, required=r.required,
                            decision=DECISION_LABELS[r.decision],
                            detail=_detail(r.decision, r.reason, r.until.isoformat() if r.until else None),
                            findings=len(r.fingerprints)) for r in signoff.rows)
    before = [s for s in earlier if s.run_id == signoff.run_id and s.seq < signoff.seq]
    sealer = ctx.sealer
    return SignedSheet(
        client=signoff.client, msp=_msp_name(ctx), run_id=run.run_id,
        scan_started=run.started_at.strftime("%Y-%m-%d %H:%M UTC"), scan_digest=signoff.scan_digest, lines=lines,
        signer_name=signoff.signer_name, signer_role=signoff.signer_role, signature_kind=signoff.signature_kind,
        signature_png=signoff.signature_png, statement=signoff.statement, signed_at=signoff.signed_at[:19],
        seq=signoff.seq, digest=signoff.digest, prev_digest=signoff.prev_digest,
        decisions=len(signoff.decision_digests), sealed_by=sealer.subject if sealer else "—",
        seal_fingerprint=sealer.fingerprint if sealer else "—",
        supersedes=f"sign-off #{before[-1].seq} of {before[-1].signed_at[:10]}" if before else None)


def _msp_name(ctx: AppContext) -> str:
    if ctx.sealer is None:
        return "—"
    from cryptography.x509.oid import NameOID

    orgs = ctx.sealer.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(orgs[0].value) if orgs else ctx.sealer.subject


def _prefill(sheet_projects: list[Project], previous: Signoff | None, store: Store, client: str) -> dict[str, str]:
    """A new sheet starts from the standing sign-off of the run, else from the decisions on record."""
    values: dict[str, str] = {}
    by_project = {r.project_id: r for r in previous.rows} if previous else {}
    recorded = latest(store.decisions(client)) if previous is None else {}
    for project in sheet_projects:
        row = by_project.get(project.project_id)
        if row is None:
            found = {recorded[fp].decision for fp in project.fingerprints if fp in recorded}
            if len(found) == 1:
                values[field_name(project, "decision")] = CHOICE_OF[found.pop()]
            continue
        values[field_name(project, "decision")] = CHOICE_OF[row.decision]
        part = "control" if row.decision is DecisionKind.COMPENSATING_CONTROL else "reason"
        values[field_name(project, part)] = row.reason or ""
        values[field_name(project, "until")] = row.until.isoformat() if row.until else ""
    return values


async def _load(request: Request) -> tuple[str, ScanRun, list[Project], list[Signoff]]:
    ctx = context_of(request)
    client = client_param(request)
    info = await known_run(request, client)
    run = await in_store(request, lambda s: s.load_run(info.run_id))
    standing = current_answers(await in_store(request, lambda s: s.interview_answers(client)))
    sheet_projects = projects(run, ctx.framework, interview=interview_notes(standing, ctx.guide))
    signed = await in_store(request, lambda s: s.signoffs(client, info.run_id))
    return client, run, sheet_projects, signed


def _form_page(request: Request, client: str, run: ScanRun, sheet_projects: list[Project], values: dict[str, str],
               errors: dict[str, str], status: int = 200, problem: str | None = None,
               standing: Signoff | None = None) -> Response:
    ctx = context_of(request)
    return page(request, "signoff_form.html.j2", status=status, client=client, run=run, projects=sheet_projects,
                values=values, errors=errors, problem=problem, standing=standing,
                statement=signing_statement(client), field_name=field_name, digest=scan_digest(run),
                sealer_problem=ctx.sealer_problem, today=ctx.today().isoformat())


async def signoff_page(request: Request) -> Response:
    client, run, sheet_projects, signed = await _load(request)
    standing = signed[-1] if signed else None
    if standing is not None and request.query_params.get("again") != "1":
        return page(request, "signoff_signed.html.j2", client=client, run=run, signoff=standing,
                    earlier=signed[:-1], labels=DECISION_LABELS, just_signed=request.query_params.get("signed"))
    values = await in_store(request, lambda s: _prefill(sheet_projects, standing, s, client))
    return _form_page(request, client, run, sheet_projects, values, {}, standing=standing)


async def submit_signoff(request: Request) -> Response:
    ctx = context_of(request)
    form = await verified_form(request, ctx.origins)
    client, run, sheet_projects, signed = await _load(request)
    sheet: SheetForm = parse_sheet(form, sheet_projects, ctx.today())
    standing = signed[-1] if signed else None
    if not sheet.ok:
        return _form_page(request, client, run, sheet_projects, sheet.values, sheet.errors, status=400,
                          standing=standing)
    sealer = ctx.sealer
    if sealer is None:
        return _form_page(request, client, run, sheet_projects, sheet.values, {}, status=503, standing=standing,
                          problem=f"The decision record cannot be sealed: {ctx.sealer_problem}. Nothing was recorded.")
    submission = SignoffInput(client=client, run_id=run.run_id, scan_digest=scan_digest(run),
                              signer_name=sheet.signer_name, signer_role=sheet.signer_role,
                              signature_kind=sheet.signature_kind, signature_png=sheet.signature_png,
                              statement=signing_statement(client), rows=tuple(sheet.rows))

    def seal(record: Signoff) -> bytes:
        pdf = record_pdf(signed_sheet(ctx, record, run, signed))
        return sealer.seal(pdf, reason=f"Signed decision record of {client}, sign-off #{record.seq}")

    try:
        recorded = await in_store(request, lambda s: s.record_signoff(submission, seal=seal))
    except PageError as exc:
        return _form_page(request, client, run, sheet_projects, sheet.values, {}, status=exc.status,
                          standing=standing, problem=f"{exc.title}: {exc.message}. Nothing was recorded; what you "
                                                     "entered is still below, send it again when the database "
                                                     "can be written.")
    target = path("clients", client, "runs", run.run_id, "signoff") + f"?signed={recorded.seq}"
    return RedirectResponse(target, status_code=303)


async def record_download(request: Request) -> Response:
    client, run, _projects, signed = await _load(request)
    try:
        seq = int(request.path_params["seq"])
    except ValueError as exc:
        raise PageError(404, "No such record", "Sign-off numbers are whole numbers.") from exc
    found = next((s for s in signed if s.seq == seq), None)
    if found is None or found.record_pdf is None:
        raise PageError(404, "No such record", f"Run {run.run_id} of {client} has no sign-off #{seq}.")
    name = f"decision-record-{seq}.pdf"
    return Response(found.record_pdf, media_type="application/pdf",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


