"""Client decisions: append-only, a new one supersedes, --until expiry, unknown subjects refused."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.errors import InputError
from scanner.history.decisions import DecisionKind, decision_for, standing
from scanner.history.store import Store, StoreError
from tests.unit.test_store import fails, lab_run

cli = CliRunner()
CLIENT = "Demo Dental (lab)"


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "h.db")
    with Store.open(path) as store:
        store.store_run(lab_run())
    return path


def decide(db: str, subject: str, *extra: str) -> tuple[int, str]:
    result = cli.invoke(app, ["decide", subject, "--client", CLIENT, "--db", db, *extra])
    return result.exit_code, result.output


def test_decisions_are_append_only_and_the_newest_stands(db: str) -> None:
    gap = fails(lab_run())[0]
    code, output = decide(db, gap, "--decision", "declined", "--by", "Dr. Lee, owner", "--note", "cost")
    assert code == 0, output
    assert "recorded decision #1" in output
    code, output = decide(db, gap, "--decision", "compensating-control", "--by", "Dr. Lee , owner",
                          "--note", "VLAN isolation")
    assert code == 0, output
    with Store.open(db) as store:
        every = store.decisions(CLIENT)
    assert [(d.seq, d.decision) for d in every] == [(1, DecisionKind.DECLINED), (2, DecisionKind.COMPENSATING_CONTROL)]
    assert every[0].note == "cost" and every[1].decided_by == "Dr. Lee, owner"
    assert every[1].prev_digest == every[0].digest and every[0].subject_kind == "fingerprint"
    stands = standing(every, date.today())
    assert stands[gap].seq == 2
    listed = cli.invoke(app, ["decisions", "--client", CLIENT, "--db", db, "--json"])
    assert [d["seq"] for d in json.loads(listed.output)] == [2]
    listed = cli.invoke(app, ["decisions", "--client", CLIENT, "--db", db, "--json", "--all"])
    rows = json.loads(listed.output)
    assert [(d["seq"], d["standing"]) for d in rows] == [(1, False), (2, True)]


def test_until_in_the_past_counts_as_open(db: str) -> None:
    run = lab_run()
    gap, other = fails(run)[0], fails(run)[1]
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    code, output = decide(db, gap, "--decision", "deferred", "--by", "Pat Doe, office manager", "--until", yesterday)
    assert code == 0 and "already counts as open" in output
    assert decide(db, other, "--decision", "deferred", "--by", "Pat Doe, office manager", "--until", tomorrow)[0] == 0
    with Store.open(db) as store:
        every = store.decisions(CLIENT)
    stands = standing(every, date.today())
    assert gap not in stands and other in stands
    assert other not in standing(every, date.today() + timedelta(days=2))
    listed = cli.invoke(app, ["decisions", "--client", CLIENT, "--db", db, "--all"], env={"COLUMNS": "250"})
    assert "expired" in listed.output and "standing" in listed.output


def test_a_check_id_decision_applies_unless_the_finding_has_its_own(db: str) -> None:
    run = lab_run()
    first = next(r for r in run.results if r.check_id == "smb.v1_enabled")
    assert decide(db, "smb.v1_enabled", "--decision", "accepted", "--by", "Dr. Lee, owner")[0] == 0
    with Store.open(db) as store:
        stands = standing(store.decisions(CLIENT), date.today())
    found = decision_for(first.fingerprint, first.check_id, stands)
    assert found is not None and found.subject_kind == "check" and found.decision is DecisionKind.ACCEPTED
    assert decide(db, first.fingerprint, "--decision", "declined", "--by", "Dr. Lee, owner")[0] == 0
    with Store.open(db) as store:
        stands = standing(store.decisions(CLIENT), date.today())
    found = decision_for(first.fingerprint, first.check_id, stands)
    assert found is not None and found.decision is DecisionKind.DECLINED


@pytest.mark.parametrize("subject, extra, message", [
    ("0123456789abcdef01234567", ["--decision", "declined", "--by", "Dr. Lee, owner"], "neither a fingerprint"),
    ("smb.no_such_check", ["--decision", "declined", "--by", "Dr. Lee, owner"], "neither a fingerprint"),
    ("smb.v1_enabled", ["--decision", "declined", "--by", "Dr. Lee"], "name the person and their role"),
    ("smb.v1_enabled", ["--decision", "declined", "--by", "Dr. Lee, owner", "--until", "soon"], "is not a date"),
    ("smb.v1_enabled", ["--decision", "ignored", "--by", "Dr. Lee, owner"], "ignored"),
])
def test_bad_decisions_exit_2_and_write_nothing(db: str, subject: str, extra: list[str], message: str) -> None:
    code, output = decide(db, subject, *extra)
    assert code == 2, output
    assert message in output and "Traceback" not in output
    with Store.open(db) as store:
        assert store.decisions(CLIENT) == []


def test_unknown_client_is_refused(db: str) -> None:
    with Store.open(db) as store, pytest.raises(StoreError, match="no client 'Nobody'"):
        store.add_decision("Nobody", "smb.v1_enabled", DecisionKind.DECLINED, "A, b")
    assert issubclass(StoreError, InputError)


def test_describe_is_the_line_a_report_shows(db: str) -> None:
    gap = fails(lab_run())[0]
    with Store.open(db) as store:
        recorded = store.add_decision(CLIENT, gap, DecisionKind.DECLINED, "Dr. Lee, owner", note="cost",
                                      until=date(2027, 1, 31))
    assert recorded.describe() == f"declined by Dr. Lee, owner, on {recorded.decided_at[:10]}, until 2027-01-31: cost"


def test_report_with_client_shows_the_recorded_decisions(db: str, tmp_path: Path) -> None:
    """`gapscan report RUN.json --client NAME --db URL` hands the standing decisions to the renderers."""
    from tests.fixtures.report_data import LAB_SCAN

    gap = fails(lab_run())[0]
    code, output = decide(db, gap, "--decision", "declined", "--by", "Dr. Lee, owner", "--note", "cost")
    assert code == 0, output
    out_dir = tmp_path / "out"
    result = cli.invoke(app, ["report", str(LAB_SCAN), "--format", "html,tickets", "--out", str(out_dir),
                              "--client", CLIENT, "--db", db])
    assert result.exit_code == 0, result.output
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    today = date.today().isoformat()
    assert f"<b>Client decision:</b> declined by Dr. Lee, owner, on {today}: cost" in html
    tickets = (out_dir / "tickets.csv").read_text(encoding="utf-8")
    assert f"declined by Dr. Lee, owner, on {today}: cost" in tickets
    plain = cli.invoke(app, ["report", str(LAB_SCAN), "--format", "html", "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    assert "Client decision:" not in (tmp_path / "plain" / "report.html").read_text(encoding="utf-8")


def test_report_for_an_unknown_client_shows_no_decision(db: str, tmp_path: Path) -> None:
    from tests.fixtures.report_data import LAB_SCAN

    result = cli.invoke(app, ["report", str(LAB_SCAN), "--format", "html", "--out", str(tmp_path / "o"),
                              "--client", "Nobody", "--db", db])
    assert result.exit_code == 0, result.output
    assert "Client decision:" not in (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
