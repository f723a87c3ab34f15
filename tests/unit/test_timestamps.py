"""RFC 3161 timestamps of stored runs against a real ``openssl ts -reply`` authority on loopback
(tests/lab/tsa.py); ``openssl ts -verify`` is the independent check of every stored reply."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from scanner.cli import app
from scanner.engine.output import write_scan_json
from scanner.history.store import Store, resolve_url
from scanner.history.timestamps import TimestampError, check_reply, load_ca_certs, request_stamp
from scanner.models import utcnow
from tests.lab.tsa import TsaFiles, TsaServer, serve
from tests.unit import tampering
from tests.unit.test_store import lab_run, variant

cli = CliRunner()
CLIENT = "Demo Dental (lab)"


def configure(url: str, ca: Path | None, timeout_s: float = 10) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "gapscan"
    config.mkdir(parents=True, exist_ok=True)
    lines = ["timestamp_authority:", f"  url: {url}", f"  timeout_s: {timeout_s}"]
    if ca is not None:
        lines.append(f"  ca_file: {ca}")
    (config / "history.yaml").write_text("\n".join(lines) + "\n")


def store_file(tmp_path: Path, db: str, run_id: str = "run-ts", days: int = 1,
               started: datetime | None = None) -> tuple[Path, Result]:
    """A scan that finished a moment ago (``started``: when it claims to have started), stored."""
    run = variant(lab_run(), run_id, days)
    begin = started or utcnow() - timedelta(minutes=5) + timedelta(seconds=days)
    run = run.model_copy(update={"started_at": begin, "finished_at": begin + timedelta(minutes=2)})
    scan = write_scan_json(run, _dir(tmp_path / run_id))
    return scan, cli.invoke(app, ["store", str(scan), "--client", CLIENT, "--db", db])


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _token(db: str, run_id: str) -> bytes:
    engine = create_engine(resolve_url(db))
    with engine.begin() as conn:
        value = conn.execute(text("SELECT timestamp_token FROM runs WHERE run_id = :r"), {"r": run_id}).scalar()
    engine.dispose()
    assert value is not None
    return base64.b64decode(value)


def _set_token(db: str, run_id: str, reply: bytes | None) -> None:
    engine = create_engine(resolve_url(db))
    with engine.begin() as conn:
        conn.execute(text("UPDATE runs SET timestamp_token = :t WHERE run_id = :r"),
                     {"t": base64.b64encode(reply).decode() if reply else None, "r": run_id})
    engine.dispose()


def test_a_stored_run_is_timestamped_and_openssl_agrees(tsa: TsaServer, tsa_files: TsaFiles, tmp_path: Path) -> None:
    configure(tsa.url, tsa_files.ca_cert)
    db = str(tmp_path / "h.db")
    scan, result = store_file(tmp_path, db)
    assert result.exit_code == 0, result.output
    assert "timestamped" in result.output and tsa.requests == 1
    reply = tmp_path / "run.tsr"
    reply.write_bytes(_token(db, "run-ts"))
    independent = subprocess.run(["openssl", "ts", "-verify", "-in", str(reply), "-data", str(scan), "-CAfile",
                                  str(tsa_files.ca_cert)], capture_output=True, text=True, timeout=60)
    assert independent.returncode == 0 and "Verification: OK" in independent.stdout, independent.stderr
    verified = cli.invoke(app, ["verify", "--db", db])
    assert verified.exit_code == 0, verified.output
    assert "1 timestamp token(s)" in verified.output and "note:" not in verified.output
    with Store.open(db) as store:
        assert store.list_runs(CLIENT)[0].timestamped


def test_without_the_tsa_ca_verify_says_what_it_could_not_check(tsa: TsaServer, tsa_files: TsaFiles,
                                                                  tmp_path: Path) -> None:
    configure(tsa.url, None)
    db = str(tmp_path / "h.db")
    assert store_file(tmp_path, db)[1].exit_code == 0
    plain = cli.invoke(app, ["verify", "--db", db])
    assert plain.exit_code == 0 and "checked against the certificate inside each token only" in plain.output
    given = cli.invoke(app, ["verify", "--db", db, "--tsa-ca", str(tsa_files.ca_cert)])
    assert given.exit_code == 0 and "note:" not in given.output


def test_altered_swapped_removed_or_foreign_tokens_are_named(tsa: TsaServer, tsa_files: TsaFiles, tmp_path: Path,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    configure(tsa.url, tsa_files.ca_cert)
    db = str(tmp_path / "h.db")
    _, first = store_file(tmp_path, db, "run-1", 1)
    _, second = store_file(tmp_path, db, "run-2", 2)
    assert first.exit_code == 0 and second.exit_code == 0
    original = _token(db, "run-2")
    tamper = tampering.TamperDb(url=db, empty=lambda: None, signer=None)  # type: ignore[arg-type]

    def verdict(reply: bytes | None, *extra: str) -> str:
        _set_token(db, "run-2", reply)
        tampering.rechain(tamper)  # the insider recomputes every chain head: only the token itself tells
        result = cli.invoke(app, ["verify", "--db", db, *extra])
        assert result.exit_code == 4, result.output
        assert "run run-2 (#2): timestamp token:" in result.output
        return result.output

    altered = bytearray(original)
    altered[-20] ^= 0x01
    assert "does not verify" in verdict(bytes(altered))
    assert "stamps another digest" in verdict(_token(db, "run-1"))
    foreign_files = TsaFiles.create(tmp_path_factory.mktemp("tsa-foreign"), name="someone else's TSA")
    with Store.open(db) as store:
        digest = store.run_info("run-2").digest
    with serve(foreign_files) as foreign:
        forged = request_stamp(foreign.url, digest, timeout_s=10)
    assert "not signed by a trusted timestamp authority" in verdict(forged)
    _set_token(db, "run-2", original)
    tampering.rechain(tamper)
    assert cli.invoke(app, ["verify", "--db", db]).exit_code == 0
    _set_token(db, "run-2", None)  # removed, heads not recomputed
    removed = cli.invoke(app, ["verify", "--db", db])
    assert removed.exit_code == 4 and "run run-2 (#2): does not match its chain head" in removed.output


def test_a_scan_dated_after_its_timestamp_is_named_and_a_late_stamp_noted(tsa: TsaServer, tsa_files: TsaFiles,
                                                                         tmp_path: Path) -> None:
    """The TSA's clock is the honest one: a scan.json claiming to start after the digest of it was
    stamped had its dates changed; a run stamped days after it finished was stored (or stamped) later."""
    configure(tsa.url, tsa_files.ca_cert)
    future = str(tmp_path / "future.db")
    assert store_file(tmp_path, future, "run-future", started=utcnow() + timedelta(hours=3))[1].exit_code == 0
    result = cli.invoke(app, ["verify", "--db", future])
    assert result.exit_code == 4 and "before the scan it stamps started" in result.output
    late = str(tmp_path / "late.db")
    assert store_file(tmp_path, late, "run-late", started=utcnow() - timedelta(days=3))[1].exit_code == 0
    result = cli.invoke(app, ["verify", "--db", late])
    assert result.exit_code == 0, result.output
    assert "run run-late (#1) was timestamped" in result.output and "day(s) after it finished" in result.output


@pytest.mark.parametrize("mode", ["hang", "garbage", "refuse"])
def test_a_failing_tsa_costs_the_token_never_the_run(tsa: TsaServer, tsa_files: TsaFiles, tmp_path: Path,
                                                     mode: str) -> None:
    configure(tsa.url, tsa_files.ca_cert, timeout_s=1.5)
    tsa.mode = mode
    db = str(tmp_path / "h.db")
    began = time.monotonic()
    _, result = store_file(tmp_path, db)
    elapsed = time.monotonic() - began
    assert result.exit_code == 0, result.output
    assert "stored without an RFC 3161 timestamp" in result.output
    assert elapsed < 8, f"the TSA request is bounded by its 1.5 s deadline, took {elapsed:.1f} s"
    with Store.open(db) as store:
        (info,) = store.list_runs(CLIENT)
    assert not info.timestamped
    assert cli.invoke(app, ["verify", "--db", db]).exit_code == 0


def test_an_unreachable_tsa_fails_fast(tsa_files: TsaFiles) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TimestampError, match="cannot reach"):
        request_stamp(f"http://127.0.0.1:{port}/tsa", "00" * 32, timeout_s=2)


def test_the_reply_must_answer_our_request(tsa: TsaServer, tsa_files: TsaFiles) -> None:
    certs = load_ca_certs(tsa_files.ca_cert)
    digest = "ab" * 32
    reply = request_stamp(tsa.url, digest, timeout_s=10, ca_certs=certs)
    stamp = check_reply(reply, digest, certs)
    assert stamp.trusted and "gapscan lab TSA" in stamp.tsa
    with pytest.raises(TimestampError, match="nonce"):
        check_reply(reply, digest, certs, nonce=12345)
    with pytest.raises(TimestampError, match="not valid DER"):
        check_reply(b"\x30\x82\xff\xff", digest, certs)
