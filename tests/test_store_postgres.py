"""The history store on a real PostgreSQL server: the same guarantees as on SQLite.

A pytest fixture runs Debian's PostgreSQL (``initdb`` in a temporary folder, ``postgres`` as the
``postgres`` user when run as root) listening on a Unix socket only (``listen_addresses=''``),
and stops it afterwards. Without PostgreSQL or the psycopg driver the tests are skipped with the
reason; with GAPSCAN_REQUIRE_LAB=1 (``make test``, CI) they fail instead.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from scanner.cli import app
from scanner.history.decisions import DecisionKind
from scanner.history.schema import metadata
from scanner.history.store import Store, StoreError
from scanner.models import Status
from tests.lab.proc import stop
from tests.unit import tampering
from tests.unit.test_store import FIXTURE, concurrent_writers, fails, lab_run, variant

cli = CliRunner()
CLIENT = "Demo Dental (lab)"
PORT = 54329  # names the socket file only: nothing listens on TCP


def _unavailable(reason: str) -> None:
    if os.environ.get("GAPSCAN_REQUIRE_LAB") == "1":
        pytest.fail(f"PostgreSQL store tests required (GAPSCAN_REQUIRE_LAB=1) but {reason}")
    pytest.skip(f"PostgreSQL store tests skipped: {reason}")


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@pytest.fixture(scope="module")
def pg_server() -> Iterator[tuple[str, int]]:
    """A private PostgreSQL on a Unix socket in a temporary folder: (socket dir, port)."""
    try:
        import psycopg
    except ImportError:
        _unavailable("the psycopg driver is not installed (pip install 'hipaa-gapscan[postgres]')")
    initdb, postgres = _binary("initdb"), _binary("postgres")
    if initdb is None or postgres is None:
        _unavailable("initdb/postgres not found (apt-get install postgresql)")
    assert initdb is not None and postgres is not None
    as_user: tuple[str, ...] = ()
    folder = Path(tempfile.mkdtemp(prefix="gapscan-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if shutil.which("setpriv") is None:
            _unavailable("running as root without setpriv to drop to the postgres user")
        try:
            shutil.chown(folder, "postgres", "postgres")
        except (LookupError, OSError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            _unavailable(f"no postgres user to run the server as ({exc})")
        as_user = ("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups")
    data = folder / "data"
    done = subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "gapscan", "-E", "UTF8",
                           "--no-sync", "--no-instructions"], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"initdb failed: {done.stderr.strip()[-500:]}")
    log = (folder / "server.log").open("w")
    server = subprocess.Popen([*as_user, postgres, "-D", str(data), "-k", str(folder), "-p", str(PORT),
                               "-c", "listen_addresses=", "-c", "fsync=off"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(host=str(folder), port=PORT, user="gapscan", dbname="postgres"):
                    break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    _unavailable(f"postgres did not start: {(folder / 'server.log').read_text()[-500:]}")
                time.sleep(0.2)
        yield str(folder), PORT
    finally:
        stop(server, grace=20)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: tuple[str, int]) -> str:
    """A fresh database of the private server for each test."""
    import psycopg

    folder, port = pg_server
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(host=folder, port=port, user="gapscan", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://gapscan@/{name}?host={folder}&port={port}"


def _sql(url: str, statement: str, **params: object) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text(statement), params).rowcount >= 1
    finally:
        engine.dispose()


def test_roundtrip_chain_and_migrations(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        run = lab_run()
        first = store.store_run(run)
        second = store.store_run(variant(run, "run-2", 7, status={fails(run)[0]: Status.PASS}))
        assert first.digest == hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
        assert store.scan_text(run.run_id).encode() == FIXTURE.read_bytes()
        assert store.load_run(run.run_id) == run
        assert second.prev_digest == first.digest and (second.failed, first.failed) == (52, 53)
        assert store.schema_revision() == "0005_fleet"
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    with Store.open(pg_url) as again:  # reopening does not migrate twice or lose anything
        assert [i.run_id for i in again.list_runs(CLIENT)] == [run.run_id, "run-2"]


def test_cli_history_diff_decide_verify(pg_url: str) -> None:
    run = lab_run()
    gap = fails(run)[0]
    with Store.open(pg_url) as store:
        store.store_run(run)
        store.store_run(variant(run, "run-2", 7, status={gap: Status.PASS}))
    result = cli.invoke(app, ["history", "--db", pg_url, "--json"])
    assert result.exit_code == 0 and "run-2" in result.output
    result = cli.invoke(app, ["diff", run.run_id, "run-2", "--db", pg_url, "--json"])
    assert result.exit_code == 0 and '"resolved": 1' in result.output
    decide = ["decide", gap, "--client", CLIENT, "--db", pg_url, "--by", "Dr. Lee, owner"]
    assert cli.invoke(app, [*decide, "--decision", "declined", "--note", "cost"]).exit_code == 0
    assert cli.invoke(app, [*decide, "--decision", "accepted"]).exit_code == 0
    assert cli.invoke(app, ["decide", "nope.nope", "--client", CLIENT, "--db", pg_url, "--by", "A, b",
                            "--decision", "declined"]).exit_code == 2
    with Store.open(pg_url) as store:
        assert [d.decision for d in store.decisions(CLIENT)] == [DecisionKind.DECLINED, DecisionKind.ACCEPTED]
    result = cli.invoke(app, ["verify", "--db", pg_url])
    assert result.exit_code == 0, result.output


def test_tampering_is_named(pg_url: str) -> None:
    run = lab_run()
    with Store.open(pg_url) as store:
        store.store_run(run)
        store.store_run(variant(run, "run-2", 7))
        store.add_decision(CLIENT, "smb.v1_enabled", DecisionKind.DEFERRED, "Dr. Lee, owner")
    victim = fails(run)[2]
    _sql(pg_url, "UPDATE results SET severity = 'low' WHERE fingerprint = :fp AND run_pk = "
                 "(SELECT id FROM runs WHERE run_id = 'run-2')", fp=victim)
    result = cli.invoke(app, ["verify", "--db", pg_url])
    assert result.exit_code == 4 and f"result {victim} of run run-2 (#2)" in result.output
    _sql(pg_url, "UPDATE decisions SET note = 'it was always fine' WHERE seq = 1")
    result = cli.invoke(app, ["verify", "--db", pg_url])
    assert result.exit_code == 4 and "decision #1" in result.output


def test_newer_schema_and_unreachable_server_are_clear_errors(pg_url: str, pg_server: tuple[str, int]) -> None:
    Store.open(pg_url).close()
    _sql(pg_url, "UPDATE alembic_version SET version_num = '0099_from_the_future'")
    with pytest.raises(StoreError, match="newer than this gapscan"):
        Store.open(pg_url)
    folder, port = pg_server
    missing = f"postgresql+psycopg://gapscan@/no_such_db?host={folder}&port={port}"
    result = cli.invoke(app, ["history", "--db", missing])
    assert result.exit_code == 2 and "no_such_db" in result.output and "Traceback" not in result.output


def test_concurrent_writers_do_not_fork_the_chain(pg_url: str) -> None:
    concurrent_writers(pg_url)


# -- issue 21: every tampering of tests/unit/tampering.py, on PostgreSQL ---------------------------


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _tamper_db(pg_url: str) -> tampering.TamperDb:
    def wipe() -> None:  # PostgreSQL's "truncate the file": every table gone, the database still there
        _execute(pg_url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")

    return tampering.signed_history(pg_url, wipe)


@pytest.mark.parametrize("case", sorted(tampering.CASES))
def test_tampering_is_named_on_postgres(pg_url: str, case: str) -> None:
    tampering.check_case(_tamper_db(pg_url), case)


def test_a_wiped_database_does_not_restart_the_history(pg_url: str, tmp_path: Path) -> None:
    tampering.check_store_refused_after_wipe(_tamper_db(pg_url), tmp_path)


def test_a_read_only_database_is_refused_before_the_scan(pg_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.test_failfast import assert_refused_before_scanning

    Store.open(pg_url).close()
    name = pg_url.split("@/", 1)[1].split("?", 1)[0]
    _execute(pg_url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    assert_refused_before_scanning(pg_url, tmp_path, monkeypatch, "read-only")
def test_interview_and_signoff_through_the_web_app(pg_url: str) -> None:
    """gapscan web on PostgreSQL: answers and a drawn sign-off land in the chains, bytes intact."""
    import base64
    import io

    from PIL import Image, ImageDraw

    from scanner.web.rendering import path
    from tests.webapp import Browser, served

    run = lab_run()
    with Store.open(pg_url) as store:
        store.store_run(run)
    image = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(10, 80), (120, 20), (200, 70), (290, 15)], fill=(0, 0, 0, 255), width=3)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    with served(pg_url) as server:
        b = Browser(server.port)
        b.login(server)
        interview = path("clients", CLIENT, "interview", "164.308(a)(7)")
        assert b.post(interview, {"answered_by": "Maria Lopez, office manager",
                                  "a-164.308(a)(7)-6-answer": "partly"}).status == 303
        from tests.unit.test_web import sheet

        fields = sheet(typed_consent="", signature_png="data:image/png;base64," + base64.b64encode(buf.getvalue())
                       .decode())
        reply = b.post(path("clients", CLIENT, "runs", run.run_id, "signoff"), fields)
        assert reply.status == 303, reply.text[:400]
    with Store.open(pg_url) as store:
        (signed,) = store.signoffs(CLIENT)
        assert signed.signature_kind == "drawn" and signed.signature_png is not None
        assert signed.signature_png.startswith(b"\x89PNG") and signed.record_pdf is not None
        assert len(store.decisions(CLIENT)) == len(signed.decision_digests) > 0
        report = store.verify()
        assert report.ok and (report.answers, report.signoffs) == (1, 1)
    _sql(pg_url, "UPDATE interview_answers SET answer = 'in-place'")
    result = cli.invoke(app, ["verify", "--db", pg_url])
    assert result.exit_code == 4 and "interview answer #1" in result.output
