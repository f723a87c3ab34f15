"""The history store: roundtrip with the exact scan.json digest, listing, migrations, bad databases."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

import scanner.engine.runner
import scanner.history.store
from scanner.cli import app
from scanner.engine.output import load_scan_json, write_scan_json
from scanner.history.decisions import DecisionKind
from scanner.history.schema import metadata
from scanner.history.store import Store, StoreError, default_db_path, resolve_url
from scanner.models import Host, ScanRun, Service, Status, summarize
from tests.unit.helpers import smtp_handler, tcp_server
from tests.unit.test_runner import FakeDiscovery

FIXTURE = Path(__file__).parent.parent / "fixtures" / "lab-scan.json"
cli = CliRunner()


def lab_run() -> ScanRun:
    return load_scan_json(FIXTURE)


def variant(base: ScanRun, run_id: str, days: int, status: dict[str, Status] | None = None,
            detail: dict[str, str] | None = None, drop_host: str | None = None,
            add_service: tuple[str, int] | None = None) -> ScanRun:
    """A later run built from ``base``: some results flipped or re-described, hosts changed."""
    status, detail = status or {}, detail or {}
    results = []
    for r in base.results:
        update: dict[str, Any] = {}
        if r.fingerprint in status:
            update["status"] = status[r.fingerprint]
        if r.fingerprint in detail:
            update["detail"] = detail[r.fingerprint]
        results.append(r.model_copy(update=update) if update else r)
    hosts = [h for h in base.hosts if h.address != drop_host]
    if add_service is not None:
        address, port = add_service
        hosts = [h.model_copy(update={"services": (*h.services, Service(port=port))}) if h.address == address
                 else h for h in hosts]
    shift = timedelta(days=days)
    return base.model_copy(update={
        "run_id": run_id, "started_at": base.started_at + shift,
        "finished_at": base.finished_at + shift if base.finished_at else None,
        "results": tuple(results), "hosts": tuple(hosts), "summary": summarize(results),
    })


def fails(run: ScanRun) -> list[str]:
    return [r.fingerprint for r in run.results if r.status is Status.FAIL]


def passes(run: ScanRun) -> list[str]:
    return [r.fingerprint for r in run.results if r.status is Status.PASS]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "history.db")


@pytest.fixture
def store(db: str) -> Iterator[Store]:
    with Store.open(db) as opened:
        yield opened


def test_roundtrip_digest_is_sha256_of_the_scan_json_bytes(store: Store, tmp_path: Path) -> None:
    run = lab_run()
    info = store.store_run(run)
    written = write_scan_json(run, tmp_path)
    assert info.digest == hashlib.sha256(written.read_bytes()).hexdigest()
    assert info.digest == hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    assert store.scan_text(run.run_id).encode() == FIXTURE.read_bytes()
    assert store.load_run(run.run_id) == run
    assert info.client == "Demo Dental (lab)" and info.seq == 1 and info.prev_digest is None
    assert info.results == 123 and info.failed == 53
    assert store.last_scope("Demo Dental (lab)") == ("onboarding", json.loads(run.scope.model_dump_json()))


def test_history_chains_runs_per_client(store: Store) -> None:
    r1 = lab_run()
    r2 = variant(r1, "run-2", 7)
    other = variant(r1, "other-1", 1)
    first = store.store_run(r1)
    store.store_run(other, client="Other Clinic")
    second = store.store_run(r2)
    assert second.seq == 2 and second.prev_digest == first.digest
    assert [i.run_id for i in store.list_runs("Demo Dental (lab)")] == [r1.run_id, "run-2"]
    assert store.list_runs("Other Clinic")[0].prev_digest is None
    assert store.clients() == ["Demo Dental (lab)", "Other Clinic"]
    with pytest.raises(StoreError, match="already stored"):
        store.store_run(r1)
    with pytest.raises(StoreError, match="no client 'Nobody'"):
        store.list_runs("Nobody")


def test_a_failed_write_leaves_nothing_behind(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(run_pk: int, result: Any) -> dict[str, Any]:
        raise RuntimeError("disk pulled out mid-write")

    monkeypatch.setattr(scanner.history.store, "_result_row", explode)
    with pytest.raises(RuntimeError):
        store.store_run(lab_run())
    assert store.list_runs() == [] and store.clients() == []


def test_migrations_create_exactly_the_declared_tables(store: Store) -> None:
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    assert store.schema_revision() == "0005_fleet"


def test_default_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "gapscan" / "gapscan.db"
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'xdg' / 'gapscan' / 'gapscan.db'}"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / ".local" / "share" / "gapscan" / "gapscan.db"
    assert resolve_url("postgresql+psycopg://u@/gapscan") == "postgresql+psycopg://u@/gapscan"
    assert resolve_url("rel/x.db") == "sqlite:///rel/x.db"


def test_newer_schema_is_refused_with_a_clear_message(db: str) -> None:
    Store.open(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    with pytest.raises(StoreError, match="newer than this gapscan"):
        Store.open(db)
    result = cli.invoke(app, ["history", "--db", db])
    assert result.exit_code == 2
    assert "0099_from_the_future" in result.output and "upgrade gapscan" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("content", [b"this is not a database\n" * 50, b"SQLite format 3\x00" + b"\xff" * 2000])
def test_corrupt_database_is_exit_2_without_traceback(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    result = cli.invoke(app, ["history", "--db", str(bad)])
    assert result.exit_code == 2, result.output
    assert "damaged or not a gapscan database" in result.output and "Traceback" not in result.output
    assert bad.read_bytes() == content  # nothing a user owns is overwritten


def test_history_cli_lists_runs_as_json(db: str) -> None:
    with Store.open(db) as opened:
        opened.store_run(lab_run())
        opened.store_run(variant(lab_run(), "run-2", 7))
    result = cli.invoke(app, ["history", "--db", db, "--json", "--client", "Demo Dental (lab)"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["seq"] for r in rows] == [1, 2] and rows[1]["prev_digest"] == rows[0]["digest"]
    assert cli.invoke(app, ["history", "--db", db, "--client", "Nobody"]).exit_code == 2
    table = cli.invoke(app, ["history", "--db", db], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "run-2" in table.output


@pytest.fixture
def smtp_lan(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with tcp_server(smtp_handler(["PIPELINING"])) as (host, port, _):
        def discover(scope: Any, config: Any, concurrency: Any, *, on_progress: Any = None,
                     found: Any = None) -> FakeDiscovery:
            return FakeDiscovery(hosts=(Host(address=host, services=(Service(port=port, service="smtp"),)),))

        monkeypatch.setattr(scanner.engine.runner, "_default_discover", lambda: discover)
        yield host


def test_scan_with_client_stores_the_run(tmp_path: Path, db: str, smtp_lan: str) -> None:
    result = cli.invoke(app, ["scan", smtp_lan, "--out", str(tmp_path / "o"), "-q", "--format", "json",
                              "--client", "Demo Dental", "--db", db])
    assert result.exit_code == 0, result.output
    assert "stored run" in result.output and db in result.output
    text = (tmp_path / "o" / "scan.json").read_bytes()
    with Store.open(db) as opened:
        (info,) = opened.list_runs("Demo Dental")
        assert info.digest == hashlib.sha256(text).hexdigest()
    plain = cli.invoke(app, ["scan", smtp_lan, "--out", str(tmp_path / "p"), "-q", "--format", "json",
                             "--db", db])
    assert plain.exit_code == 0 and "stored run" not in plain.output
    with Store.open(db) as opened:
        assert len(opened.list_runs()) == 1


def test_rescan_repeats_the_last_scope_and_profile(tmp_path: Path, db: str, smtp_lan: str) -> None:
    first = cli.invoke(app, ["scan", smtp_lan, "--out", str(tmp_path / "1"), "-q", "--format", "json",
                             "--client", "Demo Dental", "--db", db, "--profile", "quick",
                             "--authorized-by", "Dr. Lee, owner"])
    assert first.exit_code == 0, first.output
    again = cli.invoke(app, ["rescan", "--client", "Demo Dental", "--db", db, "--out", str(tmp_path / "2")])
    assert again.exit_code == 0, again.output
    assert "drift since" in again.output and "0 new" in again.output and "0 resolved" in again.output
    with Store.open(db) as opened:
        infos = opened.list_runs("Demo Dental")
        assert [i.seq for i in infos] == [1, 2] and infos[1].prev_digest == infos[0].digest
        assert infos[1].profile == "quick"
        one, two = (opened.load_run(i.run_id) for i in infos)
    assert two.scope.targets == one.scope.targets == (smtp_lan,)
    assert two.scope.authorized_by == "Dr. Lee, owner"
    drift = json.loads((tmp_path / "2" / "drift.json").read_text())
    assert drift["run_a"] == one.run_id and drift["run_b"] == two.run_id and drift["client"] == "Demo Dental"
    assert [p["run_id"] for p in drift["trend"]] == [one.run_id, two.run_id]
    assert drift["trend"][1]["open_by_severity"] == dict(two.summary.by_severity)
    assert {r.fingerprint for r in two.results} == {r.fingerprint for r in one.results}
    assert cli.invoke(app, ["rescan", "--client", "Nobody", "--db", db]).exit_code == 2


def concurrent_writers(url: str) -> None:
    """Two gapscans storing runs and decisions for one client at once: nothing lost, no fork."""
    import threading

    base = lab_run()
    with Store.open(url) as first:
        first.store_run(base)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            with Store.open(url) as mine:
                for n in range(4):
                    mine.store_run(variant(base, f"{name}-{n}", n + 1))
                    mine.add_decision(base.client or "", "smb.v1_enabled", DecisionKind.DEFERRED, f"{name}, tech")
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with Store.open(url) as store:
        infos = store.list_runs(base.client)
        assert [i.seq for i in infos] == list(range(1, 10))
        assert [d.seq for d in store.decisions(base.client or "")] == list(range(1, 9))
        assert store.verify().ok


def test_concurrent_writers_keep_the_chain(db: str) -> None:
    concurrent_writers(db)


def test_evidence_timeline_of_one_host(db: str) -> None:
    base = lab_run()
    gap = next(r for r in base.results if r.status is Status.FAIL and r.target.host)
    host = gap.target.host or ""
    with Store.open(db) as store:
        store.store_run(base)
        store.store_run(variant(base, "run-2", 7, status={gap.fingerprint: Status.PASS}))
        store.store_run(base.model_copy(update={"run_id": "run-3", "results": tuple(
            r for r in base.results if r.target.host != host)}))
    result = cli.invoke(app, ["evidence", "--client", "Demo Dental (lab)", "--host", host, "--check", gap.check_id,
                              "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    timeline = json.loads(result.output)
    assert [e["seq"] for e in timeline] == [1, 2, 3]
    assert [[r["status"] for r in e["results"] if r["fingerprint"] == gap.fingerprint] for e in timeline] == [
        ["fail"], ["pass"], []]
    assert timeline[0]["sha256"] == hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    text = cli.invoke(app, ["evidence", "--client", "Demo Dental (lab)", "--host", host, "--db", db])
    assert text.exit_code == 0 and "host not seen in this run" in text.output and gap.check_id in text.output
    missing = cli.invoke(app, ["evidence", "--client", "Demo Dental (lab)", "--host", "192.0.2.99", "--db", db])
    assert missing.exit_code == 2 and "no result for host 192.0.2.99" in missing.output


def test_scan_signs_the_stored_run_with_the_key(tmp_path: Path, db: str, smtp_lan: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert cli.invoke(app, ["keys", "init"]).exit_code == 0
    key = tmp_path / "config" / "gapscan" / "signing-key.pem"
    assert key.exists()
    result = cli.invoke(app, ["scan", smtp_lan, "--out", str(tmp_path / "o"), "-q", "--format", "json",
                              "--client", "Demo Dental", "--db", db])
    assert result.exit_code == 0, result.output
    assert "signed with key" in result.output
    key.chmod(0o644)
    refused = cli.invoke(app, ["scan", smtp_lan, "--out", str(tmp_path / "p"), "-q", "--format", "json",
                               "--client", "Demo Dental", "--db", db])
    assert refused.exit_code == 2 and "chmod 600" in refused.output
    with Store.open(db) as store:
        assert len(store.list_runs()) == 1
    key.chmod(0o600)
    verified = cli.invoke(app, ["verify", "--db", db])  # the key of gapscan keys init on this machine is trusted
    assert verified.exit_code == 0 and "1 run signature(s) by trusted keys" in verified.output


def test_an_older_database_is_migrated_in_place(db: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{db}")
    cfg = Config()
    cfg.set_main_option("script_location", str(scanner.history.store.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001_initial")
    engine.dispose()
    with sqlite3.connect(db) as conn:
        assert "signature" not in [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
        conn.execute("INSERT INTO clients (name, created_at) VALUES ('Old Clinic', '2026-01-01T00:00:00+00:00')")
    with Store.open(db) as store:
        assert store.schema_revision() == "0005_fleet"
        assert store.clients() == ["Old Clinic"]
        store.store_run(lab_run(), client="Old Clinic")
        assert store.verify().ok


def test_a_locked_database_is_a_clear_error(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(db).close()
    monkeypatch.setattr(scanner.history.store, "SQLITE_BUSY_TIMEOUT", 0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        result = cli.invoke(app, ["history", "--db", db])
        assert result.exit_code == 2, result.output
        assert "locked by another gapscan" in result.output and "Traceback" not in result.output
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert cli.invoke(app, ["history", "--db", db]).exit_code == 0
