"""The gap report on a recorded lab scan (tests/fixtures/lab-scan.json, written by `make demo`
against the lab's real daemons): every section is there, says what the run says, and loads
nothing from outside its own file."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from markupsafe import escape

from reports.html_report import render_html, report_context
from reports.view import NO_WHY
from scanner.models import Status
from tests.fixtures.report_data import LAB_SCAN, lab_catalogue, lab_client, lab_run

SECTIONS = ("cover", "summary", "matrix", "findings", "third-parties", "decisions", "method", "evidence")


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("report") / "report.html"
    return render_html(lab_run(), path, client=lab_client(), checks=lab_catalogue()).read_text(encoding="utf-8")


def test_every_section_is_present(html: str) -> None:
    for section in SECTIONS:
        assert f'<section id="{section}"' in html, section
    for heading in ("1. Executive summary", "2. Safeguard matrix", "3. Findings by remediation project",
                    "4. Third parties seen", "5. The owner's decision sheet", "6. Method, risk rating and limits",
                    "Appendix A. Evidence"):
        assert heading in html


def test_cover_names_client_msp_scope_and_digest(html: str) -> None:
    digest = hashlib.sha256(LAB_SCAN.read_bytes()).hexdigest()
    assert digest in html, "the digest is over scan.json as written"
    for text in ("Demo Dental (lab)", "12 Main Street", "Dr. Robin Lee", "Northside IT", "Sam Tech",
                 "198.18.0.0/24", "consumer-clinic.test", "gapscan 0.1.0", "not recorded in the scan"):
        assert text in html, text


def test_summary_counts_and_heat_map(html: str) -> None:
    run = lab_run()
    failed = sum(1 for r in run.results if r.status is Status.FAIL)
    assert f"<b>{failed} problem(s)</b>" in html
    assert 'class="picture heat-map" aria-label="Safeguard heat map"' in html
    # one heat-map cell per catalogue entry that applies (164.314(b): group health plans only)
    assert html.count('<g class="safeguard">') == 64
    assert "The most important risks" in html


def test_findings_say_why_and_gap_against_never_compliant(html: str) -> None:
    assert "Why it matters:" in html and "WannaCry" in html  # smb.v1_enabled's own CheckMeta.why
    catalogue = lab_catalogue()
    for check_id in {r.check_id for r in lab_run().results if r.status is Status.FAIL}:
        assert escape(catalogue[check_id].why) in html, check_id  # every failed check's own words
    assert NO_WHY not in html
    assert "Gap against 164.312(e)(1)" in html
    assert not re.search(r"\bis compliant\b|\bare compliant\b", html)
    items = [i for p in report_context(lab_run(), lab_client())["projects"] for i in p.items]
    assert html.count('<details class="screen-evidence">') == sum(1 for i in items if any(r.evidence
                                                                                          for r in i.results))


def test_third_parties_beside_baa_register(html: str) -> None:
    ctx = report_context(lab_run(), lab_client())
    parties = {p.vendor: p for p in ctx["parties"]}
    gmail = parties["Gmail (consumer Google account)"]
    assert gmail.consumer and gmail.alert and gmail.seen_at == ["consumer-clinic.test"]
    assert "consumer service: no BAA possible" in html
    assert [e.vendor for e in ctx["register_unseen"]] == ["Dropbox", "Acme Billing"]


def test_decisions_one_row_per_project_with_boxes(html: str) -> None:
    projects = report_context(lab_run(), lab_client())["projects"]
    decisions = html.split('<section id="decisions"', 1)[1].split("</section>", 1)[0]
    assert decisions.count("Accept<br>") == len(projects)
    assert decisions.count("Decline, because:") == sum(1 for p in projects if not p.required)
    assert decisions.count("Decline: not possible (Required)") == sum(1 for p in projects if p.required)
    assert decisions.count("Defer until:") == len(projects) == decisions.count("Compensating control:")
    assert "Signature — Dr. Robin Lee, Owner" in decisions and "Signature — Sam Tech, Northside IT" in decisions


def test_method_lists_skips_with_reasons(html: str) -> None:
    method = html.split('<section id="method"', 1)[1].split("</section>", 1)[0]
    skipped = [r for r in lab_run().results if r.status is Status.SKIPPED]
    assert skipped and all(r.check_id in method for r in skipped)
    assert "not applicable" in method and "ARP on eth0" in method


def test_self_contained(html: str) -> None:
    assert "<script" not in html.lower()
    assert "default-src 'none'" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(?!data:)[a-z]+:""", html), "nothing but data: URIs"
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", html)
    assert "@import" not in html and "url(" not in html


def test_report_without_client_file_still_reads(tmp_path: Path) -> None:
    html = render_html(lab_run(), tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Demo Dental (lab)" in html  # the run's own client name
    assert "No client file was given" in html and "practice&#39;s decision maker" in html
    assert escape(NO_WHY) in html, "without the catalogue the report says so, it invents no reason"


def test_third_parties_come_from_the_results_never_from_their_words() -> None:
    from datetime import UTC, datetime

    from reports.view import third_parties
    from scanner.models import (
        CheckResult,
        ScanRun,
        ScopeRecord,
        Severity,
        Status,
        Target,
        ThirdParty,
        ThirdPartyKind,
        fingerprint,
        summarize,
    )

    def result(check_id: str, status: Status, detail: str, *parties: ThirdParty) -> CheckResult:
        target = Target(service="network")
        return CheckResult(check_id=check_id, status=status, severity=Severity.HIGH, title="Cloud sync seen",
                           target=target, detail=detail, fingerprint=fingerprint(check_id, target, detail),
                           third_parties=parties)

    results = (
        result("cloudsync.dropbox_lansync", Status.FAIL, "198.18.0.51 announces LAN sync. Remove the client.",
               ThirdParty(vendor="Dropbox", service="Cloud file sync")),
        result("cloudsync.syncthing", Status.FAIL, "198.18.0.50 announces local discovery",
               ThirdParty(vendor="Syncthing", service="Peer-to-peer file sync", kind=ThirdPartyKind.PEER_TO_PEER)),
        # Words that name a vendor are not a vendor: only the check's structured field counts.
        result("cloudsync.resilio", Status.FAIL, "198.18.0.52 announces Resilio Sync local discovery"),
        result("cloudsync.resilio", Status.PASS, "no Resilio Sync local discovery announcement heard"),
    )
    now = datetime.now(UTC)
    run = ScanRun(tool_version="t", run_id="r", profile="onboarding", started_at=now, scope=ScopeRecord(),
                  results=results, summary=summarize(results))
    parties, _ = third_parties(run)
    assert [(p.vendor, p.consumer, p.status) for p in parties] == [
        ("Dropbox", True, "consumer service: no BAA possible"),
        ("Syncthing", True, "peer-to-peer: copies go to other devices, no vendor to sign a BAA")]
    from reports.html_report import html_text

    text = html_text(run)
    section = text.split('<section id="third-parties">', 1)[1].split("</section>", 1)[0]
    rows = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    assert [r.split("</b>", 1)[0].rsplit("<b>", 1)[1] for r in rows] == ["Dropbox", "Syncthing"]
    assert "scanned network (passive listening)" in rows[1] and "no vendor to sign a BAA" in rows[1] \
        and "Remove it from machines that handle ePHI" in rows[1]
    assert "Move this data to a business service with a signed BAA" in rows[0] and "no vendor to sign" not in rows[0]


def test_skips_of_the_same_checks_one_service_each_are_one_row() -> None:
    """Seven "TLS not available" skips in seven wordings were seven rows; one row now names each
    service beside its own words, and skips in the same words stay grouped as before."""
    from reports.view import grouped_skips
    from tests.fixtures.report_data import demo_run

    run = demo_run()
    tls = [r for r in run.results if r.status is Status.SKIPPED and r.check_id.startswith("tls.")]
    services = {r.target.label() for r in tls}
    groups = grouped_skips(run)
    rows = [g for g in groups if any(c.startswith("tls.") for c in g.check_ids)]
    assert len(services) >= 2 and len(rows) < len(services)
    for label in services:
        row = next(g for g in rows if label in g.targets)
        assert len(row.targets) == 1 or f"{label}: " in row.detail  # each service beside its own words
    assert all("this host:" not in g.detail for g in rows if len(g.targets) > 1)
    every = {(r.check_id, r.target.label()) for r in run.results if r.status is Status.SKIPPED}
    assert every <= {(c, t) for g in groups for c in g.check_ids for t in g.targets}  # nothing is dropped
