"""report.pdf: the same HTML as report.html, laid out by WeasyPrint with the print CSS.

WeasyPrint is an optional extra (``pip install hipaa-gapscan[pdf]``). It must never fetch
anything: its URL fetcher refuses every URL but ``data:`` (the embedded MSP logo), so a hostile
string that somehow became a URL could not make the PDF step touch the network or the disk.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reports.annotations import Catalogue, Decisions
from reports.client_file import ClientFile
from reports.html_report import html_text
from reports.interview_view import Interview
from scanner.models import ScanRun

INSTALL_HINT = "pip install 'hipaa-gapscan[pdf]'"


class PdfUnavailable(RuntimeError):
    """WeasyPrint (the optional extra) is not installed."""


class FetchRefused(ValueError):
    """The report tried to load a resource that is not embedded."""


def refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """WeasyPrint URL fetcher: data: URIs only; everything else is refused (no network, no files)."""
    if url.startswith("data:"):
        from weasyprint.urls import default_url_fetcher

        result: dict[str, Any] = default_url_fetcher(url)
        return result
    raise FetchRefused(f"the report may not load {url[:80]!r}")


def data_only_fetcher() -> Any:
    """The URL fetcher handed to WeasyPrint: ``data:`` URIs only. WeasyPrint 70 takes a ``URLFetcher``
    instance (a plain function there fails on the first fetch); older versions take ``refuse_fetch``."""
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:
        return refuse_fetch

    class DataOnly(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.startswith("data:"):
                raise FetchRefused(f"the report may not load {url[:80]!r}")
            return super().fetch(url, headers)

    return DataOnly(allowed_protocols={"data"}, allow_redirects=False)


def pdf_available() -> bool:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def render_pdf(run: ScanRun, path: Path, *, client: ClientFile | None = None, logo: str | None = None,
               decisions: Decisions | None = None, checks: Catalogue | None = None,
               anchor: str | None = None, interview: Interview | None = None,
               trend: Sequence[Mapping[str, Any]] = ()) -> Path:
    """``trend``: the client's open gaps per run (rows of ``scanner.history.drift.trend``), drawn when two or more."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(f"PDF output needs WeasyPrint: {INSTALL_HINT}") from exc
    html = html_text(run, client, logo, decisions, checks, anchor, interview, trend=trend, attached_scan=True)
    fetcher = data_only_fetcher()
    HTML(string=html, url_fetcher=fetcher, base_url=None).write_pdf(
        path, pdf_variant=PDF_VARIANT, attachments=[scan_attachment(run, fetcher)])
    return path


# PDF/A-3 (ISO 19005-3), level B: an archivable PDF that may carry embedded files; the report
# carries its own evidence, scan.json, byte for byte as the scanner wrote it (its SHA-256 is on the cover).
PDF_VARIANT = "pdf/a-3b"
ATTACHMENT_NAME = "scan.json"


def scan_json_bytes(run: ScanRun) -> bytes:
    """scan.json exactly as ``scanner.engine.output.write_scan_json`` writes it (``view.scan_digest`` hashes it)."""
    return (run.model_dump_json(indent=2) + "\n").encode("utf-8")


def scan_attachment(run: ScanRun, fetcher: Any) -> Any:
    from weasyprint import Attachment

    return Attachment(file_obj=io.BytesIO(scan_json_bytes(run)), name=ATTACHMENT_NAME, url_fetcher=fetcher,
                      description="The machine-readable record of this scan (gapscan scan.json)",
                      relationship="Source")
