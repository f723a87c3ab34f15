"""Ed25519 signing of stored runs: keys init, signed runs, and verify catching a rewritten chain."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.errors import InputError
from scanner.history.signing import init_key, load_key
from scanner.history.store import Store
from tests.unit.test_store import lab_run, variant

cli = CliRunner()


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "signing-key.pem"
    result = cli.invoke(app, ["keys", "init", "--key", str(path)])
    assert result.exit_code == 0, result.output
    assert "key fingerprint:" in result.output
    return path


@pytest.fixture
def signed_db(tmp_path: Path, key: Path) -> str:
    db = str(tmp_path / "h.db")
    signer = load_key(key)
    with Store.open(db) as store:
        for n, run in enumerate((lab_run(), variant(lab_run(), "run-2", 7), variant(lab_run(), "run-3", 14))):
            info = store.store_run(run, signer=signer)
            assert info.signed_by == signer.fingerprint and info.seq == n + 1
    return db


def test_key_file_is_private_and_never_overwritten(key: Path) -> None:
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    again = cli.invoke(app, ["keys", "init", "--key", str(key)])
    assert again.exit_code == 2 and "not overwritten" in again.output
    assert key.read_bytes() == before
    shown = cli.invoke(app, ["keys", "show", "--key", str(key)])
    assert shown.exit_code == 0 and load_key(key).fingerprint in shown.output
    key.chmod(0o644)
    with pytest.raises(InputError, match="chmod 600"):
        load_key(key)
    not_ed25519 = key.with_name("other.pem")
    not_ed25519.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    not_ed25519.chmod(0o600)
    with pytest.raises(InputError, match="PEM private key"):
        load_key(not_ed25519)


def test_signed_chain_verifies_with_the_key_trusted(signed_db: str, key: Path) -> None:
    result = cli.invoke(app, ["verify", "--db", signed_db, "--trust", str(key)])
    assert result.exit_code == 0, result.output
    assert "3 run signature(s) by trusted keys" in result.output
    fingerprint = load_key(key).fingerprint
    pinned = cli.invoke(app, ["verify", "--db", signed_db, "--trust", fingerprint])
    assert pinned.exit_code == 0, pinned.output  # a pinned fingerprint: the store's copy of the key may serve
    untrusted = cli.invoke(app, ["verify", "--db", signed_db])
    assert untrusted.exit_code == 4 and "not one of the MSP's trusted keys" in untrusted.output
    history = json.loads(cli.invoke(app, ["history", "--db", signed_db, "--json"]).output)
    assert all(row["signed_by"] for row in history)


def _rechain(db: str) -> None:
    from tests.unit.tampering import TamperDb, rechain

    rechain(TamperDb(url=db, empty=lambda: None, signer=None))  # type: ignore[arg-type]


def test_a_rewritten_chain_with_fresh_digests_and_heads_fails_its_signature(signed_db: str, key: Path) -> None:
    """The forger recomputes run 2's digest, run 3's link and every chain head: only the signature still tells."""
    with sqlite3.connect(signed_db) as conn:
        text = conn.execute("SELECT scan_json FROM runs WHERE run_id = 'run-2'").fetchone()[0]
        data = json.loads(text)
        data["warnings"] = ["rewritten later"]
        forged = json.dumps(data, indent=2) + "\n"
        digest = hashlib.sha256(forged.encode()).hexdigest()
        conn.execute("UPDATE runs SET scan_json = ?, digest = ? WHERE run_id = 'run-2'", (forged, digest))
    _rechain(signed_db)
    result = cli.invoke(app, ["verify", "--db", signed_db, "--trust", str(key)])
    assert result.exit_code == 4
    assert "run run-2 (#2): Ed25519 signature" in result.output and "does not verify" in result.output


def test_a_stripped_signature_is_noticed(signed_db: str, key: Path) -> None:
    with sqlite3.connect(signed_db) as conn:
        conn.execute("UPDATE runs SET signature = NULL, key_fingerprint = NULL WHERE run_id = 'run-3'")
    result = cli.invoke(app, ["verify", "--db", signed_db, "--trust", str(key)])
    assert result.exit_code == 4 and "run run-3 (#3): does not match its chain head" in result.output
    _rechain(signed_db)  # heads recomputed: the unsigned newest run still shows
    result = cli.invoke(app, ["verify", "--db", signed_db, "--trust", str(key)])
    assert result.exit_code == 4 and "run run-3 (#3): unsigned, though earlier runs" in result.output


def test_a_signature_by_another_key_is_noticed(signed_db: str, key: Path, tmp_path: Path) -> None:
    other = init_key(tmp_path / "other.pem")
    with sqlite3.connect(signed_db) as conn:
        conn.execute("UPDATE runs SET key_fingerprint = ? WHERE run_id = 'run-2'", (other.fingerprint,))
    _rechain(signed_db)
    result = cli.invoke(app, ["verify", "--db", signed_db, "--trust", str(key)])
    assert result.exit_code == 4
    assert f"run run-2 (#2): signed by key {other.fingerprint}, which is not one of the MSP's trusted keys" in \
        result.output


def test_runs_signed_before_0003_keep_verifying_after_the_migration(tmp_path: Path, key: Path) -> None:
    """A store of schema 0002 with runs signed the old way (run id, digest, previous digest) is
    migrated in place: chain heads are computed, the old signatures still verify, and a later run
    (signed the new way) chains on."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, insert

    from scanner.history.rows import result_row
    from scanner.history.schema import clients, results, runs
    from scanner.history.signing import run_message
    from scanner.history.store import MIGRATIONS, canonical_text

    db = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{db}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002_signatures")
    signer = load_key(key)
    previous = None
    legacy_columns = [c for c in runs.c if c.name not in ("chain_head", "signature_scheme", "timestamp_token")]
    with engine.begin() as conn:
        conn.execute(insert(clients).values(id=1, name="Demo Dental (lab)", created_at="2026-01-01T00:00:00+00:00"))
        for seq, run in enumerate((lab_run(), variant(lab_run(), "run-2", 7)), start=1):
            text = canonical_text(run)
            digest = hashlib.sha256(text.encode()).hexdigest()
            values = {"id": seq, "run_id": run.run_id, "client_id": 1, "seq": seq,
                      "started_at": run.started_at.isoformat(), "finished_at": None,
                      "stored_at": "2026-01-01T00:00:00+00:00", "profile": run.profile, "complete": 1,
                      "scope_json": run.scope.model_dump_json(), "scan_json": text, "digest": digest,
                      "prev_digest": previous, "key_fingerprint": signer.fingerprint,
                      "signature": signer.sign(run_message(run.run_id, digest, previous))}
            conn.execute(insert(runs).values(**{c.name: values[c.name] for c in legacy_columns}))
            conn.execute(insert(results), [result_row(seq, r) for r in run.results])
            previous = digest
        conn.exec_driver_sql("INSERT INTO signing_keys (fingerprint, public_key, created_at) VALUES (?, ?, ?)",
                             (signer.fingerprint, signer.public_raw.hex(), "2026-01-01T00:00:00+00:00"))
    engine.dispose()
    with Store.open(str(db)) as store:
        assert store.schema_revision() == "0005_fleet"
        store.store_run(variant(lab_run(), "run-3", 14), signer=signer)
    result = cli.invoke(app, ["verify", "--db", str(db), "--trust", str(key)])
    assert result.exit_code == 0, result.output
    assert "3 run signature(s) by trusted keys" in result.output
    with sqlite3.connect(db) as conn:
        schemes = [r[0] for r in conn.execute("SELECT signature_scheme FROM runs ORDER BY seq")]
        conn.execute("UPDATE runs SET signature = ? WHERE seq = 1", (signer.sign(b"something else"),))
    assert schemes == ["run-v1", "run-v1", "chain-v1"]
    _rechain(str(db))
    forged = cli.invoke(app, ["verify", "--db", str(db), "--trust", str(key)])
    assert forged.exit_code == 4 and "(#1): Ed25519 signature" in forged.output
