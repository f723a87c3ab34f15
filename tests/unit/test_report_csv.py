"""tickets.csv: one ticket per remediation project per host, PSA-import columns, formulas neutralised."""

from __future__ import annotations

import csv
from pathlib import Path

from reports.client_file import Asset
from reports.csv_report import AUTOTASK_PRIORITY, CONNECTWISE_PRIORITY, PRIORITY, TICKET_COLUMNS, render_tickets
from reports.projects import remediation_projects
from scanner.config.framework import load_framework
from scanner.models import Status, Target, fingerprint
from tests.fixtures.report_data import demo_client, demo_run, lab_client, lab_run


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_one_ticket_per_project_per_host(tmp_path: Path) -> None:
    run = demo_run()
    rows = _rows(render_tickets(run, tmp_path / "tickets.csv", client=demo_client()))
    projects = remediation_projects(run, load_framework(), client=demo_client())
    pairs = {(p.project_id, pl.asset.key if pl.asset else pl.label) for p in projects for i in p.items
             for pl in i.places}
    assert len(rows) == len(pairs) == len({(r["project"], r["host"]) for r in rows})
    assert tuple(rows[0]) == TICKET_COLUMNS
    failed = [r for r in run.results if r.status is Status.FAIL]
    assert sorted(fp for r in rows for fp in r["fingerprints"].split()) == sorted(r.fingerprint for r in failed)
    assert all(r["company"] == "Demo Dental (lab)" and r["status"] == "New" and r["queue"] and r["type"]
               for r in rows)
    assert all(len(r["summary"]) <= 100 for r in rows)
    vnc = next(r for r in rows if "cleartext.vnc" in r["check_ids"].split())
    assert vnc["summary"].startswith("Front desk PC (198.18.0.40): "), "host first"
    assert vnc["host"] == "198.18.0.40" and vnc["priority"] == "P1 - Critical" and vnc["risk"] == "very high"
    assert vnc["cw_priority"] == "Priority 1 - Emergency Response" and vnc["autotask_priority"] == "Critical"
    assert vnc["due_date"] == "2026-12-09", "a very high risk is due a week after the scan"
    smtp = next(r for r in rows if r["project"] == "email" and r["host"] == "198.18.0.22")
    assert {"smtp.tls_weak", "tls.legacy_protocol", "smtp.cleartext_auth"} <= set(smtp["check_ids"].split())
    dns = [r for r in rows if r["project"] == "dns-domain"]
    assert {r["host"] for r in dns} == set(run.scope.domains) - {"good-clinic.test"}
    assert "Gap against 45 CFR 164.308(a)(1)(ii)(B)" in dns[0]["description"]


def test_tickets_are_utf8_with_a_bom(tmp_path: Path) -> None:
    raw = render_tickets(demo_run(), tmp_path / "t.csv", client=demo_client()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfsummary,")


def test_priorities_cover_every_risk_level() -> None:
    assert [PRIORITY[level].split(" ")[0] for level in (5, 4, 3, 2, 1)] == ["P1", "P2", "P3", "P4", "P5"]
    assert set(CONNECTWISE_PRIORITY) == set(AUTOTASK_PRIORITY) == {1, 2, 3, 4, 5}


def test_ticket_cells_neutralise_formulas(tmp_path: Path) -> None:
    run = lab_run()
    failed = next(r for r in run.results if r.status is Status.FAIL)
    target = Target(host="198.18.0.99", port=21, service="ftp")
    evil = failed.model_copy(update={"title": "=HYPERLINK(\"http://x\")", "detail": "@SUM(1)", "target": target,
                                     "remediation": "+cmd|' /C calc'!A0", "fingerprint": fingerprint("e.v", target)})
    run = run.model_copy(update={"results": (evil,), "client": "-2+3"})
    client = lab_client().model_copy(update={"assets": (Asset(match="198.18.0.99", name="=HYPERLINK(1)"),)})
    row = _rows(render_tickets(run, tmp_path / "t.csv", client=client))[0]
    assert row["summary"].startswith("'=HYPERLINK(1) (198.18.0.99)")  # prefixed text: not a formula
    assert row["remediation"].startswith("'+cmd")
    row = _rows(render_tickets(run, tmp_path / "t2.csv"))[0]
    assert row["company"] == "'-2+3"
