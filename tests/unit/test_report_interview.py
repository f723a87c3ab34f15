"""The interview as plain report data: what the CLI hands the renderers, the matrix wording per
specification, and "not in place" answers as findings with the NIST key activity as evidence."""

from __future__ import annotations

from pathlib import Path

from reports.interview_view import ANSWERED, answers_for, interview_findings, matrix_answer
from scanner.cli.runs import _report_interview
from scanner.history.interviews import AnswerInput, AnswerKind
from scanner.history.store import Store
from tests.webapp import CLIENT, lab_run


def test_standing_answers_become_report_notes_and_findings(tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    with Store.open(db) as store:
        store.store_run(lab_run())
        who = "Maria Lopez, office manager"
        store.add_answers(CLIENT, [AnswerInput("164.308(a)(7)-6", AnswerKind.PARTLY, who),
                                   AnswerInput("164.308(a)(7)-1", AnswerKind.IN_PLACE, who, None, "Plan v2")], "web")
        store.add_answers(CLIENT, [AnswerInput("164.308(a)(7)-6", AnswerKind.NOT_IN_PLACE, who, "USB disk only",
                                               "Backup log")], "import: a.yaml")
    notes = _report_interview(CLIENT, db)
    assert [n.key_activity for n in notes] == ["164.308(a)(7)-1", "164.308(a)(7)-6"]  # the guide's order
    backup = notes[1]
    assert backup.answer == "not-in-place" and backup.notes == "USB disk only"  # the later answer stands
    assert backup.citations == ("164.308(a)(7)(i)", "164.308(a)(7)(ii)(A)", "164.308(a)(7)(ii)(B)")
    assert backup.standard == "164.308(a)(7)(i) Contingency Plan" and backup.question.endswith("?")

    text = matrix_answer("164.308(a)(7)(ii)(A)", notes)
    assert text is not None and text.startswith(f"{ANSWERED}: not in place (")
    assert who in text
    standard = matrix_answer("164.308(a)(7)(i)", notes)  # both activities answer the standard
    assert standard is not None and "not in place" in standard and "1 more key activity answered" in standard
    assert [n.key_activity for n in answers_for("164.308(a)(7)(i)", notes)] == ["164.308(a)(7)-6", "164.308(a)(7)-1"]
    assert matrix_answer("164.310(d)(2)(i)", notes) is None  # not asked: stays "not assessed"

    (finding,) = interview_findings(notes)
    assert finding.subject == "interview:164.308(a)(7)-6"
    assert finding.title == "Not in place (interview): Data Backup Plan and Disaster Recovery Plan"
    assert finding.evidence["evidence_ref"] == "Backup log" and finding.evidence["answered_by"] == who
    assert _report_interview("Nobody Dental", db) == ()
