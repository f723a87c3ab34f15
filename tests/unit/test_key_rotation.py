"""Key rotation (issue 21): an explicit record signed by the old key (and countersigned by the
new), followed by verify forward from an old pinned key and back from a new one; a forged,
forked or missing rotation and a retired key used again are named."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from scanner.cli import app
from scanner.history.signing import Signer, default_key_path, init_key, load_key, retired_keys, rotation_message
from scanner.history.store import Store, resolve_url
from tests.unit.test_store import lab_run, variant

cli = CliRunner()
CLIENT = "Demo Dental (lab)"


@pytest.fixture
def rotated(tmp_path: Path) -> tuple[str, Signer, Signer]:
    """Runs 1-2 signed with the first key, `gapscan keys rotate`, run 3 signed with the new key."""
    db = str(tmp_path / "h.db")
    old = init_key(default_key_path())
    with Store.open(db) as store:
        store.store_run(lab_run(), signer=old)
        store.store_run(variant(lab_run(), "run-2", 7), signer=old)
    result = cli.invoke(app, ["keys", "rotate", "--db", db])
    assert result.exit_code == 0, result.output
    new = load_key(default_key_path())
    assert new.fingerprint != old.fingerprint and new.fingerprint in result.output
    (kept,) = retired_keys(default_key_path())
    assert load_key(kept).fingerprint == old.fingerprint and oct(kept.stat().st_mode & 0o777) == "0o600"
    with Store.open(db) as store:
        store.store_run(variant(lab_run(), "run-3", 14), signer=new)
    return db, old, new


def _as_investigator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No key files, no config, no anchor log: only what is given on the command line."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "investigator-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "investigator-state"))


def _verify(db: str, *extra: str) -> tuple[int, str]:
    result = cli.invoke(app, ["verify", "--db", db, *extra])
    return result.exit_code, result.output


def _sql(db: str, statement: str, **params: object) -> None:
    engine = create_engine(resolve_url(db))
    with engine.begin() as conn:
        conn.execute(text(statement), params)
    engine.dispose()


def test_a_rotated_key_verifies_clean_on_this_machine(rotated: tuple[str, Signer, Signer]) -> None:
    db, _, _ = rotated
    code, output = _verify(db)
    assert code == 0, output
    assert "3 run signature(s) by trusted keys" in output


@pytest.mark.parametrize("pinned", ["old", "new"])
def test_one_pinned_key_reaches_the_other_through_the_rotation(rotated: tuple[str, Signer, Signer], pinned: str,
                                                               monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db, old, new = rotated
    _as_investigator(monkeypatch, tmp_path)
    code, output = _verify(db, "--trust", (old if pinned == "old" else new).fingerprint)
    assert code == 0, output
    assert "3 run signature(s) by trusted keys" in output


def test_without_the_rotation_record_the_new_key_is_not_trusted(rotated: tuple[str, Signer, Signer],
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    db, old, new = rotated
    _sql(db, "DELETE FROM key_rotations")
    _as_investigator(monkeypatch, tmp_path)
    code, output = _verify(db, "--trust", old.fingerprint)
    assert code == 4
    assert f"run run-3 (#3): signed by key {new.fingerprint}, which is not one of the MSP's trusted keys" in output


def test_a_rotation_the_old_key_did_not_sign_is_named(rotated: tuple[str, Signer, Signer],
                                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db, old, _ = rotated
    insider = Signer.generate()
    message = rotation_message(old.public_raw.hex(), insider.public_raw.hex(), "2026-12-01T00:00:00+00:00")
    _sql(db, "INSERT INTO key_rotations (old_fingerprint, old_public_key, new_fingerprint, new_public_key, "
             "rotated_at, old_signature, new_signature) VALUES (:of, :op, :nf, :np, :at, :os, :ns)",
         of=old.fingerprint, op=old.public_raw.hex(), nf=insider.fingerprint, np=insider.public_raw.hex(),
         at="2026-12-01T00:00:00+00:00", os=insider.sign(message), ns=insider.sign(message))
    _as_investigator(monkeypatch, tmp_path)
    code, output = _verify(db, "--trust", old.fingerprint)
    assert code == 4
    assert f"key rotation {old.fingerprint} -> {insider.fingerprint}" in output and "do not verify" in output


def test_a_second_rotation_of_a_stolen_key_is_a_fork(rotated: tuple[str, Signer, Signer],
                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db, old, new = rotated
    thief = Signer.generate()
    with Store.open(db) as store:
        store.record_rotation(old, thief)  # the thief holds the old key: both signatures are valid
    _as_investigator(monkeypatch, tmp_path)
    code, output = _verify(db, "--trust", old.fingerprint)
    assert code == 4
    assert f"key {old.fingerprint} was handed over to more than one key" in output
    assert new.fingerprint in output and thief.fingerprint in output


def test_a_retired_key_signing_after_its_successor_is_named(rotated: tuple[str, Signer, Signer]) -> None:
    db, old, new = rotated
    with Store.open(db) as store:
        store.store_run(variant(lab_run(), "run-4", 21), signer=old)
    code, output = _verify(db)
    assert code == 4
    assert (f"run run-4 (#4): signed by key {old.fingerprint}, which an earlier run of the client shows was "
            f"already handed over to key {new.fingerprint}") in output
