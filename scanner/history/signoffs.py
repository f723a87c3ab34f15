"""The owner's signed decision sheet: one decision per remediation project, a name, a role, a signature.

Submitting a sheet records one decision per finding of each project in the decision chain
(``scanner.history.decisions``) and one sign-off record that freezes the sheet: which run (by the
SHA-256 of its scan.json), every row as decided, who signed in which role, how (a drawn
signature's PNG or typed-name consent), what signing was said to mean, and the digests of the
decisions it wrote. Sign-offs are chained per client like decisions; a second submission
supersedes the first, nothing is edited. Pure logic; the store persists them.

The rules a sheet must follow (45 CFR 164.306(d)): a Required implementation specification must
be implemented, so a project that cites one cannot be declined (a compensating control is the
way to record doing it another way); an Addressable one may be declined with the documented
reason 164.306(d)(3) asks for; a deferral needs a date after today.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

from scanner.history.decisions import DecisionKind

SIGNATURE_DRAWN, SIGNATURE_TYPED = "drawn", "typed"
MAX_REASON = 2000
MAX_SIGNATURE_PNG = 512 * 1024  # a drawn signature is a small two-colour PNG; more is not a signature


@dataclass(frozen=True)
class SheetRow:
    """One remediation project as the owner decided it."""

    project_id: str
    title: str
    citations: tuple[str, ...]  # "164.312(e)(2)(ii) Encryption (Addressable)"
    required: bool  # cites a Required implementation specification: declining is not an option
    fingerprints: tuple[str, ...]  # the findings the decision applies to
    decision: DecisionKind
    reason: str | None = None  # decline: why; compensating control: what instead; defer: optional note
    until: date | None = None  # defer: the date the project comes back

    def as_dict(self) -> dict[str, object]:
        return {"project_id": self.project_id, "title": self.title, "citations": list(self.citations),
                "required": self.required, "fingerprints": list(self.fingerprints), "decision": self.decision.value,
                "reason": self.reason, "until": self.until.isoformat() if self.until else None}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> SheetRow:
        until = data.get("until")
        return cls(project_id=str(data["project_id"]), title=str(data["title"]),
                   citations=tuple(str(c) for c in data.get("citations") or ()),  # type: ignore[attr-defined]
                   required=bool(data["required"]),
                   fingerprints=tuple(str(f) for f in data.get("fingerprints") or ()),  # type: ignore[attr-defined]
                   decision=DecisionKind(str(data["decision"])),
                   reason=str(data["reason"]) if data.get("reason") is not None else None,
                   until=date.fromisoformat(str(until)) if until else None)


def decision_problem(decision: DecisionKind, *, required: bool, reason: str | None, until: date | None,
                     today: date) -> tuple[str, str] | None:
    """What is wrong with one row's decision, as (field, message): field is "decision", "reason" or "until"."""
    if decision is DecisionKind.DECLINED:
        if required:
            return ("decision", "cites a Required implementation specification, which must be implemented: it "
                                "cannot simply be declined. Record what is done instead as a compensating control")
        if not reason:
            return ("reason", "a decline needs its reason (45 CFR 164.306(d)(3) asks for the documented decision)")
    if decision is DecisionKind.DEFERRED:
        if until is None:
            return ("until", "a deferral needs the date until which it is deferred")
        if until <= today:
            return ("until", f"the date {until.isoformat()} is not in the future")
    if decision is DecisionKind.COMPENSATING_CONTROL and not reason:
        return ("reason", "a compensating control needs a description of what is done instead")
    if reason is not None and len(reason) > MAX_REASON:
        return ("reason", f"longer than {MAX_REASON} characters")
    return None


@dataclass(frozen=True)
class SignoffInput:
    """A filled sheet, as submitted."""

    client: str
    run_id: str
    scan_digest: str  # SHA-256 of the run's scan.json
    signer_name: str
    signer_role: str
    signature_kind: str  # SIGNATURE_DRAWN or SIGNATURE_TYPED
    signature_png: bytes | None  # the drawn signature (None when signed by typed-name consent)
    statement: str  # what signing means, exactly as shown above the signature
    rows: tuple[SheetRow, ...]

    @property
    def decided_by(self) -> str:
        return f"{self.signer_name}, {self.signer_role}"


@dataclass(frozen=True)
class Signoff:
    """One recorded sign-off (``seq`` orders a client's sign-offs; the latest for a run stands)."""

    client: str
    seq: int
    run_id: str
    scan_digest: str
    signer_name: str
    signer_role: str
    signature_kind: str
    signature_png: bytes | None
    statement: str
    rows: tuple[SheetRow, ...]
    decision_digests: tuple[str, ...]
    signed_at: str  # ISO-8601 UTC
    digest: str
    prev_digest: str | None
    record_pdf: bytes | None = None  # the sealed decision record, outside the digest (it embeds the digest)

    @property
    def decided_by(self) -> str:
        return f"{self.signer_name}, {self.signer_role}"


def sheet_json(rows: tuple[SheetRow, ...]) -> str:
    return json.dumps([r.as_dict() for r in rows], sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def signoff_digest(*, client: str, seq: int, run_id: str, scan_digest: str, signer_name: str, signer_role: str,
                   signature_kind: str, signature_png: bytes | None, statement: str, sheet: str,
                   decision_digests: tuple[str, ...] | list[str], signed_at: str, prev_digest: str | None) -> str:
    """SHA-256 over the canonical JSON of the sign-off (the signature image by its own SHA-256)."""
    payload = {"kind": "gapscan-signoff-v1", "client": client, "seq": seq, "run_id": run_id,
               "scan_digest": scan_digest, "signer_name": signer_name, "signer_role": signer_role,
               "signature_kind": signature_kind,
               "signature_sha256": hashlib.sha256(signature_png).hexdigest() if signature_png else None,
               "statement": statement, "sheet": sheet, "decision_digests": list(decision_digests),
               "signed_at": signed_at, "prev_digest": prev_digest}
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def signing_statement(practice: str) -> str:
    """What signing the sheet means, shown above the signature and kept with the record, word for word."""
    return (f"By signing I confirm that I may decide for {practice} how it responds to the gaps this assessment "
            "found, and that the decision shown for each project above is the practice's decision. I understand "
            "that a declined or deferred project leaves the risk described in the report in place until it is "
            "addressed, and that a compensating control is the practice's own measure instead of the one "
            "recommended. My name, my role, the date and this sheet are recorded in the practice's tamper-evident "
            "decision history, and the IT provider seals a PDF copy of exactly what I signed. Signing does not "
            "state that the practice complies with HIPAA.")
