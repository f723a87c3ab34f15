"""Issue 17 on the recorded demo scan (tests/fixtures/demo-scan.json, `make demo` of the whole lab
practice): remediation projects, the risk rating, the asset inventory, the owner's decision sheet
and the recommendation letter."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from reports.client_file import ClientFile
from reports.html_report import html_text, report_context
from reports.interview_view import InterviewNote
from reports.letter import letter_html, render_letter_pdf
from reports.pdf_report import pdf_available
from reports.project_data import load_project_data
from reports.projects import ranked_items, remediation_projects
from reports.risk import METHOD, RISK
from scanner.config.framework import load_framework
from scanner.config.userfiles import load_model
from scanner.engine.registry import load_registry
from scanner.errors import InputError
from scanner.models import Status
from scanner.web.local.projects import projects as web_projects
from tests.fixtures.report_data import DEMO_CLIENT_FILE, demo_client, demo_run, lab_catalogue

DNS_HYGIENE = {"dns.dnssec_missing", "dns.mta_sts_missing", "dns.tls_rpt_missing"}
DATA_FILE = Path(__file__).resolve().parents[2] / "reports" / "data" / "projects.yaml"


def _projects(client: ClientFile | None = None) -> list:
    return remediation_projects(demo_run(), load_framework(), client=client, checks=lab_catalogue())


def _rank_of(items: list, check_id: str) -> int:
    return next(n for n, (item, _p) in enumerate(items) if check_id in item.check_ids)


# ------------------------------------------------------------------ membership is data, complete


def test_every_registered_check_belongs_to_exactly_one_project() -> None:
    """The contract: a check with no project (or two) fails here, naming it."""
    root = yaml.compose(DATA_FILE.read_text(encoding="utf-8"))
    checks_node = next(v for k, v in root.value if k.value == "checks")
    listed = [k.value for k, _v in checks_node.value]
    twice = sorted({c for c in listed if listed.count(c) > 1})
    assert not twice, f"checks listed twice in reports/data/projects.yaml: {twice}"
    installed = set(load_registry(load_framework()).ids())
    missing = sorted(installed - set(listed))
    assert not missing, f"checks with no remediation project in reports/data/projects.yaml: {missing}"
    assert not set(listed) - installed, "the data file names only installed checks"
    data = load_project_data()
    assert all(data.checks[c].project in data.projects for c in installed)


def test_a_check_naming_an_unknown_project_is_refused() -> None:
    from pydantic import ValidationError

    from reports.project_data import ProjectData

    raw = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    raw["checks"]["cleartext.vnc"]["project"] = "nowhere"
    with pytest.raises(ValidationError, match=r"cleartext\.vnc names project 'nowhere'"):
        ProjectData.model_validate(raw)


# ------------------------------------------------------------------ ranking by risk, not place count


@pytest.mark.parametrize("client", [None, "demo"], ids=["no-client-file", "with-inventory"])
def test_critical_vnc_and_open_shares_rank_above_dns_hygiene(client: str | None) -> None:
    items = ranked_items(_projects(demo_client() if client else None))
    vnc, shares = _rank_of(items, "cleartext.vnc"), _rank_of(items, "smb.open_share")
    hygiene = min(_rank_of(items, c) for c in DNS_HYGIENE)
    assert vnc < hygiene and shares < hygiene
    assert vnc < 3, "the only critical-and-takeover finding is at the top"
    projects = _projects(demo_client() if client else None)
    order = [p.project_id for p in projects]
    assert order.index("remote-access") < order.index("dns-domain")
    assert order.index("file-server") < order.index("dns-domain")


def test_identical_dns_findings_are_one_card_with_their_places() -> None:
    dns = next(p for p in _projects() if p.project_id == "dns-domain")
    dnssec = [i for i in dns.items if i.check_ids == ("dns.dnssec_missing",)]
    assert len(dnssec) == 1 and len(dnssec[0].places) == 7
    html = html_text(demo_run(), demo_client(), checks=lab_catalogue())
    findings = html.split('<section id="findings">')[1].split("</section>")[0]
    title = next(r.title for r in demo_run().results if r.check_id == "dns.dnssec_missing")
    assert findings.count(f"</span> {title}</h4>") == 1, "seven places, one card"
    for check in DNS_HYGIENE:
        assert sum(1 for p in _projects() for i in p.items if check in i.check_ids) == 1


def test_checks_on_one_setting_at_one_port_are_one_item() -> None:
    email = next(p for p in _projects() if p.project_id == "email")
    versions = next(i for i in email.items if i.key == "tls-versions")
    assert set(versions.check_ids) == {"smtp.tls_weak", "tls.legacy_protocol"}
    port25 = next(pl for pl in versions.places if pl.results[0].target.host_port() == "198.18.0.22:25")
    assert {r.check_id for r in port25.results} == {"smtp.tls_weak", "tls.legacy_protocol"}
    web = next(p for p in _projects() if p.project_id == "web-encryption")
    legacy = next(i for i in web.items if i.check_ids == ("tls.legacy_protocol",))
    assert all(pl.results[0].target.host_port() != "198.18.0.22:25" for pl in legacy.places), \
        "alone on a port, tls.legacy_protocol stays in its own project"


def test_every_failed_finding_is_in_exactly_one_place() -> None:
    failed = sorted(r.fingerprint for r in demo_run().results if r.status is Status.FAIL)
    assert sorted(fp for p in _projects() for fp in p.fingerprints) == failed


# ------------------------------------------------------------------ the rating shows its inputs


def test_rating_inputs_and_method_are_printed() -> None:
    html = html_text(demo_run(), demo_client(), checks=lab_catalogue())
    assert "NIST SP 800-30 Rev. 1" in METHOD and "800-66r2 section 3" in METHOD
    assert "NIST SP 800-30 Rev. 1" in html and "Table I-2" in html
    vnc = next(i for p in _projects(demo_client()) for i in p.items if i.check_ids == ("cleartext.vnc",))
    factors = [i.factor for i in vnc.places[0].rating.inputs]
    assert factors[:3] == ["what an attacker needs", "exposure", "holds ePHI"] and "takeover" in factors
    assert "yes (inventory)" in html and "practice network (LAN) only" in html
    assert vnc.places[0].rating.name == "very high"
    assert RISK[4][4] == 5 and RISK[0][4] == 2, "NIST SP 800-30 Rev. 1 Table I-2 corners"


def test_override_with_reason_changes_the_rating_and_is_printed() -> None:
    without = next(i for p in _projects() for i in p.items if i.check_ids == ("dns.dnssec_missing",))
    with_override = next(i for p in _projects(demo_client()) for i in p.items
                         if i.check_ids == ("dns.dnssec_missing",))
    assert with_override.rating.impact == 1 < without.rating.impact
    assert with_override.rating.override and "does not offer DNSSEC" in with_override.rating.override
    html = html_text(demo_run(), demo_client(), checks=lab_catalogue())
    assert "Rating overridden in the client file:</b> The DNS host does not offer DNSSEC" in html


def test_portable_device_loss_gap_is_likelier() -> None:
    laptops = next(p for p in _projects(demo_client()) if p.project_id == "laptops-endpoints")
    disk = next(i for i in laptops.items if i.check_ids == ("endpoint.disk_encryption_off",))
    assert any(i.factor == "leaves the office" for i in disk.places[0].rating.inputs)
    assert disk.places[0].rating.likelihood == 4


# ------------------------------------------------------------------ assets


def test_devices_are_named_and_unknown_ones_listed() -> None:
    html = html_text(demo_run(), demo_client(), checks=lab_catalogue())
    assert "Front desk PC (198.18.0.40)" in html
    ctx = report_context(demo_run(), demo_client(), checks=lab_catalogue())
    unknown = [v.key for v in ctx["unknown_devices"]]
    assert "198.18.0.21" in unknown and "198.18.0.40" not in unknown
    assert "Devices to classify" in html
    assert "pc-exam.lab.test (198.18.0.60)" in html, "an unclassified device is named by its reverse DNS name"
    assert "locally administered" in html, "the MAC vendor column"


def test_asset_mistakes_name_the_line(tmp_path: Path) -> None:
    text = DEMO_CLIENT_FILE.read_text(encoding="utf-8").replace("role: laptop, owner: Dr. Robin Lee, ephi: yes",
                                                                "role: laptop, owner: Dr. Robin Lee, ephi: maybe")
    path = tmp_path / "client.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_model(path, ClientFile)
    line = next(n for n, s in enumerate(text.splitlines(), 1) if "ephi: maybe" in s)
    assert f"line {line}" in str(info.value) and "assets.6.ephi" in str(info.value)
    path.write_text(DEMO_CLIENT_FILE.read_text(encoding="utf-8").replace("match: 198.18.0.10,", "match: 198.18.0/33,"),
                    encoding="utf-8")
    with pytest.raises(InputError, match="is not a network"):
        load_model(path, ClientFile)


def test_override_needs_a_reason_and_a_subject(tmp_path: Path) -> None:
    path = tmp_path / "client.yaml"
    base = DEMO_CLIENT_FILE.read_text(encoding="utf-8")
    path.write_text(base.replace("impact: very-low, reason:", "impact: very-low, project: dns-domain, reason:"),
                    encoding="utf-8")
    with pytest.raises(InputError, match="name either 'check' or 'project'"):
        load_model(path, ClientFile)


# ------------------------------------------------------------------ the decision sheet


def test_decision_sheet_has_one_row_per_project_with_required_and_addressable_words() -> None:
    html = html_text(demo_run(), demo_client(), checks=lab_catalogue())
    sheet = html.split('<section id="decisions">')[1].split("</section>")[0]
    projects = _projects(demo_client())
    rows = re.findall(r"<tr>\s*<td>\d+</td>", sheet)
    assert len(rows) == len(projects) == 9
    required = [p for p in projects if p.required]
    addressable = [p for p in projects if not p.required and p.addressable]
    assert required and addressable
    assert sheet.count("declining is not a lawful option") == len(required)
    assert sheet.count("is the documentation 45 CFR 164.306(d)(3) asks for") == len(addressable)
    assert "What signing means." in sheet and "does not state that the practice complies" in sheet
    assert "decisions by <b>January 15, 2027</b>" in sheet, "the decision date of the letter"


def test_web_signoff_rows_are_the_decision_sheet_rows() -> None:
    report_rows = [p.project_id for p in report_context(demo_run(), None, checks=lab_catalogue())["projects"]]
    assert [p.project_id for p in web_projects(demo_run(), load_framework())] == report_rows


def test_interview_answers_reach_the_matrix_and_not_in_place_becomes_a_row() -> None:
    note = InterviewNote(key_activity="164.308(a)(7)-6", activity="Data Backup Plan and Disaster Recovery Plan",
                         standard="164.308(a)(7)(i) Contingency Plan", citations=("164.308(a)(7)(i)",
                                                                                    "164.308(a)(7)(ii)(A)"),
                         answer="not-in-place", answered_by="Maria Lopez, office manager", answered_on="2026-12-02",
                         notes="One USB disk, never restored")
    html = html_text(demo_run(), demo_client(), checks=lab_catalogue(), interview=(note,))
    matrix = html.split('<section id="matrix">')[1].split("</section>")[0]
    assert "answered in interview: not in place (2026-12-02, Maria Lopez, office manager)" in matrix
    assert '<span class="tag st-na">answered in interview</span>' in matrix
    projects = remediation_projects(demo_run(), load_framework(), interview=(note,))
    row = next(p for p in projects if p.project_id == "interview:164.308(a)(7)-6")
    assert row.required and row.fingerprints == ("interview:164.308(a)(7)-6",)
    sheet = html.split('<section id="decisions">')[1].split("</section>")[0]
    assert "Not in place (interview): Data Backup Plan and Disaster Recovery Plan" in sheet
    web = web_projects(demo_run(), load_framework(), interview=(note,))
    assert [p.project_id for p in web] == [p.project_id for p in projects]


def test_an_interview_finding_is_a_practice_wide_ticket(tmp_path: Path) -> None:
    import csv

    from reports.csv_report import render_tickets

    note = InterviewNote(key_activity="164.308(a)(5)-1", activity="Security Awareness and Training Program",
                         standard="164.308(a)(5)(i) Security Awareness and Training", citations=("164.308(a)(5)(i)",),
                         answer="not-in-place", answered_by="Pat Doe, office manager", answered_on="2026-12-02")
    path = render_tickets(demo_run(), tmp_path / "t.csv", client=demo_client(), interview=(note,))
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    row = next(r for r in rows if r["project"] == "interview:164.308(a)(5)-1")
    assert row["host"] == "Practice-wide" and row["summary"].startswith("Practice-wide: Not in place (interview)")
    assert "164.308(a)(5)(i)" in row["hipaa"]


# ------------------------------------------------------------------ the letter


def test_letter_names_the_few_risks_the_decision_date_and_the_digest() -> None:
    html = letter_html(demo_run(), demo_client(), checks=lab_catalogue())
    ctx = report_context(demo_run(), demo_client(), checks=lab_catalogue())
    assert "Northside IT" in html and "400 River Road, Springfield" in html
    assert "Dear Dr. Robin Lee," in html and "January 15, 2027" in html
    assert ctx["digest"] in html and "owner&#39;s decision sheet" in html.replace("owner's", "owner&#39;s")
    top = ctx["top_items"][0][0]
    assert top.title in html and "<script" not in html.lower()
    assert html.count("<li>") <= 3 + 5


@pytest.mark.skipif(not (pdf_available() and shutil.which("pdfinfo")), reason="needs WeasyPrint and poppler-utils")
def test_letter_pdf_is_one_page(tmp_path: Path) -> None:
    pdf = render_letter_pdf(demo_run(), tmp_path / "letter.pdf", client=demo_client(), checks=lab_catalogue())
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info


def test_hostile_inventory_and_override_text_renders_inert() -> None:
    from reports.client_file import Asset, RiskOverride

    evil = "<script>alert(1)</script>"
    client = demo_client().model_copy(update={
        "assets": (Asset(match="198.18.0.40", name=evil, role="<img src=x onerror=1>"),),
        "risk_overrides": (RiskOverride(check="cleartext.vnc", impact="low", reason=f"{evil} reason"),)})
    for html in (html_text(demo_run(), client, checks=lab_catalogue()),
                 letter_html(demo_run(), client, checks=lab_catalogue())):
        assert "<script>alert(1)" not in html and "<img src=x" not in html
    html = html_text(demo_run(), client, checks=lab_catalogue())
    assert "&lt;script&gt;alert(1)&lt;/script&gt; (198.18.0.40)" in html


def test_cli_writes_the_letter_and_refuses_an_unknown_format(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scanner.cli import app
    from tests.fixtures.report_data import DEMO_SCAN

    result = CliRunner().invoke(app, ["report", str(DEMO_SCAN), "--client-file", str(DEMO_CLIENT_FILE),
                                      "--format", "letter,tickets", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Dear Dr. Robin Lee," in (tmp_path / "letter.html").read_text(encoding="utf-8")
    assert (tmp_path / "tickets.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    refused = CliRunner().invoke(app, ["report", str(DEMO_SCAN), "--format", "memo", "--out", str(tmp_path)])
    assert refused.exit_code == 2 and "letter" in refused.output
