"""Recorded client decisions in the reports: beside each finding, on the decision sheet's project
rows (filled in when every finding of the project carries the same decision, expired ones open
again), with the 164.306(d)(3) note for addressable specifications, and in tickets.csv.
The renderers get plain DecisionNote values, never the store."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from reports.annotations import DecisionNote, decision_for
from reports.csv_report import render_tickets
from reports.html_report import render_html
from reports.projects import project_decision, remediation_projects
from scanner.config.framework import load_framework
from scanner.history.decisions import Decision, DecisionKind, latest
from scanner.models import CheckResult, Status
from tests.fixtures.report_data import lab_client, lab_run


def _failed() -> list[CheckResult]:
    return sorted((r for r in lab_run().results if r.status is Status.FAIL), key=lambda r: r.fingerprint)


def _addressable_failed() -> CheckResult:
    fw = load_framework()
    for r in _failed():
        if any((req := fw.requirement(c)) is not None and req.designation == "Addressable" for c in r.hipaa):
            return r
    raise AssertionError("the lab scan has no finding against an addressable specification")


def _note(subject: str, **kw: object) -> DecisionNote:
    fields: dict[str, object] = {"decision": "declined", "decided_by": "Dr. Lee, owner", "decided_on": "2026-11-23",
                                 "note": "cost"}
    fields.update(kw)
    return DecisionNote(subject=subject, **fields)  # type: ignore[arg-type]


def test_describe_reads_like_the_issue() -> None:
    assert _note("x").describe() == "declined by Dr. Lee, owner, on 2026-11-23: cost"
    assert _note("x", until="2027-01-31", note=None).describe() == \
        "declined by Dr. Lee, owner, on 2026-11-23, until 2027-01-31"


def test_finding_decision_beats_check_decision_and_expired_only_when_nothing_stands() -> None:
    fp, check = "fp1", "smb.x"
    on_fp, on_check = _note(fp, decision="accepted"), _note(check)
    assert decision_for(fp, check, {fp: on_fp, check: on_check}) is on_fp
    assert decision_for("other", check, {fp: on_fp, check: on_check}) is on_check
    old = _note(fp, expired=True, until="2020-01-01")
    assert decision_for(fp, check, {fp: old, check: on_check}) is on_check
    assert decision_for(fp, check, {fp: old}) is old
    assert decision_for(fp, check, None) is None


def test_latest_keeps_expired_decisions_for_the_report() -> None:
    def dec(seq: int, subject: str, until: date | None) -> Decision:
        return Decision("c", seq, subject, "check", DecisionKind.DEFERRED, "A, b", None, until,
                        "2026-11-23T00:00:00+00:00", f"d{seq}", None)
    found = latest([dec(2, "a", date(2020, 1, 1)), dec(1, "a", None), dec(3, "b", None)])
    assert {k: v.seq for k, v in found.items()} == {"a": 2, "b": 3}
    assert found["a"].expired(date(2026, 11, 23))


def test_html_shows_the_decision_beside_the_finding_and_fills_section_5(tmp_path: Path) -> None:
    target = _addressable_failed()
    html = render_html(lab_run(), tmp_path / "r.html", client=lab_client(),
                       decisions={target.fingerprint: _note(target.fingerprint)}).read_text(encoding="utf-8")
    findings = html.split('<section id="findings">')[1].split("</section>")[0]
    assert "<b>Client decision:</b> declined by Dr. Lee, owner, on 2026-11-23: cost" in findings
    assert "164.306(d)(3)" in findings
    section5 = html.split('<section id="decisions">')[1].split("</section>")[0]
    assert "finding(s) already decided: see section 3" in section5  # one finding of a larger project
    assert "Decisions already recorded with the practice are filled in below" in section5


def test_decisions_on_every_check_of_a_project_fill_its_row(tmp_path: Path) -> None:
    project = next(p for p in remediation_projects(lab_run(), load_framework()) if p.project_id == "dns-domain")
    checks = {check for _fp, check in project.check_subjects}
    decisions = {c: _note(c, decision="accepted", note=None) for c in checks}
    standing = project_decision(project, decisions).standing
    assert standing is not None and standing.decision == "accepted"
    html = render_html(lab_run(), tmp_path / "r.html", decisions=decisions).read_text(encoding="utf-8")
    section5 = html.split('<section id="decisions">')[1].split("</section>")[0]
    assert section5.count('<td class="choice recorded"><b>accepted</b>') == 1


def test_expired_decision_shows_the_finding_open_again(tmp_path: Path) -> None:
    target = _failed()[0]
    note = _note(target.check_id, decision="deferred", until="2026-01-31", expired=True)
    html = render_html(lab_run(), tmp_path / "r.html", decisions={target.check_id: note}).read_text(encoding="utf-8")
    assert "open again: the decision “deferred by Dr. Lee, owner, on 2026-11-23, until 2026-01-31: cost” " \
           "expired on 2026-01-31" in html
    section5 = html.split('<section id="decisions">')[1].split("</section>")[0]
    assert "<b>open again:</b>" in section5
    assert '<td class="choice recorded">' not in section5


def test_no_decisions_leaves_the_report_as_before(tmp_path: Path) -> None:
    html = render_html(lab_run(), tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Client decision:" not in html and "choice recorded" not in html


def test_hostile_decision_text_is_escaped(tmp_path: Path) -> None:
    target = _failed()[0]
    note = _note(target.fingerprint, decided_by="<script>alert(1)</script>, owner", note="<img src=x onerror=1>")
    html = render_html(lab_run(), tmp_path / "r.html", decisions={target.fingerprint: note}).read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;, owner" in html


def test_tickets_csv_has_a_decision_column(tmp_path: Path) -> None:
    failed = _failed()
    decided, expired = failed[0], failed[1]
    decisions = {decided.fingerprint: _note(decided.fingerprint, note="=cmd|' /C calc'!A0"),
                 expired.fingerprint: _note(expired.fingerprint, expired=True, until="2020-01-01")}
    path = render_tickets(lab_run(), tmp_path / "t.csv", decisions=decisions)
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    row_of = {fp: r for r in rows for fp in r["fingerprints"].split()}
    assert "declined by Dr. Lee, owner, on 2026-11-23: =cmd" in row_of[decided.fingerprint]["decision"]
    assert "open again (expired: declined" in row_of[expired.fingerprint]["decision"]
    assert all(r["decision"] == "" for r in rows if not set(r["fingerprints"].split()) & set(decisions))


def test_project_decided_differently_per_finding_points_to_each(tmp_path: Path) -> None:
    run = lab_run()
    project = next(p for p in remediation_projects(run, load_framework()) if len(p.fingerprints) > 1)
    (one, check_one), (two, _check_two) = project.check_subjects[:2]
    decisions = {check_one: _note(check_one, decision="accepted", note=None), one: _note(one)}
    found = project_decision(project, decisions)
    assert found.standing is None and found.partial and found.decided >= 1
    html = render_html(run, tmp_path / "r.html", decisions=decisions).read_text(encoding="utf-8")
    section5 = html.split('<section id="decisions">')[1].split("</section>")[0]
    assert f"{found.decided} of {found.total} finding(s) already decided: see section 3" in section5
    findings = html.split('<section id="findings">')[1].split("</section>")[0]
    assert "<b>Client decision:</b> declined by Dr. Lee, owner, on 2026-11-23: cost" in findings
    assert two in project.fingerprints
