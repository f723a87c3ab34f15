"""The sign-off form: every field checked, and each refusal names its field (issue 18).

A decline needs a reason and is refused for a project that cites a Required specification; a
deferral needs a date after today; a compensating control needs its description; the signer
types a full name and a role, agrees to the statement, and either draws a signature (a PNG the
page's canvas made) or consents to sign by typed name.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass, field
from datetime import date

from starlette.datastructures import FormData

from scanner.history.decisions import DecisionKind
from scanner.history.interviews import MAX_NAME
from scanner.history.signoffs import (
    MAX_REASON,
    MAX_SIGNATURE_PNG,
    SIGNATURE_DRAWN,
    SIGNATURE_TYPED,
    SheetRow,
    decision_problem,
)
from scanner.web.forms import text
from scanner.web.local.projects import Project

CHOICES = {"accept": DecisionKind.ACCEPTED, "decline": DecisionKind.DECLINED, "defer": DecisionKind.DEFERRED,
           "compensate": DecisionKind.COMPENSATING_CONTROL}
CHOICE_OF = {kind: name for name, kind in CHOICES.items()}
PNG_PREFIX = "data:image/png;base64,"
MIN_INK_PIXELS = 40  # fewer drawn pixels than a short stroke is an empty box, not a signature


@dataclass
class SheetForm:
    """The parsed form: values to show again, errors by field name, and (when valid) the rows."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    rows: list[SheetRow] = field(default_factory=list)
    signer_name: str = ""
    signer_role: str = ""
    signature_kind: str = SIGNATURE_TYPED
    signature_png: bytes | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def field_name(project: Project, part: str) -> str:
    return f"p-{project.project_id}-{part}"


def _row(form: FormData, project: Project, today: date, sheet: SheetForm) -> None:
    names = {part: field_name(project, part) for part in ("decision", "reason", "control", "until")}
    for name in names.values():
        raw = form.get(name)
        sheet.values[name] = raw.strip() if isinstance(raw, str) else ""
    choice = sheet.values[names["decision"]]
    kind = CHOICES.get(choice)
    if kind is None:
        sheet.errors[names["decision"]] = "Decision: choose Accept, Decline, Defer or Compensating control"
        return
    reason, too_long = text(form, names["reason"], MAX_REASON)
    control, control_long = text(form, names["control"], MAX_REASON)
    if too_long or control_long:
        sheet.errors[names["reason" if too_long else "control"]] = f"longer than {MAX_REASON} characters"
        return
    until: date | None = None
    if kind is DecisionKind.DEFERRED and sheet.values[names["until"]]:
        try:
            until = date.fromisoformat(sheet.values[names["until"]])
        except ValueError:
            sheet.errors[names["until"]] = "Defer until: not a date (YYYY-MM-DD)"
            return
    detail = control if kind is DecisionKind.COMPENSATING_CONTROL else reason
    problem = decision_problem(kind, required=project.required, reason=detail, until=until, today=today)
    if problem is not None:
        where, message = problem
        part = "control" if where == "reason" and kind is DecisionKind.COMPENSATING_CONTROL else where
        label = {"decision": "Decision", "reason": "Reason", "control": "Compensating control",
                 "until": "Defer until"}[part]
        sheet.errors[names[part]] = f"{label}: {message}"
        return
    sheet.rows.append(SheetRow(project_id=project.project_id, title=project.title,
                               citations=tuple(c.label() for c in project.citations), required=project.required,
                               fingerprints=project.fingerprints, decision=kind, reason=detail, until=until))


def drawn_signature(data_url: str) -> tuple[bytes | None, str | None]:
    """The canvas PNG re-encoded (no metadata survives), or why it is not a signature."""
    from PIL import Image, UnidentifiedImageError

    if not data_url.startswith(PNG_PREFIX):
        return None, "Signature: not a PNG drawing from this page"
    try:
        raw = base64.b64decode(data_url[len(PNG_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return None, "Signature: the drawing is damaged; clear it and sign again"
    if len(raw) > MAX_SIGNATURE_PNG:
        return None, "Signature: the drawing is too large"
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.format != "PNG" or img.width > 2000 or img.height > 1000:
                return None, "Signature: not a signature drawing"
            rgba = img.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError):
        return None, "Signature: the drawing is damaged; clear it and sign again"
    alpha = rgba.getchannel("A")
    ink = sum(count for value, count in enumerate(alpha.histogram()) if value > 32)
    if ink < MIN_INK_PIXELS:
        return None, "Signature: the signature box is empty; draw your signature, or sign by typed name"
    out = io.BytesIO()
    rgba.save(out, format="PNG", optimize=True)
    return out.getvalue(), None


def parse_sheet(form: FormData, projects: list[Project], today: date) -> SheetForm:
    sheet = SheetForm()
    for project in projects:
        _row(form, project, today, sheet)
    for name, label in (("signer_name", "Full name"), ("signer_role", "Role")):
        value, problem = text(form, name, MAX_NAME)
        sheet.values[name] = value or ""
        if problem:
            sheet.errors[name] = f"{label}: {problem}"
        elif not value:
            sheet.errors[name] = f"{label}: needed to sign"
    sheet.signer_name, sheet.signer_role = sheet.values["signer_name"], sheet.values["signer_role"]
    sheet.values["agree"] = "yes" if form.get("agree") == "yes" else ""
    if not sheet.values["agree"]:
        sheet.errors["agree"] = "What signing means: tick the box to confirm you have read it"
    drawing = form.get("signature_png")
    drawing = drawing.strip() if isinstance(drawing, str) else ""
    typed = form.get("typed_consent") == "yes"
    sheet.values["typed_consent"] = "yes" if typed else ""
    if drawing:
        png, problem = drawn_signature(drawing)
        if problem:
            sheet.errors["signature"] = problem
        sheet.signature_png, sheet.signature_kind = png, SIGNATURE_DRAWN
    elif typed:
        sheet.signature_kind = SIGNATURE_TYPED
    else:
        sheet.errors["signature"] = ("Signature: draw your signature in the box, or tick “I sign by typing my full "
                                     "name” where no pen, finger or mouse can draw")
    return sheet
