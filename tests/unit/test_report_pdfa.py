"""report.pdf of the recorded demo practice: PDF/A-3b with scan.json embedded byte for byte, no
box wider than the page's content area, no machine-local path; its page count is printed."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from reports.client_file import ClientFile
from reports.html_report import html_text
from reports.pdf_report import pdf_available, render_pdf, scan_json_bytes
from reports.view import scan_digest
from tests.fixtures.report_data import demo_client, demo_run, lab_client

pikepdf = pytest.importorskip("pikepdf")
needs = pytest.mark.skipif(not pdf_available() or not shutil.which("pdftotext"),
                           reason="needs WeasyPrint and poppler-utils")
PAGE_LIMIT = 30


@pytest.fixture(scope="module")
def demo_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_pdf(demo_run(), tmp_path_factory.mktemp("pdfa") / "report.pdf", client=lab_client())


@needs
def test_pdf_identifies_as_pdfa_3b(demo_pdf: Path) -> None:
    with pikepdf.open(demo_pdf) as pdf:
        meta = pdf.open_metadata()
        assert meta.get("pdfaid:part") == "3" and meta.get("pdfaid:conformance") == "B"
        assert "/OutputIntents" in pdf.Root


@needs
def test_scan_json_is_embedded_byte_for_byte(demo_pdf: Path) -> None:
    run = demo_run()
    with pikepdf.open(demo_pdf) as pdf:
        files = pdf.attachments
        assert list(files) == ["scan.json"]
        data = files["scan.json"].get_file().read_bytes()
    assert data == scan_json_bytes(run) == Path("tests/fixtures/demo-scan.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == scan_digest(run)  # the digest printed on the cover


@needs
def test_no_machine_local_path_in_the_client_copy(demo_pdf: Path) -> None:
    text = subprocess.run(["pdftotext", str(demo_pdf), "-"], capture_output=True, text=True, check=True).stdout
    # the technician's machine (temporary credential files): never; paths on the practice's own
    # endpoints (an install path under /home on a laptop) are evidence and stay
    for local in ("/tmp/", "gapscan-demo-", "/credentials.yaml"):
        assert local not in text


def _overflowing_boxes(html: str) -> list[tuple[int, str, float]]:
    from weasyprint import HTML

    doc = HTML(string=html).render()
    found = []
    for number, page in enumerate(doc.pages, 1):
        box = page._page_box  # WeasyPrint's layout tree: every box with its position and size
        right = box.content_box_x() + box.width
        for child in box.descendants():
            if child is box or getattr(child, "width", None) is None or not hasattr(child, "position_x"):
                continue
            over = child.position_x + child.margin_width() - right
            if over > 0.5:
                found.append((number, str(getattr(child, "element_tag", "")), round(over, 1)))
    return found


def _cell_problems(html: str) -> list[tuple[int, str]]:
    """Text that runs out of its table cell (over the next column), and table headings broken
    inside a word ("initia|ls"): both read as clipped on paper."""
    from weasyprint import HTML

    doc = HTML(string=html).render()
    found = []
    for number, page in enumerate(doc.pages, 1):
        for cell in page._page_box.descendants():
            if type(cell).__name__ != "TableCellBox":
                continue
            right = cell.border_box_x() + cell.border_width()
            lines = []
            for child in cell.descendants():
                if type(child).__name__ == "TextBox":
                    lines.append(child.text.strip())
                    if child.position_x + child.margin_width() - right > 0.5:
                        found.append((number, f"runs out of its cell: {child.text[:40]!r}"))
            if getattr(cell, "element_tag", "") == "th" and lines:
                words = " ".join(cell.element.itertext()).split()
                if any(part and part not in words for line in lines for part in line.split()):
                    found.append((number, f"heading broken inside a word: {' | '.join(lines)!r}"))
    return found


@needs
def test_no_box_is_wider_than_the_page() -> None:
    assert _overflowing_boxes(html_text(demo_run(), lab_client())) == []


@needs
@pytest.mark.parametrize("client", [lab_client, demo_client], ids=["no-inventory", "demo-practice"])
def test_no_text_runs_out_of_its_table_cell(client: Callable[[], ClientFile]) -> None:
    assert _cell_problems(html_text(demo_run(), client())) == []


@needs
def test_the_cell_detector_sees_text_over_the_next_column() -> None:
    """Negative control: an unbreakable line in a narrow cell, and a heading split inside a word."""
    html = ("<html><body><table style='table-layout:fixed;width:100mm;overflow-wrap:anywhere'>"
            "<tr><th style='width:9mm'>initials</th><th>x</th></tr>"
            "<tr><td style='white-space:nowrap'>Decline: not possible (Required)</td><td>x</td></tr>"
            "</table></body></html>")
    problems = [p for _, p in _cell_problems(html)]
    assert any("runs out" in p for p in problems) and any("broken inside a word" in p for p in problems)


@needs
def test_the_clip_detector_sees_a_clipped_box() -> None:
    """Negative control: a table wider than the page is found."""
    html = "<html><body><table style='width:300mm'><tr><td>x</td></tr></table></body></html>"
    assert _overflowing_boxes(html)


@needs
def test_demo_pdf_is_at_most_30_pages(tmp_path: Path) -> None:
    """The demo practice (`make demo`: its client file with the asset inventory)."""
    demo_pdf = render_pdf(demo_run(), tmp_path / "report.pdf", client=demo_client())
    info = subprocess.run(["pdfinfo", str(demo_pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    print(f"demo report.pdf: {pages} pages")
    assert pages <= PAGE_LIMIT


def test_client_file_group_health_plan_defaults_off() -> None:
    assert ClientFile.model_fields["group_health_plan"].default is False
