"""Interview worksheets: ``/clients/<client>/interview`` and one page per Security Rule standard.

Each page lists the standard's NIST SP 800-66r2 key activities with their sample questions and,
where an activity carries out an implementation specification, that specification's text and
designation. Per activity the technician records the practice's answer (in place / partly / not
in place / not applicable), notes and the name of a document that shows it (a reference, never
an upload: no PHI reaches gapscan); one "answered by" per page. Only answers that differ from
the standing one are recorded, appended to the client's answer chain in one transaction.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scanner.config.interview_guide import KeyActivity, Standard
from scanner.history.interviews import (
    MAX_EVIDENCE,
    MAX_NAME,
    MAX_NOTES,
    AnswerInput,
    AnswerKind,
    InterviewAnswer,
    current_answers,
)
from scanner.web.context import context_of, in_store
from scanner.web.errors import PageError
from scanner.web.forms import text, verified_form
from scanner.web.local.clients import client_param, known_client
from scanner.web.rendering import page, path

NO_ANSWER = ""


def field_name(activity: KeyActivity, part: str) -> str:
    return f"a-{activity.id}-{part}"


async def interview_index(request: Request) -> Response:
    ctx = context_of(request)
    client = client_param(request)
    await known_client(request, client)
    answers = current_answers(await in_store(request, lambda s: s.interview_answers(client)))
    rows = []
    for std in ctx.guide.standards:
        given = [answers[a.id] for a in std.activities if a.id in answers]
        rows.append((std, len(given), sum(1 for a in given if a.answer is AnswerKind.NOT_IN_PLACE)))
    return page(request, "interview_index.html.j2", client=client, rows=rows, source=ctx.guide.source)


def _standard(request: Request) -> Standard:
    slug = unquote(str(request.path_params["standard"]))
    found = context_of(request).guide.standard(slug)
    if found is None:
        raise PageError(404, "No such standard", f"“{slug}” is not a Security Rule standard of the interview guide.")
    return found


async def _show(request: Request, client: str, std: Standard, values: dict[str, str] | None,
                errors: dict[str, str], status: int = 200, problem: str | None = None,
                saved: str | None = None) -> Response:
    ctx = context_of(request)
    try:
        every = await in_store(request, lambda s: s.interview_answers(client))
    except PageError as exc:  # the store failed while a page of typed answers waits to be shown again
        if values is None:
            raise
        every, problem = [], problem or f"{exc.title}: {exc.message}"
    standing = current_answers(every)
    if values is None:
        values = {"answered_by": next((standing[a.id].answered_by for a in reversed(std.activities)
                                       if a.id in standing), "")}
        for act in std.activities:
            cur = standing.get(act.id)
            values[field_name(act, "answer")] = cur.answer.value if cur else NO_ANSWER
            values[field_name(act, "notes")] = (cur.notes or "") if cur else ""
            values[field_name(act, "evidence")] = (cur.evidence_ref or "") if cur else ""
    earlier = {a.id: sorted((x for x in every if x.key_activity == a.id), key=lambda x: -x.seq)
               for a in std.activities}
    position = ctx.guide.standards.index(std)
    following = ctx.guide.standards[position + 1] if position + 1 < len(ctx.guide.standards) else None
    return page(request, "interview_standard.html.j2", status=status, client=client, std=std, values=values,
                errors=errors, standing=standing, earlier=earlier, kinds=list(AnswerKind), field_name=field_name,
                problem=problem, saved=saved, following=following, source=ctx.guide.source)


async def standard_page(request: Request) -> Response:
    client = client_param(request)
    await known_client(request, client)
    return await _show(request, client, _standard(request), None, {}, saved=request.query_params.get("saved"))


def _typed(form: FormData, std: Standard) -> tuple[dict[str, str], dict[str, str]]:
    """The page's fields as typed (to show them again whatever happens) and the problems of each."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    by, by_problem = text(form, "answered_by", MAX_NAME)
    values["answered_by"] = by or ""
    if by_problem:
        errors["answered_by"] = f"Answered by: {by_problem}"
    for act in std.activities:
        choice = form.get(field_name(act, "answer"))
        values[field_name(act, "answer")] = choice if isinstance(choice, str) else NO_ANSWER
        for part, label, limit in (("notes", "Notes", MAX_NOTES), ("evidence", "Evidence reference", MAX_EVIDENCE)):
            value, problem = text(form, field_name(act, part), limit)
            values[field_name(act, part)] = value or ""
            if problem:
                errors[field_name(act, part)] = f"{label}: {problem}"
    return values, errors


def _changed(std: Standard, values: dict[str, str], errors: dict[str, str],
             standing: dict[str, InterviewAnswer]) -> list[AnswerInput]:
    """The answers that differ from the standing ones (re-saving a page re-attributes nothing)."""
    given: list[AnswerInput] = []
    by = values["answered_by"]
    for act in std.activities:
        choice = values[field_name(act, "answer")]
        notes = values[field_name(act, "notes")] or None
        evidence = values[field_name(act, "evidence")] or None
        if choice == NO_ANSWER:
            if (notes or evidence) and act.id not in standing:
                errors[field_name(act, "answer")] = "Answer: choose one for the notes or evidence given"
            continue
        try:
            kind = AnswerKind(choice)
        except ValueError:
            errors[field_name(act, "answer")] = "Answer: not one of the choices"
            continue
        cur = standing.get(act.id)
        if cur is not None and (cur.answer, cur.notes, cur.evidence_ref) == (kind, notes, evidence):
            continue
        given.append(AnswerInput(key_activity=act.id, answer=kind, answered_by=by, notes=notes,
                                 evidence_ref=evidence))
    if given and not by and "answered_by" not in errors:
        errors["answered_by"] = "Answered by: say who gave these answers (name and role)"
    return given


async def submit_answers(request: Request) -> Response:
    ctx = context_of(request)
    form = await verified_form(request, ctx.origins)
    client = client_param(request)
    std = _standard(request)
    values, errors = _typed(form, std)
    keep = ("Nothing on this page was recorded; your answers are still below, save again when the database can be "
            "written.")
    try:
        await known_client(request, client)
        standing = current_answers(await in_store(request, lambda s: s.interview_answers(client)))
        given = _changed(std, values, errors, standing)
        if errors:
            return await _show(request, client, std, values, errors, status=400)
        written = await in_store(request, lambda s: s.add_answers(client, given, "web")) if given else []
    except PageError as exc:
        if exc.status != 503:
            raise
        return await _show(request, client, std, values, {}, status=503, problem=f"{exc.title}: {exc.message}. {keep}")
    target = path("clients", client, "interview", std.slug) + f"?saved={len(written)}"
    return RedirectResponse(target, status_code=303)
