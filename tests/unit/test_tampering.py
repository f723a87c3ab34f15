"""Issue 21 on SQLite: every tampering an insider tried is caught by verify (exit 4, the record
named); the same cases run on PostgreSQL in tests/test_store_postgres.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit import tampering


@pytest.fixture
def db(tmp_path: Path) -> tampering.TamperDb:
    path = tmp_path / "h.db"

    def truncate() -> None:
        path.write_bytes(b"")

    return tampering.signed_history(str(path), truncate)


@pytest.mark.parametrize("case", sorted(tampering.CASES))
def test_tampering_is_named(db: tampering.TamperDb, case: str) -> None:
    tampering.check_case(db, case)


def test_the_rewrite_flipped_real_failures(db: tampering.TamperDb) -> None:
    """The rewritten run really reads clean now: the forgery is not a no-op that verify would pass anyway."""
    tampering.check_case(db, "run 1 rewritten, chain recomputed")
    assert db.notes["flipped"] == 53
    assert db.rows("SELECT count(*) FROM results r JOIN runs u ON u.id = r.run_pk "
                   "WHERE u.run_id = :r AND r.status = 'fail'", r=tampering.RUN1)[0][0] == 0


def test_a_truncated_file_does_not_restart_the_history(db: tampering.TamperDb, tmp_path: Path) -> None:
    tampering.check_store_refused_after_wipe(db, tmp_path)


def test_a_head_from_a_delivered_report_catches_a_rewrite_without_the_log(db: tampering.TamperDb) -> None:
    """The anchor log is gone too; the head printed in a report delivered after run 3 still tells."""
    from scanner.history.store import Store

    with Store.open(db.url) as store:
        head = store.client_heads(tampering.CLIENT)[0]
    assert head is not None
    tampering.rewrite_run_one_and_rechain(db)
    tampering.hide_anchor_log()
    code, output = tampering.verify(db.url)
    assert code == 0, "without any anchor, an unsigned rewritten store is indistinguishable from a genuine one"
    code, output = tampering.verify(db.url, "--anchor", head.text())
    assert code == 4, output
    assert "run run-3 (#3)" in output and head.text()[:20] in output
