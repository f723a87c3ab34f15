"""Strings that came off the network are inert in the gap report (issue 9).

A hostile banner, SMB share name and DNS TXT record carry `<script>`, an `"onerror=` attribute
break-out, template syntax `{{ }}` and bidi/zero-width characters. The report must show them as
text: no element, no attribute, no template evaluation, and invisible characters made visible.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reports.client_file import BaaEntry, ClientFile, Msp, Person
from reports.html_report import render_html
from reports.pdf_report import pdf_available, render_pdf
from scanner.models import (
    CheckResult,
    Evidence,
    Host,
    ScanRun,
    ScopeRecord,
    Service,
    Severity,
    Status,
    Target,
    fingerprint,
    summarize,
)

HOSTILE = '<script>alert(1)</script><img src=x "onerror=alert(2)> {{ 7*7 }} {% raw %} \u202egnp.exe \u200bzw \u2066iso'


def _result(check_id: str, target: Target, detail: str, evidence: Evidence, hipaa: tuple[str, ...]) -> CheckResult:
    return CheckResult(check_id=check_id, status=Status.FAIL, severity=Severity.HIGH, title=f"{check_id} gap",
                       target=target, detail=detail, evidence=(evidence,), hipaa=hipaa, remediation=HOSTILE,
                       fingerprint=fingerprint(check_id, target, detail))


def hostile_run() -> ScanRun:
    smtp = Target(host="198.18.0.20", port=25, service="smtp")
    smb = Target(host="198.18.0.10", port=445, service="smb")
    domain = Target(domain="clinic.test")
    results = (
        _result("smtp.starttls_missing", smtp, f"banner {HOSTILE}",
                Evidence(kind="smtp-banner", summary=HOSTILE, data={"banner": HOSTILE}), ("164.312(e)(1)",)),
        _result("smb.open_share", smb, f"\\\\198.18.0.10\\{HOSTILE}: READ by guest",
                Evidence(kind="smb-anonymous-access", summary="shares", data={"shares": [{"name": HOSTILE}]}),
                ("164.312(a)(1)",)),
        _result("dns.spf_weak", domain, f"TXT {HOSTILE}",
                Evidence(kind="txt-record", summary=HOSTILE, data={"records": [f"v=spf1 {HOSTILE} +all"]}),
                ("164.308(a)(1)(ii)(B)",)),
        _result("mail.consumer_provider", domain, f"mail for clinic.test is handled by {HOSTILE} (MX x)",
                Evidence(kind="dns-mx", summary="MX", data={"mx_hosts": [HOSTILE]}), ("164.308(b)(1)",)),
    )
    now = datetime.now(UTC)
    return ScanRun(tool_version="t", run_id="r1", client=HOSTILE, profile="onboarding", started_at=now,
                   finished_at=now, scope=ScopeRecord(targets=("198.18.0.0/24",), authorized_by=HOSTILE),
                   hosts=(Host(address="198.18.0.20", hostnames=(HOSTILE,),
                               services=(Service(port=25, service="smtp", product=HOSTILE, banner=HOSTILE),)),),
                   results=results, summary=summarize(list(results)), warnings=(HOSTILE,))


def hostile_client() -> ClientFile:
    return ClientFile(practice=HOSTILE, address=HOSTILE, decision_maker=Person(name=HOSTILE, role=HOSTILE),
                      msp=Msp(name=HOSTILE), technician=Person(name=HOSTILE),
                      baa_register=(BaaEntry(vendor=HOSTILE, service=HOSTILE, baa_on_file=False, notes=HOSTILE),))


def _assert_inert(html: str) -> None:
    assert "<script" not in html.lower()
    assert "<img" not in html.lower(), "no element made from data (and no logo was given)"
    assert '"onerror' not in html and "onerror=alert" not in html.replace("&#34;onerror=alert", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and "{% raw %}" in html, "data is never evaluated as a template"
    assert not re.search("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]", html), "invisible characters applied"
    assert "\\u202e" in html and "\\u200b" in html and "\\u2066" in html, "shown as visible escapes"


def test_hostile_network_strings_are_inert_in_html(tmp_path: Path) -> None:
    html = render_html(hostile_run(), tmp_path / "report.html", client=hostile_client()).read_text()
    _assert_inert(html)
    # the hostile vendor name reached the third-party table, escaped
    third = html.split('<section id="third-parties"', 1)[1].split("</section>", 1)[0]
    assert "&lt;script&gt;" in third
    assert html.count("<section ") == 8


def test_hostile_strings_are_inert_without_client_file(tmp_path: Path) -> None:
    _assert_inert(render_html(hostile_run(), tmp_path / "report.html").read_text())


@pytest.mark.skipif(not pdf_available(), reason="WeasyPrint not installed (pip install 'hipaa-gapscan[pdf]')")
def test_hostile_strings_reach_the_pdf_as_text(tmp_path: Path) -> None:
    path = render_pdf(hostile_run(), tmp_path / "report.pdf", client=hostile_client())
    assert path.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        assert "<script>alert(1)</script>" in text and "{{ 7*7 }}" in text, "shown as text, not run"
