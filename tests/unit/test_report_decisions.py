"""Recorded client decisions in the reports: beside each finding, in section 5 (filled in, expired
ones open again), with the 164.306(d)(3) note for addressable specifications, and in tickets.csv.
The renderers get plain DecisionNote values, never the store."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from reports.annotations import DecisionNote, decision_for
from reports.csv_report import render_tickets
from reports.html_report import render_html
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
    assert "declined by Dr. Lee, owner, on 2026-11-23: cost" in section5
    assert "Decisions already recorded with the practice are filled in below" in section5


def test_check_wide_decision_ticks_the_recommendation(tmp_path: Path) -> None:
    target = _failed()[0]
    html = render_html(lab_run(), tmp_path / "r.html",
                       decisions={target.check_id: _note(target.check_id, decision="accepted", note=None)}
                       ).read_text(encoding="utf-8")
    section5 = html.split('<section id="decisions">')[1].split("</section>")[0]
    assert '<td class="choice recorded"><b>accepted</b></td>' in section5


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
    rows = {r["fingerprint"]: r for r in csv.DictReader(path.open(encoding="utf-8"))}
    assert rows[decided.fingerprint]["decision"].startswith("declined by Dr. Lee, owner, on 2026-11-23: =cmd")
    assert rows[expired.fingerprint]["decision"].startswith("open again (expired: declined")
    assert all(r["decision"] == "" for fp, r in rows.items() if fp not in decisions)


def test_recommendation_decided_differently_per_place_lists_each(tmp_path: Path) -> None:
    from reports import view

    run = lab_run()
    rec = next(r for r in view.recommendations(run) if len(r.fingerprints) > 1)
    one, two = rec.fingerprints[:2]
    decisions = {rec.check_id: _note(rec.check_id, decision="accepted", note=None), one: _note(one)}
    assert view.recommendation_decision(rec, decisions) is None
    assert view.recommendation_decision(rec, {rec.check_id: decisions[rec.check_id]}) is decisions[rec.check_id]
    html = render_html(run, tmp_path / "r.html", decisions=decisions).read_text(encoding="utf-8")
    section5 = html.split('<section id="decisions">')[1].split("</section>")[0]
    assert f"{rec.targets[0]}: declined by Dr. Lee, owner, on 2026-11-23: cost" in section5
    assert f"{rec.targets[1]}: accepted by Dr. Lee, owner, on 2026-11-23" in section5
    assert two in rec.fingerprints
