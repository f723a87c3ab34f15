"""Fail fast, store later (issue 21): with --client the store is opened and checked before the
scan's first packet (damaged, locked, read-only, newer schema, no longer holding its anchored
history); a store that fails at the end keeps the run in scan.json and says how to store it with
``gapscan store``, which checks the file is the one gapscan wrote."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import scanner.engine.runner
import scanner.history.store
from scanner.cli import app
from scanner.history.store import Store
from tests.unit.test_runner import FakeDiscovery
from tests.unit.test_store import lab_run

cli = CliRunner()
CLIENT = "Demo Dental"


def _watch_discovery(monkeypatch: pytest.MonkeyPatch, during: Callable[[], None] | None = None) -> list[str]:
    """Discovery is the scan's first packet: record whether it ever started."""
    started: list[str] = []

    def discover(scope: Any, config: Any, concurrency: Any, *, on_progress: Any = None,
                found: Any = None) -> FakeDiscovery:
        started.append("discovery")
        if during is not None:
            during()
        return FakeDiscovery(hosts=())

    monkeypatch.setattr(scanner.engine.runner, "_default_discover", lambda: discover)
    return started


def _scan(db: str, out: Path) -> Any:
    return cli.invoke(app, ["scan", "198.18.0.1", "--listen-seconds", "0", "--out", str(out), "-q", "--format",
                            "json,html", "--client", CLIENT, "--db", db])


def assert_refused_before_scanning(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expected: str,
                                   code: int = 2) -> None:
    started = _watch_discovery(monkeypatch)
    result = _scan(db, tmp_path / "out")
    assert result.exit_code == code, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert started == [], "the scan started although the store could not take its run"
    assert not (tmp_path / "out" / "scan.json").exists()


def test_a_damaged_database_is_refused_before_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    assert_refused_before_scanning(str(bad), tmp_path, monkeypatch, "damaged")
    assert bad.read_bytes().startswith(b"SQLite format 3\x00\xff")  # untouched


def test_a_damaged_page_inside_a_valid_database_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The header is fine, a table's page is not: only an integrity check before the scan sees it."""
    db = tmp_path / "h.db"
    with Store.open(str(db)) as store:
        for n in range(3):
            store.store_run(lab_run().model_copy(update={"run_id": f"r-{n}"}), client=CLIENT)
    data = bytearray(db.read_bytes())
    page = 4096
    for offset in range(len(data) - 2 * page, len(data) - page, 7):  # scribble over one page of results
        data[offset] = 0xA5
    db.write_bytes(bytes(data))
    assert_refused_before_scanning(str(db), tmp_path, monkeypatch, "damaged")


def test_a_locked_database_is_refused_before_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "h.db"
    Store.open(str(db)).close()
    monkeypatch.setattr(scanner.history.store, "SQLITE_BUSY_TIMEOUT", 0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        assert_refused_before_scanning(str(db), tmp_path, monkeypatch, "locked by another gapscan")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_read_only_database_is_refused_before_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "h.db"
    Store.open(str(db)).close()
    # As root, file modes do not stop writes: SQLite's own read-only mode does.
    assert_refused_before_scanning(f"sqlite:///file:{db}?mode=ro&uri=true", tmp_path, monkeypatch, "read-only")


def test_a_newer_schema_is_refused_before_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "h.db"
    Store.open(str(db)).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    assert_refused_before_scanning(str(db), tmp_path, monkeypatch, "newer than this gapscan")


def test_a_store_that_lost_its_anchored_history_is_refused_before_the_scan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "h.db"
    with Store.open(str(db)) as store:
        first = store.store_run(lab_run(), client=CLIENT)
    db.write_bytes(b"")  # the insider's truncate
    assert_refused_before_scanning(str(db), tmp_path, monkeypatch, f"run {first.run_id} (#1)", code=4)


def test_an_unwritable_anchor_log_is_refused_before_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state-file"
    state.write_text("a file where the state directory should be\n")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    assert_refused_before_scanning(str(tmp_path / "h.db"), tmp_path, monkeypatch, "the anchor log (Not a directory)")


def test_a_store_failing_at_the_end_keeps_the_run_for_gapscan_store(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Another program locks the database while the scan runs: the run is not stored, the reports
    are written, the message names the command; later the command stores the very file."""
    db = tmp_path / "h.db"
    Store.open(str(db)).close()
    monkeypatch.setattr(scanner.history.store, "SQLITE_BUSY_TIMEOUT", 0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    started = _watch_discovery(monkeypatch, during=lambda: holder.execute("BEGIN IMMEDIATE"))
    try:
        result = _scan(str(db), tmp_path / "out")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert started == ["discovery"]
    assert result.exit_code == 2, result.output
    scan_json = tmp_path / "out" / "scan.json"
    flat = " ".join(result.output.split())
    assert "The run is not lost" in flat and f"gapscan store {scan_json} --client '{CLIENT}' --db {db}" in flat
    assert (tmp_path / "out" / "report.html").exists()
    digest = hashlib.sha256(scan_json.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in flat

    edited = tmp_path / "edited.json"
    edited.write_text(scan_json.read_text().replace('"complete": true', '"complete":  true'))
    refused = cli.invoke(app, ["store", str(edited), "--client", CLIENT, "--db", str(db)])
    assert refused.exit_code == 2 and "not byte for byte" in refused.output
    wrong = cli.invoke(app, ["store", str(scan_json), "--client", CLIENT, "--db", str(db), "--sha256", "0" * 64])
    assert wrong.exit_code == 2 and "the file changed since the scan" in wrong.output
    other = cli.invoke(app, ["store", str(scan_json), "--client", "Another Practice", "--db", str(db)])
    assert other.exit_code == 2 and "scanned for client" in other.output

    stored = cli.invoke(app, ["store", str(scan_json), "--client", CLIENT, "--db", str(db), "--sha256", digest])
    assert stored.exit_code == 0, stored.output
    with Store.open(str(db)) as store:
        (info,) = store.list_runs(CLIENT)
    assert info.digest == digest and info.seq == 1
    again = cli.invoke(app, ["store", str(scan_json), "--client", CLIENT, "--db", str(db)])
    assert again.exit_code == 2 and "already stored" in again.output
    assert cli.invoke(app, ["verify", "--db", str(db)]).exit_code == 0


def test_the_report_prints_the_head_it_was_made_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "h.db"
    _watch_discovery(monkeypatch)
    result = _scan(str(db), tmp_path / "out")
    assert result.exit_code == 0, result.output
    with Store.open(str(db)) as store:
        head, _ = store.client_heads(CLIENT)
    assert head is not None
    html = (tmp_path / "out" / "report.html").read_text()
    assert head.text() in html and "History anchor" in html
    verified = cli.invoke(app, ["verify", "--db", str(db), "--anchor", str(tmp_path / "out" / "report.html")])
    assert verified.exit_code == 0 and "1 anchor(s) verified" not in verified.output  # the log's and the report's
    assert "2 anchor(s) verified" in verified.output


def test_a_store_opened_read_only_is_still_checked_against_its_anchors(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    with Store.open(str(db)) as store:
        store.store_run(lab_run(), client=CLIENT)
    result = cli.invoke(app, ["verify", "--db", f"sqlite:///file:{db}?mode=ro&uri=true"])
    assert result.exit_code == 0 and "1 anchor(s) verified" in result.output, result.output
