"""Fleet mode without a broker: permissions regexes, the sensor's scope limit, signed messages,
cadence and overdue, and every refusal of the ingest worker (on a SQLite store)."""

from __future__ import annotations

import ipaddress
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from scanner.fleet.bundle import digest, sign, verify
from scanner.fleet.config import BrokerSettings, CentreConfig
from scanner.fleet.ingest import Ingest, database_down
from scanner.fleet.scope_check import outside_allowed
from scanner.fleet.topology import INGEST_QUEUE, JOB_EXCHANGE, RESULT_EXCHANGE, site_permissions, site_queue
from scanner.history.fleet import SIX_MONTHS_DAYS, EventKind, FleetRecords, JobState, scope_of
from scanner.history.signing import Signer
from scanner.history.store import Store, canonical_text
from scanner.models import utcnow
from tests.unit.test_store import lab_run

NETS = [ipaddress.ip_network("198.18.11.0/24")]


def test_site_permissions_match_only_its_own_resources() -> None:
    perms = site_permissions("site1")
    assert (perms.configure, perms.write, perms.read) == ("^$", r"^gapscan\.results$", r"^gapscan\.site\.site1$")
    names = [site_queue("site1"), site_queue("site2"), site_queue("site10"), RESULT_EXCHANGE, JOB_EXCHANGE,
             INGEST_QUEUE, "amq.default", "celery", "gapscan.siteXsite1", "gapscan.results.x"]
    assert [n for n in names if re.search(perms.read, n)] == [site_queue("site1")]
    assert [n for n in names if re.search(perms.write, n)] == [RESULT_EXCHANGE]
    assert [n for n in names if re.search(perms.configure, n)] == []


@pytest.mark.parametrize(("targets", "ok"), [
    (["198.18.11.10"], True), (["198.18.11.0/25", "198.18.11.200-210"], True),
    (["198.18.12.10"], False), (["198.18.11.0/23"], False), (["198.18.11.250-198.18.12.3"], False),
    (["printer.lab"], False), (["not an address!"], False), ([], False),
])
def test_sensor_refuses_targets_outside_its_networks(targets: list[str], ok: bool) -> None:
    assert (outside_allowed(targets, [], NETS, []) == []) is ok


def test_sensor_refuses_domains_it_was_not_given() -> None:
    assert outside_allowed(["198.18.11.10"], ["demo.lab"], NETS, ["demo.lab."]) == []
    assert outside_allowed(["198.18.11.10"], ["other.lab"], NETS, ["demo.lab"])


def test_signed_message_verifies_only_unchanged_and_with_its_key() -> None:
    signer, other = Signer.generate(), Signer.generate()
    payload = sign({"kind": "bundle", "site": "site1", "scan_json": "{}", "digest": digest("{}")}, signer)
    assert verify(payload, signer.public_raw.hex())
    assert not verify(payload, other.public_raw.hex())
    assert not verify({**payload, "site": "site2"}, signer.public_raw.hex())
    assert not verify({k: v for k, v in payload.items() if k != "signature"}, signer.public_raw.hex())


def test_cadence_due_and_overdue(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "h.db"), anchors=None) as store:
        records = FleetRecords(store)
        records.add_client("Monthly")
        records.add_client("Yearly", cadence_days=365)
        run = lab_run()
        store.store_run(run, "Monthly")
        store.store_run(run.model_copy(update={"run_id": "yearly-1"}), "Yearly")
        started = run.started_at
        status = {s.client: s for s in records.client_status(started + timedelta(days=31))}
        assert status["Monthly"].overdue and not status["Yearly"].overdue
        later = {s.client: s for s in records.client_status(started + timedelta(days=SIX_MONTHS_DAYS + 1))}
        assert later["Yearly"].overdue  # six months at the latest, whatever the cadence
        assert later["Yearly"].due_at == started + timedelta(days=365)


@pytest.fixture
def ingest(tmp_path: Path) -> tuple[Ingest, FleetRecords, dict[str, Signer]]:
    secret = tmp_path / "pw"
    secret.write_text("x\n")
    secret.chmod(0o600)
    ca = tmp_path / "ca.pem"
    ca.write_text("not used: nothing connects in this test\n")
    store = Store.open(str(tmp_path / "h.db"), anchors=None)
    cfg = CentreConfig(broker=BrokerSettings(url="amqps://c@broker.lab:5671/gapscan", password_file=secret, ca_file=ca),
                       db=str(tmp_path / "h.db"))
    worker = Ingest(cfg)
    worker._store = store
    records = FleetRecords(store)
    keys = {"site1": Signer.generate(), "site2": Signer.generate()}
    for site, key in keys.items():
        records.add_client(f"Client {site}")
        records.add_site(site, f"Client {site}", key.public_raw, "quick", scope_of(["198.18.11.10"]))
    return worker, records, keys


def _bundle(records: FleetRecords, site: str, key: Signer, **change: Any) -> tuple[dict[str, Any], str]:
    job = records.create_job(site)
    run = lab_run().model_copy(update={"run_id": job.run_id, "profile": "quick",
                                       "scope": lab_run().scope.model_copy(update={"targets": ("198.18.11.10",),
                                                                                   "exclusions": (), "domains": ()})})
    text = canonical_text(run)
    payload = {"kind": "bundle", "site": site, "job_id": job.job_id, "run_id": job.run_id, "scan_json": text,
               "digest": digest(text), "sent_at": utcnow().isoformat(), **change}
    return sign(payload, key), job.job_id


def test_ingest_stores_a_good_bundle_once(ingest: tuple[Ingest, FleetRecords, dict[str, Signer]]) -> None:
    worker, records, keys = ingest
    payload, job_id = _bundle(records, "site1", keys["site1"])
    worker.handle_bundle(payload)
    worker.handle_bundle(payload)  # delivered twice
    assert records.job(job_id).state is JobState.STORED
    assert len(records.store.list_runs()) == 1
    assert [e["kind"] for e in records.events()] == [EventKind.STORED.value, EventKind.DUPLICATE.value]


@pytest.mark.parametrize("forgery", ["other-site-key", "other-sites-job", "edited", "wrong-run-id", "scope"])
def test_ingest_refuses_forged_bundles(ingest: tuple[Ingest, FleetRecords, dict[str, Signer]], forgery: str) -> None:
    worker, records, keys = ingest
    if forgery == "other-site-key":  # site 1's sensor claims to be site 2
        payload, job_id = _bundle(records, "site2", keys["site1"])
    elif forgery == "other-sites-job":  # site 1 signs for a job of site 2
        theirs, job_id = _bundle(records, "site2", keys["site2"])
        payload = sign({**theirs, "site": "site1"}, keys["site1"])
    elif forgery == "edited":
        payload, job_id = _bundle(records, "site1", keys["site1"])
        payload = {**payload, "scan_json": payload["scan_json"].replace('"fail"', '"pass"', 1)}
    elif forgery == "wrong-run-id":
        payload, job_id = _bundle(records, "site1", keys["site1"], run_id="someone-else")
    else:
        good, job_id = _bundle(records, "site1", keys["site1"])
        run = lab_run().model_validate_json(good["scan_json"])
        wider = run.model_copy(update={"scope": run.scope.model_copy(update={"targets": ("198.18.11.0/24",)})})
        text = canonical_text(wider)
        payload = sign({**good, "scan_json": text, "digest": digest(text)}, keys["site1"])
    worker.handle_bundle(payload)
    assert records.store.list_runs() == []
    assert records.job(job_id).state is JobState.QUEUED
    assert [e["kind"] for e in records.events()] == [EventKind.REFUSED_BUNDLE.value]


def test_database_down_is_told_apart_from_a_bad_message() -> None:
    from sqlalchemy.exc import OperationalError

    from scanner.history.store import StoreError

    down = StoreError("database error")
    down.__cause__ = OperationalError("connect", {}, Exception("connection refused"))
    assert database_down(down)
    assert not database_down(StoreError("no site 'x'"))


def test_a_bundle_waits_for_the_database_then_goes_back_to_the_queue(tmp_path: Path) -> None:
    """PostgreSQL unreachable: the worker retries until db_wait_seconds, then rejects the message
    with requeue (never acknowledged unstored)."""
    from celery.exceptions import Reject

    secret = tmp_path / "pw"
    secret.write_text("x\n")
    secret.chmod(0o600)
    ca = tmp_path / "ca.pem"
    ca.write_text("unused\n")
    cfg = CentreConfig(broker=BrokerSettings(url="amqps://c@broker.lab:5671/gapscan", password_file=secret, ca_file=ca),
                       db=f"postgresql+psycopg://gapscan@/none?host={tmp_path / 'no-such-socket-dir'}&port=1",
                       db_wait_seconds=0.3)
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        time.sleep(0.05)

    worker = Ingest(cfg, sleep=nap)
    with pytest.raises(Reject) as caught:
        worker.handle_bundle({"kind": "bundle", "site": "site1"})
    assert caught.value.requeue and naps


def _centre_yaml(tmp_path: Path) -> Path:
    secret = tmp_path / "pw"
    secret.write_text("x\n")
    secret.chmod(0o600)
    (tmp_path / "ca.pem").write_text("unused\n")
    path = tmp_path / "centre.yaml"
    path.write_text(f"broker:\n  url: amqps://c@broker.lab:5671/gapscan\n  password_file: {secret}\n"
                    f"  ca_file: {tmp_path / 'ca.pem'}\ndb: {tmp_path / 'h.db'}\n")
    return path


def test_fleet_cli_clients_status_and_password_hash(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scanner.cli import app
    from scanner.web.console.passwords import verify_password

    cli = CliRunner()
    centre = _centre_yaml(tmp_path)
    done = cli.invoke(app, ["fleet", "add-client", "Demo Dental", "--config", str(centre), "--cadence-days", "90"])
    assert done.exit_code == 0, done.output
    status = cli.invoke(app, ["fleet", "status", "--config", str(centre)])
    assert status.exit_code == 0 and "Demo Dental" in status.output and "90 d" in status.output
    hashed = cli.invoke(app, ["fleet", "hash-password"], input="s3cret words\n")
    assert hashed.exit_code == 0 and verify_password("s3cret words", hashed.output.strip())
    assert "s3cret" not in hashed.output


def test_sensor_config_mistakes_are_named(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scanner.cli import app

    cli = CliRunner()
    missing = cli.invoke(app, ["sensor", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml" in missing.output
    bad = tmp_path / "sensor.yaml"
    bad.write_text("site: s1\nbroker:\n  url: amqp://u@h/gapscan\n  password_file: /x\n  ca_file: /y\n"
                   "key_file: /k\nallowed_networks: [198.18.11.0/33]\n")
    done = cli.invoke(app, ["sensor", "--config", str(bad)])
    assert done.exit_code == 2
    assert "amqps://" in done.output and "allowed_networks" in done.output


def test_add_site_refuses_a_profile_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scanner.cli import app

    centre = _centre_yaml(tmp_path)
    key = tmp_path / "sensor.pub"
    key.write_text(Signer.generate().public_raw.hex())
    done = CliRunner().invoke(app, ["fleet", "add-site", "s1", "--config", str(centre), "--client", "C",
                                    "--sensor-key", str(key), "--target", "198.18.11.0/24", "--password-out",
                                    str(tmp_path / "pw-out"), "--profile", str(tmp_path / "mine.yaml")])
    assert done.exit_code == 2 and "shipped profile name" in done.output
    assert not (tmp_path / "pw-out").exists()  # nothing was created
