"""The signed decision record: the owner's filled decision sheet as a PDF (issue 18).

A plain value (``SignedSheet``) comes in, built by ``scanner.web`` from the stored sign-off; this
module renders it as HTML (jinja2, autoescape, the report's CSP) and as a PDF through WeasyPrint
(its URL fetcher allows only the embedded ``data:`` signature image). The MSP's PAdES seal is
added afterwards by the history layer (``scanner.history.document_signing``): a renderer holds no
key. The record names what it is evidence of: the run (by the SHA-256 of its scan.json), each
project as decided, who signed in which role and when, and the sign-off's own chain digest.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from reports.html_report import _ENV


@dataclass(frozen=True)
class SheetLine:
    """One project as decided on the sheet."""

    project_id: str
    title: str
    citations: tuple[str, ...]
    required: bool
    decision: str  # "Accepted" / "Declined" / "Deferred" / "Compensating control"
    detail: str | None  # the reason, the compensating control, or "until 2027-03-01"
    findings: int


@dataclass(frozen=True)
class SignedSheet:
    client: str
    msp: str
    run_id: str
    scan_started: str
    scan_digest: str
    lines: tuple[SheetLine, ...]
    signer_name: str
    signer_role: str
    signature_kind: str  # drawn | typed
    signature_png: bytes | None
    statement: str
    signed_at: str  # ISO-8601 UTC
    seq: int
    digest: str
    prev_digest: str | None
    decisions: int
    sealed_by: str  # the document-signing certificate's subject
    seal_fingerprint: str  # its SHA-256
    supersedes: str | None = None  # "sign-off #2 of 2026-12-01" when this replaces one of the same run

    @property
    def signature_uri(self) -> str | None:
        if not self.signature_png:
            return None
        return "data:image/png;base64," + base64.b64encode(self.signature_png).decode("ascii")


def record_html(sheet: SignedSheet) -> str:
    return _ENV.get_template("decision_record.html.j2").render(sheet=sheet)


def record_pdf(sheet: SignedSheet) -> bytes:
    """The record as PDF bytes (unsealed). Raises ``PdfUnavailable`` without WeasyPrint."""
    from reports.pdf_report import INSTALL_HINT, PdfUnavailable, data_only_fetcher

    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(f"the decision record needs WeasyPrint: {INSTALL_HINT}") from exc
    pdf: bytes = HTML(string=record_html(sheet), url_fetcher=data_only_fetcher(), base_url=None).write_pdf()
    return pdf
