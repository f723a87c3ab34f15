"""Interview guide data, interview answers and sign-offs in the store, verify on both, the import file."""

from __future__ import annotations

import copy
import re
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from scanner.cli import EXIT_TAMPERED, app
from scanner.config.framework import load_framework
from scanner.config.interview_guide import GuideError, _data, build_guide, load_guide
from scanner.history.decisions import DecisionKind
from scanner.history.interviews import AnswerInput, AnswerKind, current_answers
from scanner.history.signoffs import SheetRow, SignoffInput
from scanner.history.store import Store, StoreError
from tests.webapp import CLIENT, lab_run

cli = CliRunner()
RUN = lab_run()
FAILS = [r.fingerprint for r in RUN.results if r.status.value == "fail"]


def test_the_guide_ships_every_standard_activity_and_question_of_the_publication() -> None:
    guide = load_guide()
    nist = _data("nist-sp-800-66r2.yaml")
    entries = [k for s in nist["standards"] for k in s["key_activities"]]
    assert len(guide.standards) == 22 and len(entries) == 152
    asked = guide.activities()
    specs = [k for k in entries if k["name"].startswith("Implementation Specification")]
    assert len(asked) + len(specs) == 152  # every specification entry is folded into its activity
    assert sum(len(a.questions) for a in asked.values()) == 494
    assert "NIST SP 800-66 Rev. 2" in guide.source
    risk = asked["164.308(a)(1)-2"]
    assert risk.citations == ("164.308(a)(1)(i)", "164.308(a)(1)(ii)(A)") and risk.designation == "Required"
    assert risk.specification == "Risk analysis"  # the shipped copy has no descriptions: the catalogue's title


def test_every_specification_of_the_catalogue_is_asked_about() -> None:
    guide = load_guide()
    for req in load_framework().requirements:
        if req.designation in ("Required", "Addressable"):
            assert guide.activities_for(req.citation), req.citation
        assert all(req.citation in a.citations for a in guide.activities_for(req.citation))


def test_a_pairing_that_misses_a_specification_is_a_guide_error() -> None:
    pairing = copy.deepcopy(_data("interview.yaml"))
    del pairing["key_activities"]["164.308(a)(1)-2"]
    with pytest.raises(GuideError, match=re.escape("164.308(a)(1)-2 carries out a specification")):
        build_guide(_data("nist-sp-800-66r2.yaml"), pairing, load_framework())
    pairing = copy.deepcopy(_data("interview.yaml"))
    pairing["key_activities"]["164.308(a)(1)-2"] = ["164.999(z)"]
    with pytest.raises(GuideError, match="not a citation"):
        build_guide(_data("nist-sp-800-66r2.yaml"), pairing, load_framework())


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "h.db")
    with Store.open(path) as store:
        store.store_run(RUN)
    return path


def answer(activity: str, kind: AnswerKind, notes: str | None = None) -> AnswerInput:
    return AnswerInput(activity, kind, "Maria Lopez, office manager", notes, "Backup policy v3")


def test_answers_chain_and_a_later_answer_supersedes(db: str) -> None:
    with Store.open(db) as store:
        first = store.add_answers(CLIENT, [answer("164.308(a)(7)-6", AnswerKind.NOT_IN_PLACE),
                                           answer("164.308(a)(7)-1", AnswerKind.IN_PLACE)], "web")
        same = store.add_answers(CLIENT, [answer("164.308(a)(7)-6", AnswerKind.NOT_IN_PLACE)], "web")
        later = store.add_answers(CLIENT, [answer("164.308(a)(7)-6", AnswerKind.PARTLY, "USB disk weekly")], "web")
        every = store.interview_answers(CLIENT)
        assert store.verify().ok and store.verify().answers == 3
        with pytest.raises(StoreError, match="no client"):
            store.add_answers("Nobody", [answer("164.308(a)(7)-6", AnswerKind.PARTLY)], "web")
    assert [a.seq for a in first] == [1, 2] and same == [] and [a.seq for a in later] == [3]
    assert every[2].prev_digest == every[1].digest and every[1].prev_digest == every[0].digest
    standing = current_answers(every)
    assert standing["164.308(a)(7)-6"].answer is AnswerKind.PARTLY and standing["164.308(a)(7)-6"].seq == 3


def verify(db: str) -> tuple[int, str]:
    result = cli.invoke(app, ["verify", "--db", db])
    return result.exit_code, result.output


def sql(db: str, statement: str, *params: object) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute(statement, params).rowcount >= 1


def test_verify_catches_an_edited_or_removed_answer(db: str) -> None:
    with Store.open(db) as store:
        store.add_answers(CLIENT, [answer("164.308(a)(7)-6", AnswerKind.NOT_IN_PLACE),
                                   answer("164.308(a)(7)-1", AnswerKind.IN_PLACE)], "web")
    code, output = verify(db)
    assert code == 0 and "2 interview answer(s) and 0 sign-off(s)" in output
    sql(db, "UPDATE interview_answers SET answer = 'in-place' WHERE seq = 1")
    code, output = verify(db)
    assert code == EXIT_TAMPERED and "interview answer #1 (164.308(a)(7)-6): does not match its digest" in output
    sql(db, "DELETE FROM interview_answers WHERE seq = 1")
    code, output = verify(db)
    assert code == EXIT_TAMPERED and "interview answer #2 (164.308(a)(7)-1): out of sequence" in output


def row(decision: DecisionKind, fps: list[str], **kw: object) -> SheetRow:
    return SheetRow(project_id=kw.pop("project_id", "p1"), title="Project", citations=("164.312(e)(1)",),  # type: ignore[arg-type]
                    required=bool(kw.pop("required", False)), fingerprints=tuple(fps), decision=decision, **kw)  # type: ignore[arg-type]


def signoff(rows: tuple[SheetRow, ...], digest: str | None = None) -> SignoffInput:
    from reports.view import scan_digest

    return SignoffInput(client=CLIENT, run_id=RUN.run_id, scan_digest=digest or scan_digest(RUN),
                        signer_name="Robin Lee", signer_role="owner", signature_kind="typed", signature_png=None,
                        statement="I sign.", rows=rows)


def test_a_signoff_records_its_decisions_in_one_transaction(db: str) -> None:
    later = date.today() + timedelta(days=30)
    with Store.open(db) as store:
        done = store.record_signoff(signoff((row(DecisionKind.DEFERRED, FAILS[:2], until=later),
                                             row(DecisionKind.DECLINED, FAILS[2:3], project_id="p2", reason="cost"))),
                                    seal=lambda rec: b"%PDF sealed " + rec.digest.encode())
        decisions = store.decisions(CLIENT)
        assert [d.subject for d in decisions] == FAILS[:3]
        assert decisions[0].until == later and decisions[2].note == "cost"
        assert done.record_pdf == b"%PDF sealed " + done.digest.encode()
        assert store.signoffs(CLIENT)[0].digest == done.digest and store.verify().signoffs == 1
        anchors, _ = store.local_anchors()  # the decision chain's new head went to the anchor log (issue 21)
        assert any(a.kind == "decision" and a.seq == 3 and a.head == decisions[2].digest for a in anchors)

        def broken(_: object) -> bytes:
            raise RuntimeError("seal failed")

        with pytest.raises(RuntimeError):
            store.record_signoff(signoff((row(DecisionKind.ACCEPTED, FAILS[:1]),)), seal=broken)
        assert len(store.decisions(CLIENT)) == 3 and len(store.signoffs(CLIENT)) == 1  # all or nothing
        with pytest.raises(StoreError, match="cannot simply be declined"):
            store.record_signoff(signoff((row(DecisionKind.DECLINED, FAILS[:1], required=True, reason="no"),)))
        with pytest.raises(StoreError, match="not in the future"):
            store.record_signoff(signoff((row(DecisionKind.DEFERRED, FAILS[:1], until=date.today()),)))
        with pytest.raises(StoreError, match=re.escape("was made for scan.json")):
            store.record_signoff(signoff((row(DecisionKind.ACCEPTED, FAILS[:1]),), digest="0" * 64))
        with pytest.raises(StoreError, match="is not in run"):
            store.record_signoff(signoff((row(DecisionKind.ACCEPTED, ["f" * 24]),)))
        assert store.verify().ok


def test_verify_catches_an_edited_decision_or_signoff(db: str) -> None:
    with Store.open(db) as store:
        store.record_signoff(signoff((row(DecisionKind.DECLINED, FAILS[:2], reason="cost"),)))
    sql(db, "UPDATE signoffs SET signer_name = 'Someone Else'")
    code, output = verify(db)
    assert code == EXIT_TAMPERED and "sign-off #1 (run " in output and "edited after it was signed" in output
    sql(db, "UPDATE signoffs SET signer_name = 'Robin Lee'")
    assert verify(db)[0] == 0
    sql(db, "UPDATE decisions SET decision = 'accepted' WHERE seq = 2")
    code, output = verify(db)
    assert code == EXIT_TAMPERED and "decision #2" in output and "edited after it was recorded" in output


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    return path


def test_interview_import_records_a_valid_file(db: str, tmp_path: Path) -> None:
    data = {"client": CLIENT, "answered_by": "Maria Lopez, office manager", "answers": [
        {"key_activity": "164.308(a)(7)-6", "answer": "not-in-place", "notes": "USB disk", "evidence": "Backup log"},
        {"key_activity": "164.310(d)-1", "answer": "in-place", "answered_by": "Dr. Lee, owner"}]}
    path = write(tmp_path, yaml.safe_dump(data))
    result = cli.invoke(app, ["interview", "import", str(path), "--client", CLIENT, "--db", db])
    assert result.exit_code == 0 and "recorded 2 interview answer(s)" in result.output, result.output
    again = cli.invoke(app, ["interview", "import", str(path), "--client", CLIENT, "--db", db])
    assert "recorded 0 interview answer(s)" in again.output and "2 unchanged" in again.output
    with Store.open(db) as store:
        answers = store.interview_answers(CLIENT)
    assert [(a.key_activity, a.answered_by, a.source) for a in answers] == [
        ("164.308(a)(7)-6", "Maria Lopez, office manager", "import: answers.yaml"),
        ("164.310(d)-1", "Dr. Lee, owner", "import: answers.yaml")]
    assert answers[0].evidence_ref == "Backup log"


@pytest.mark.parametrize(("text", "words"), [
    ("answered_by: A\nanswers:\n  - key_activity: '164.308(a)(9)-1'\n    answer: in-place\n",
     "line 3, key 'answers.0.key_activity'"),
    ("answered_by: A\nanswers:\n  - key_activity: '164.308(a)(7)-1'\n    answer: yes\n",
     "line 4, key 'answers.0.answer'"),
    ("answered_by: A\nanswers:\n  - key_activity: '164.308(a)(7)-1'\n    answer: partly\n    colour: red\n",
     "line 5, key 'answers.0.colour': unknown key"),
    ("answers:\n  - key_activity: '164.308(a)(7)-1'\n    answer: partly\n", "does not say who answered"),
    ("answered_by: A\nanswers: [\n", "not valid YAML"),
    ("client: Other Clinic\nanswered_by: A\nanswers:\n  - {key_activity: '164.308(a)(7)-1', answer: partly}\n",
     "the file is for client 'Other Clinic'"),
])
def test_interview_import_errors_name_the_line_and_key_and_record_nothing(db: str, tmp_path: Path, text: str,
                                                                          words: str) -> None:
    result = cli.invoke(app, ["interview", "import", str(write(tmp_path, text)), "--client", CLIENT, "--db", db])
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split()) and "Traceback" not in result.output
    with Store.open(db) as store:
        assert store.interview_answers(CLIENT) == []


def test_an_unknown_client_is_refused_by_import(db: str, tmp_path: Path) -> None:
    path = write(tmp_path, "answered_by: A\nanswers:\n  - {key_activity: '164.308(a)(7)-1', answer: partly}\n")
    result = cli.invoke(app, ["interview", "import", str(path), "--client", "Nobody", "--db", db])
    assert result.exit_code == 2 and "no client 'Nobody'" in result.output


def test_gapscan_decide_takes_an_interview_finding(db: str) -> None:
    with Store.open(db) as store:
        store.add_answers(CLIENT, [answer("164.308(a)(7)-6", AnswerKind.NOT_IN_PLACE)], "web")
    base = ["decide", "--client", CLIENT, "--decision", "deferred", "--by", "Dr. Lee, owner", "--until", "2099-01-01",
            "--db", db]
    done = cli.invoke(app, [*base[:1], "interview:164.308(a)(7)-6", *base[1:]])
    assert done.exit_code == 0, done.output
    unasked = cli.invoke(app, [*base[:1], "interview:164.308(a)(7)-1", *base[1:]])
    assert unasked.exit_code == 2 and "neither a fingerprint nor a check id" in unasked.output
    with Store.open(db) as store:
        (decided,) = store.decisions(CLIENT)
    assert decided.subject_kind == "interview" and decided.until == date(2099, 1, 1)
