"""tickets.csv: one row per failed finding, PSA-import columns, formulas neutralised."""

from __future__ import annotations

import csv
from pathlib import Path

from reports.csv_report import PRIORITY, TICKET_COLUMNS, render_tickets
from scanner.models import Status, Target, fingerprint
from tests.fixtures.report_data import lab_client, lab_run


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_one_ticket_per_failed_finding(tmp_path: Path) -> None:
    run = lab_run()
    rows = _rows(render_tickets(run, tmp_path / "tickets.csv", client=lab_client()))
    failed = [r for r in run.results if r.status is Status.FAIL]
    assert len(rows) == len(failed)
    assert tuple(rows[0]) == TICKET_COLUMNS
    assert {r["fingerprint"] for r in rows} == {r.fingerprint for r in failed}
    assert all(r["company"] == "Demo Dental (lab)" for r in rows)
    assert all(len(r["summary"]) <= 100 and r["summary"].startswith("HIPAA gap: ") for r in rows)
    assert [r["priority"] for r in rows] == sorted(r["priority"] for r in rows), "worst first"
    smb = next(r for r in rows if r["check_id"] == "smb.v1_enabled")
    assert smb["host"] == "198.18.0.10" and smb["port"] == "445" and smb["priority"] == "P2 - High"
    assert "Gap against 45 CFR 164.308(a)(1)(ii)(B)" in smb["description"] and smb["remediation"]
    dns = next(r for r in rows if r["check_id"] == "dns.spf_missing")
    assert dns["host"] == "bare-clinic.test" and dns["port"] == ""


def test_priorities_cover_every_severity() -> None:
    assert [p.split(" ")[0] for p in PRIORITY.values()] == ["P1", "P2", "P3", "P4", "P5"]


def test_ticket_cells_neutralise_formulas(tmp_path: Path) -> None:
    run = lab_run()
    failed = next(r for r in run.results if r.status is Status.FAIL)
    target = Target(host="198.18.0.99", port=21, service="ftp")
    evil = failed.model_copy(update={"title": "=HYPERLINK(\"http://x\")", "detail": "@SUM(1)", "target": target,
                                     "remediation": "+cmd|' /C calc'!A0", "fingerprint": fingerprint("e.v", target)})
    run = run.model_copy(update={"results": (evil,), "client": "-2+3"})
    row = _rows(render_tickets(run, tmp_path / "t.csv"))[0]
    assert row["summary"].startswith("HIPAA gap: =HYPERLINK")  # prefixed text: not a formula
    assert row["description"].startswith("'@SUM")
    assert row["remediation"].startswith("'+cmd")
    assert row["company"] == "'-2+3"
