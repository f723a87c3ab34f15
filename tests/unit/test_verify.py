"""Tamper evidence: verify recomputes the run and decision chains and names the first bad record."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import EXIT_TAMPERED, app
from scanner.history.decisions import DecisionKind
from scanner.history.store import Store
from scanner.models import Status
from tests.unit.test_store import fails, lab_run, variant

cli = CliRunner()
CLIENT = "Demo Dental (lab)"


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "h.db")
    r1 = lab_run()
    with Store.open(path) as store:
        store.store_run(r1)
        store.store_run(variant(r1, "run-2", 7, status={fails(r1)[0]: Status.PASS}))
        store.store_run(variant(r1, "run-3", 14))
        store.store_run(variant(r1, "other-1", 3), client="Other Clinic")
        store.add_decision(CLIENT, fails(r1)[1], DecisionKind.DECLINED, "Dr. Lee, owner", note="cost")
        store.add_decision(CLIENT, "smb.v1_enabled", DecisionKind.DEFERRED, "Dr. Lee, owner")
    return path


def verify(db: str, *extra: str) -> tuple[int, str]:
    result = cli.invoke(app, ["verify", "--db", db, *extra])
    return result.exit_code, result.output


def sql(db: str, statement: str, *params: object) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute(statement, params).rowcount >= 1


def test_untouched_store_verifies(db: str) -> None:
    code, output = verify(db)
    assert code == 0, output
    assert "4 run(s) and 2 decision(s) of 2 client(s)" in output


def test_a_result_edited_behind_gapscans_back_is_named(db: str) -> None:
    gap = fails(lab_run())[3]
    sql(db, "UPDATE results SET status = 'pass' WHERE fingerprint = ? AND run_pk = "
            "(SELECT id FROM runs WHERE run_id = 'run-2')", gap)
    code, output = verify(db)
    assert code == EXIT_TAMPERED == 4, output
    assert f"result {gap} of run run-2 (#2)" in output and "TAMPERED" in output
    assert "run-3" not in output and "Other Clinic" not in output  # the first bad record, of that client only
    assert verify(db, "--client", "Other Clinic")[0] == 0


def test_an_edited_scan_json_breaks_its_digest(db: str) -> None:
    sql(db, "UPDATE runs SET scan_json = replace(scan_json, '\"complete\": true', '\"complete\": false') "
            "WHERE run_id = 'run-2'")
    code, output = verify(db)
    assert code == 4 and "run run-2 (#2): stored scan.json does not match its SHA-256 digest" in output


def test_a_rewritten_run_with_a_fresh_digest_breaks_its_chain_head(db: str) -> None:
    with sqlite3.connect(db) as conn:
        text = conn.execute("SELECT scan_json FROM runs WHERE run_id = 'run-2'").fetchone()[0]
        data = json.loads(text)
        data["warnings"] = ["nothing to see here"]
        forged = json.dumps(data, indent=2) + "\n"
        conn.execute("UPDATE runs SET scan_json = ?, digest = ? WHERE run_id = 'run-2'",
                     (forged, hashlib.sha256(forged.encode()).hexdigest()))
    code, output = verify(db)
    assert code == 4 and "run run-2 (#2): does not match its chain head" in output


def test_a_deleted_run_is_noticed(db: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM results WHERE run_pk = (SELECT id FROM runs WHERE run_id = 'run-2')")
        conn.execute("DELETE FROM runs WHERE run_id = 'run-2'")
    code, output = verify(db)
    assert code == 4 and "run run-3 (#3): out of sequence" in output


def test_an_edited_decision_is_named(db: str) -> None:
    sql(db, "UPDATE decisions SET decision = 'accepted' WHERE seq = 1")
    code, output = verify(db, "--client", CLIENT)
    assert code == 4 and "decision #1" in output and "edited after it was recorded" in output


def test_verify_of_unknown_client_is_exit_2(db: str) -> None:
    assert verify(db, "--client", "Nobody")[0] == 2
