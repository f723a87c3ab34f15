"""Renderers: hostile strings from the network are inert in HTML and CSV."""

import csv
import re
from datetime import UTC, datetime
from pathlib import Path

from reports.csv_report import render_csv
from reports.html_report import render_html
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

HOSTILE = '<script>alert(1)</script>"onerror=x {{ 7*7 }} \u202etxt.exe =cmd|calc'


def _run() -> ScanRun:
    target = Target(host="198.18.0.20", port=25, service="smtp")
    result = CheckResult(
        check_id="smtp.starttls_missing", status=Status.FAIL, severity=Severity.HIGH,
        title="SMTP server does not offer STARTTLS", target=target, detail=HOSTILE,
        evidence=(Evidence(kind="smtp-ehlo", summary=HOSTILE, data={"banner": HOSTILE}),),
        hipaa=("164.312(e)(1)",), remediation="Enable STARTTLS.",
        fingerprint=fingerprint("smtp.starttls_missing", target),
    )
    now = datetime.now(UTC)
    return ScanRun(tool_version="t", run_id="r1", client=HOSTILE, profile="onboarding", started_at=now,
                   finished_at=now, scope=ScopeRecord(targets=("198.18.0.0/24",)),
                   hosts=(Host(address="198.18.0.20", services=(Service(port=25, service="smtp", product=HOSTILE),)),),
                   results=(result,), summary=summarize([result]))


def test_html_is_self_contained_and_inert(tmp_path: Path) -> None:
    html = render_html(_run(), tmp_path / "report.html").read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html
    assert '"onerror' not in html
    assert "{{ 7*7 }}" in html  # data is never evaluated as template syntax
    assert "\u202e" not in html and "\\u202e" in html  # bidi override shown, not applied
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "no remote loads"
    assert "gap against" in html and "compliant" not in html.replace("not that the practice is compliant", "")


def test_csv_neutralises_formulas(tmp_path: Path) -> None:
    run = _run()
    target = Target(host="198.18.0.21", port=25, service="smtp")
    formula = run.results[0].model_copy(update={"detail": "=HYPERLINK(\"x\")", "target": target,
                                                "fingerprint": fingerprint("x.y", target)})
    run = run.model_copy(update={"results": (*run.results, formula)})
    rows = list(csv.DictReader(render_csv(run, tmp_path / "f.csv").open()))
    assert rows[1]["detail"].startswith("'=")
    assert rows[0]["detail"] == HOSTILE
