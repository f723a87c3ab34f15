"""report.pdf: the same HTML laid out by WeasyPrint; checked with poppler (pdfinfo, pdftotext).

WeasyPrint is installed by `.[dev]`, so `make test` exercises this; without it (or without
poppler) the tests skip, and GAPSCAN_REQUIRE_LAB=1 turns that skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import reports
from reports.pdf_report import FetchRefused, pdf_available, refuse_fetch, render_pdf
from reports.projects import remediation_projects
from scanner.cli import app
from scanner.config.framework import load_framework
from tests.fixtures.report_data import LAB_SCAN, lab_client, lab_run

REQUIRED = os.environ.get("GAPSCAN_REQUIRE_LAB") == "1"
MISSING = [what for what, ok in (("WeasyPrint", pdf_available()), ("poppler-utils", shutil.which("pdftotext")))
           if not ok]
if MISSING and REQUIRED:
    raise RuntimeError(f"PDF tests need {', '.join(MISSING)} (GAPSCAN_REQUIRE_LAB=1)")
needs_pdf = pytest.mark.skipif(bool(MISSING), reason=f"PDF tests need {', '.join(MISSING)}: "
                               "pip install 'hipaa-gapscan[pdf]'; apt-get install poppler-utils")


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_pdf(lab_run(), tmp_path_factory.mktemp("pdf") / "report.pdf", client=lab_client())


def _text(pdf: Path, first: int | None = None, last: int | None = None) -> str:
    args = ["pdftotext", "-layout"]
    if first:
        args += ["-f", str(first), "-l", str(last or first)]
    return subprocess.run([*args, str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]


@needs_pdf
def test_pdf_pages_and_text(pdf: Path) -> None:
    pages = _pages(pdf)
    assert 10 < pages < 120, pages
    text = _text(pdf)
    for heading in ("1. Executive summary", "2. Safeguard matrix", "3. Findings by remediation project",
                    "4. Third parties seen", "5. The owner's decision sheet", "6. Method, risk rating and limits",
                    "Appendix A. Evidence"):
        assert heading in text, heading
    assert "Demo Dental (lab)" in _text(pdf, 1)
    assert f"Page 1 of {pages}" in _text(pdf, 1)
    assert "Dr. Robin Lee" in text and "not assessed by scan" in text


@needs_pdf
def test_sign_off_appendix_starts_on_its_own_page(pdf: Path) -> None:
    pages = _pages(pdf)
    starts = [p for p in range(1, pages + 1) if "5. The owner's decision sheet" in _text(pdf, p)]
    assert len(starts) == 1
    first = _text(pdf, starts[0]).strip()
    assert first.startswith("5. The owner's decision sheet"), first[:200]
    before = _text(pdf, starts[0] - 1)
    assert "5. The owner's decision sheet" not in before
    projects = remediation_projects(lab_run(), load_framework())
    tail = "".join(_text(pdf, p) for p in range(starts[0], pages + 1))
    assert tail.count("Accept") >= len(projects)
    assert "What signing means." in tail
    assert "6. Method, risk rating and limits" in tail


def test_url_fetcher_refuses_everything_but_data_uris() -> None:
    for url in ("http://198.18.0.1/x.png", "https://example.com/font.woff", "file:///etc/passwd", "//x/y"):
        with pytest.raises(FetchRefused):
            refuse_fetch(url)


def test_cli_pdf_without_weasyprint_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports, "pdf_available", lambda: False)
    result = CliRunner().invoke(app, ["report", str(LAB_SCAN), "--format", "html,pdf", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "pip install 'hipaa-gapscan[pdf]'" in result.output
    assert not (tmp_path / "report.html").exists(), "refused before writing anything"


@needs_pdf
def test_cli_writes_pdf(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(LAB_SCAN), "--format", "pdf", "--out", str(tmp_path / "r.pdf")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


@needs_pdf
def test_pdf_is_pdf_a_3b_and_carries_scan_json_byte_for_byte(pdf: Path, tmp_path: Path) -> None:
    """The report carries its own evidence (PDF/A-3 embedded file): the attachment is the exact
    scan.json whose SHA-256 the cover prints, and the XMP metadata declares PDF/A-3 level B."""
    import hashlib

    meta = subprocess.run(["pdfinfo", "-meta", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="B"' in meta, meta[:400]
    listing = subprocess.run(["pdfdetach", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert listing.splitlines()[0] == "1 embedded files" and "1: scan.json" in listing, listing
    out = tmp_path / "attached.json"
    subprocess.run(["pdfdetach", "-save", "1", "-o", str(out), str(pdf)], check=True, capture_output=True)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert out.read_bytes() == (lab_run().model_dump_json(indent=2) + "\n").encode()
    cover = re.sub(r"\s+", "", _text(pdf, 1))
    assert digest in cover, "the cover's digest is the attachment's"


@needs_pdf
def test_printed_appendix_summarises_and_points_to_the_attachment(pdf: Path) -> None:
    text = _text(pdf)
    appendix = text[text.index("Appendix A. Evidence"):]
    assert "attached to this PDF" in appendix
    assert "raw answers are in scan.json" in appendix
