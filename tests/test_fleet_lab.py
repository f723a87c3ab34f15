"""Fleet mode on real components: RabbitMQ (TLS), PostgreSQL, two sensors, the ingest worker.

The module starts the fleet lab once (tests/lab/fleet.py: a centre namespace with rabbitmq-server
and PostgreSQL, two one-way site namespaces, a telnet host in each practice), runs the centre's
commands and workers inside the centre namespace and each sensor inside its own, and stops all
of it at the end. Every wait has a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from scanner.history.drift import compare
from scanner.history.fleet import EventKind, FleetRecords, JobState
from scanner.history.signing import Signer, public_pem, write_key
from scanner.history.store import Store, canonical_text
from scanner.models import Status
from scanner.web.console.portfolio import portfolio
from tests.lab.fleet import BROKER_NAME, BROKER_PORT, CENTRE_NS, SITES, FleetLab, Site
from tests.lab.proc import in_ns, stop

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
GAPSCAN = [str(Path(sys.executable).with_name("gapscan"))]
CLIENTS = {"site1": "Clinic One (lab)", "site2": "Clinic Two (lab)"}
TELNET = "cleartext.telnet"


def _require_root() -> None:
    if os.geteuid() != 0 or not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists():
        if os.environ.get("GAPSCAN_REQUIRE_LAB") == "1":
            pytest.fail("fleet lab required (GAPSCAN_REQUIRE_LAB=1): needs root and rabbitmq-server")
        pytest.skip("fleet lab needs root and rabbitmq-server (apt-get install rabbitmq-server)")


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 90.0, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


@dataclass
class Worker:
    """A gapscan worker (sensor or ingest) in a namespace, with its log."""

    name: str
    namespace: str
    argv: list[str]
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(in_ns(self.namespace, self.argv), stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=self.env, cwd=REPO)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, grace=15)  # type: ignore[arg-type]
            self.process = None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Fleet:
    lab: FleetLab
    centre_yaml: Path
    env: dict[str, str]
    sensors: dict[str, Worker] = field(default_factory=dict)
    sensor_yaml: dict[str, Path] = field(default_factory=dict)
    ingest: Worker | None = None

    def gapscan(self, *args: str, namespace: str = CENTRE_NS, timeout: float = 90.0) -> str:
        done = subprocess.run(in_ns(namespace, [*GAPSCAN, *args]), capture_output=True, text=True, timeout=timeout,
                              env=self.env, cwd=REPO, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"gapscan {' '.join(args)}: exit {done.returncode}\n{done.stderr[-3000:]}"
        return done.stdout

    def run_job(self, site: str, *targets: str) -> str:
        extra = [a for t in targets for a in ("--target", t)]
        return self.gapscan("fleet", "run-job", site, "--config", str(self.centre_yaml), *extra).strip().split()[-1]

    def store(self) -> Store:
        return Store.open(self.lab.postgres.url(), anchors=None)

    def job_state(self, job_id: str) -> JobState:
        with self.store() as store:
            return FleetRecords(store).job(job_id).state

    def wait_job(self, job_id: str, state: JobState = JobState.STORED, timeout: float = 120.0) -> None:
        wait_for(f"job {job_id} {state.value}", lambda: self.job_state(job_id) is state, timeout=timeout, every=1.0)

    def runs_with_id(self, run_id: str) -> int:
        with self.store() as store:
            return sum(1 for r in store.list_runs() if r.run_id == run_id)


def _write_secret(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    _require_root()
    lab = FleetLab()
    try:
        lab.up()
        base = lab.base
        env = {**os.environ, "XDG_DATA_HOME": str(base / "centre-xdg" / "data"),
               "XDG_CONFIG_HOME": str(base / "centre-xdg" / "config"), "PYTHONUNBUFFERED": "1"}
        password = _write_secret(base / "centre-password", "centre-lab-password-" + os.urandom(8).hex() + "\n")
        ctl = " ".join(f"'{a}'" for a in lab.broker.ctl_argv())
        centre_yaml = base / "centre.yaml"
        centre_yaml.write_text(
            f"broker:\n  url: amqps://gapscan-centre@{BROKER_NAME}:{BROKER_PORT}/gapscan\n"
            f"  password_file: {password}\n  ca_file: {lab.ca_file}\n"
            f"db: '{lab.postgres.url()}'\nrabbitmqctl: [{', '.join(repr(a) for a in lab.broker.ctl_argv())}]\n"
            "db_wait_seconds: 600\n")
        del ctl
        f = Fleet(lab=lab, centre_yaml=centre_yaml, env=env)
        f.gapscan("fleet", "init", "--config", str(centre_yaml))
        for s in SITES:
            _add_site(f, s)
        f.ingest = Worker("ingest", CENTRE_NS, [*GAPSCAN, "fleet", "ingest", "--config", str(centre_yaml)],
                          base / "ingest.log", env)
        f.ingest.start()
        for s in SITES:
            f.sensors[s.name].start()
        yield f
    finally:
        workers = [w for w in ([*f.sensors.values(), f.ingest] if "f" in locals() else []) if w is not None]
        for w in workers:  # Celery's warm shutdown takes 5-10 s each: all at once
            if w.process is not None:
                w.process.terminate()
        for w in workers:
            w.stop()
        lab.down()


def _add_site(f: Fleet, s: Site) -> None:
    base = f.lab.base / s.name
    base.mkdir()
    signer = write_key(base / "sensor-key.pem", Signer.generate())
    (base / "sensor-key.pub").write_text(public_pem(signer.public_raw))
    f.gapscan("fleet", "add-client", CLIENTS[s.name], "--config", str(f.centre_yaml))
    f.gapscan("fleet", "add-site", s.name, "--config", str(f.centre_yaml), "--client", CLIENTS[s.name],
              "--sensor-key", str(base / "sensor-key.pub"), "--target", s.host_address, "--profile", "quick",
              "--password-out", str(base / "broker-password"))
    yaml = base / "sensor.yaml"
    yaml.write_text(
        f"site: {s.name}\nbroker:\n  url: amqps://sensor-{s.name}@{BROKER_NAME}:{BROKER_PORT}/gapscan\n"
        f"  password_file: {base / 'broker-password'}\n  ca_file: {f.lab.ca_file}\n"
        f"key_file: {base / 'sensor-key.pem'}\nallowed_networks: ['{s.practice_net}']\nheartbeat_seconds: 5\n"
        f"work_dir: {base / 'work'}\n")
    f.sensor_yaml[s.name] = yaml
    f.sensors[s.name] = Worker(f"sensor-{s.name}", s.sensor_ns, [*GAPSCAN, "sensor", "--config", str(yaml)],
                               base / "sensor.log", f.env)


def _connects(namespace: str, address: str, port: int) -> bool:
    code = (f"import socket; s=socket.socket(); s.settimeout(2)\n"
            f"try:\n s.connect(({address!r}, {port})); print('open')\nexcept OSError as e: print('closed', e)")
    done = subprocess.run(in_ns(namespace, [sys.executable, "-c", code]), capture_output=True, text=True, timeout=20)
    return done.stdout.startswith("open")


def test_links_are_one_way(fleet: Fleet) -> None:
    """A sensor reaches the broker's TLS port; the centre reaches no sensor and no practice; a
    sensor reaches no other practice."""
    s1, s2 = SITES
    listener = subprocess.Popen(in_ns(s1.sensor_ns, [sys.executable, "-c", (
        "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        "s.bind(('0.0.0.0', 8022)); s.listen(); time.sleep(30)")]))
    try:
        time.sleep(0.5)
        assert _connects(s1.sensor_ns, "198.19.0.1", BROKER_PORT)
        assert _connects(s1.sensor_ns, s1.lan_address, 8022)  # the listener is up
        assert not _connects(CENTRE_NS, s1.wan_address, 8022)  # the centre cannot open a connection to a site
        assert not _connects(s2.sensor_ns, s1.wan_address, 8022)  # nor can another site
        assert not _connects(CENTRE_NS, s1.host_address, 23)  # no route from the centre into a practice
        assert not _connects(s2.sensor_ns, s1.host_address, 23)  # nor from one practice to another
        assert not _connects(s1.sensor_ns, "198.19.0.1", 25672)  # the broker's distribution port is not offered
        assert _connects(s1.sensor_ns, s1.host_address, 23)  # the sensor reaches its own practice
        # the centre listens on the lab address only with the broker's TLS port (epmd, Erlang
        # distribution: 127.0.0.1; PostgreSQL: a Unix socket)
        ss = subprocess.run(in_ns(CENTRE_NS, ["ss", "-Hltn"]), capture_output=True, text=True, timeout=10).stdout
        listening = {line.split()[3] for line in ss.splitlines() if line.strip()}
        loopback = ("127.0.0.1:", "[::1]:")
        assert listening and all(a.startswith(loopback) or a == f"198.19.0.1:{BROKER_PORT}" for a in listening), \
            listening
    finally:
        listener.kill()
        listener.wait(timeout=10)


def test_end_to_end_two_sites_and_drift(fleet: Fleet) -> None:
    # Both clients are new, so both are due: one scheduler pass queues a job for each site.
    out = fleet.gapscan("fleet", "schedule", "--once", "--config", str(fleet.centre_yaml))
    del out
    with fleet.store() as store:
        queued = FleetRecords(store).jobs()
    assert sorted(j.site for j in queued) == ["site1", "site2"]
    jobs = {j.site: j.job_id for j in queued}
    for job_id in jobs.values():
        fleet.wait_job(job_id)
    # a second pass finds nothing due (each client was scanned just now)
    fleet.gapscan("fleet", "schedule", "--once", "--config", str(fleet.centre_yaml))
    with fleet.store() as store:
        assert len(FleetRecords(store).jobs()) == 2
    with fleet.store() as store:
        records = FleetRecords(store)
        for s in SITES:
            job = records.job(jobs[s.name])
            run = store.load_run(job.run_id)
            assert run.client == CLIENTS[s.name]
            assert list(run.scope.targets) == [s.host_address]
            telnet = [r for r in run.results if r.check_id == TELNET]
            assert telnet and telnet[0].status is Status.FAIL, telnet
            assert telnet[0].target.host == s.host_address
        assert store.verify().ok
        sites = {x.name: x for x in records.sites()}
        # what the console's portfolio shows for each client: the last run's open gaps
        rows = {r.client: r for r in portfolio(store, date.today())}
        for s in SITES:
            run = store.load_run(records.job(jobs[s.name]).run_id)
            failed = [r for r in run.results if r.status is Status.FAIL]
            row = rows[CLIENTS[s.name]]
            assert row.open_total == len(failed) >= 1 and row.last_scan == run.started_at.isoformat()
            assert row.status is not None and not row.status.overdue
    assert all(sites[s.name].last_heartbeat_at for s in SITES)  # each sensor's heartbeat arrived
    # Drift: the telnet server of site 1 is shut down, the next scan shows the gap closed.
    fleet.lab.telnet["site1"].stop()
    try:
        second = fleet.run_job("site1")
        fleet.wait_job(second)
        with fleet.store() as store:
            first_run = store.load_run(FleetRecords(store).job(jobs["site1"]).run_id)
            second_run = store.load_run(FleetRecords(store).job(second).run_id)
            assert [i.seq for i in store.list_runs(CLIENTS["site1"])] == [1, 2]
        drift = compare(first_run, second_run)
        telnet = [i for i in drift.items if i.check_id == TELNET]
        # As for local runs (scanner.history.drift): a gap whose service vanished is "not retested",
        # never "resolved", and the vanished service is listed.
        assert [(i.kind, i.before) for i in telnet] == [("not_retested", "fail")], drift.as_dict()
        assert any(":23" in v for v in drift.services_vanished), drift.as_dict()
    finally:
        fleet.lab.telnet["site1"].start()



def _wait_log(worker: Worker, needle: str, timeout: float = 60.0, after: int = 0) -> None:
    wait_for(f"{worker.name} to log {needle!r}", lambda: needle in worker.text()[after:], timeout=timeout, every=0.2)


def test_kill_9_sensor_mid_scan_job_redelivered_one_run(fleet: Fleet) -> None:
    sensor = fleet.sensors["site2"]
    mark = len(sensor.text())
    job_id = fleet.run_job("site2")
    _wait_log(sensor, f"running job {job_id}", after=mark)
    sensor.kill9()  # mid-scan: the job is not acknowledged, the scan child dies with it (PDEATHSIG)
    assert fleet.job_state(job_id) is JobState.QUEUED
    sensor.start()
    fleet.wait_job(job_id)
    with fleet.store() as store:
        run_id = FleetRecords(store).job(job_id).run_id
    assert fleet.runs_with_id(run_id) == 1
    assert sensor.text()[mark:].count(f"running job {job_id}") == 2  # delivered again after the kill


def test_rabbitmq_restart_mid_run_loses_nothing(fleet: Fleet) -> None:
    """The broker restarts while a sensor scans (the job is redelivered), and again while a bundle
    waits in the ingest queue (persistent message, durable queue): nothing is lost, one run each."""
    sensor = fleet.sensors["site1"]
    mark = len(sensor.text())
    job_id = fleet.run_job("site1")
    _wait_log(sensor, f"running job {job_id}", after=mark)
    fleet.lab.broker.stop()  # durable queues and persistent messages are on disk
    fleet.lab.broker.start()
    fleet.wait_job(job_id, timeout=180)
    with fleet.store() as store:
        run_id = FleetRecords(store).job(job_id).run_id
    assert fleet.runs_with_id(run_id) == 1
    # A bundle waiting in the ingest queue (no ingest worker) survives a broker restart on disk.
    ingest = fleet.ingest
    assert ingest is not None
    ingest.stop()
    mark = len(sensor.text())
    waiting = fleet.run_job("site1")
    _wait_log(sensor, f"published job {waiting}", after=mark, timeout=120)
    fleet.lab.broker.stop()
    fleet.lab.broker.start()
    ingest.start()
    fleet.wait_job(waiting, timeout=120)
    with fleet.store() as store:
        assert fleet.runs_with_id(FleetRecords(store).job(waiting).run_id) == 1


def test_postgres_down_while_a_result_arrives(fleet: Fleet) -> None:
    sensor, ingest = fleet.sensors["site1"], fleet.ingest
    assert ingest is not None
    mark, ingest_mark = len(sensor.text()), len(ingest.text())
    job_id = fleet.run_job("site1")
    with fleet.store() as store:
        run_id = FleetRecords(store).job(job_id).run_id
    fleet.lab.postgres.stop()
    try:
        _wait_log(sensor, f"published job {job_id}", after=mark, timeout=120)
        _wait_log(ingest, "PostgreSQL unavailable", after=ingest_mark, timeout=60)
        time.sleep(3)  # the bundle waits, unacknowledged, while the database is away
    finally:
        fleet.lab.postgres.start()
    fleet.wait_job(job_id, timeout=120)
    assert fleet.runs_with_id(run_id) == 1
    _wait_log(ingest, "PostgreSQL is back", after=ingest_mark, timeout=30)


def _forge(fleet: Fleet, kind: str, job_id: str, site: str, run_id: str, scan_json: str) -> None:
    argv = [sys.executable, "-m", "tests.fleet_forge", str(fleet.sensor_yaml["site1"]), kind, job_id, site, run_id]
    done = subprocess.run(in_ns(SITES[0].sensor_ns, argv), input=scan_json, capture_output=True, text=True,
                          timeout=60, env=fleet.env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]


def test_forged_bundles_and_out_of_scope_jobs_are_refused(fleet: Fleet) -> None:
    """Site 1's sensor publishes a bundle for a job of site 2 and a bundle with an altered
    signature; the centre sends site 1 a job for site 2's practice. Each is refused and logged,
    and nothing is stored."""
    ingest, sensor = fleet.ingest, fleet.sensors["site1"]
    assert ingest is not None
    ingest_mark, sensor_mark = len(ingest.text()), len(sensor.text())
    with fleet.store() as store:
        records = FleetRecords(store)
        template = store.load_run(store.list_runs(CLIENTS["site1"])[0].run_id)
        other = records.create_job("site2")  # rows only: never published, so no sensor runs them
        mine = records.create_job("site1")
        before = len(store.list_runs())
    for kind, job, site in (("other-site", other, "site2"), ("bad-signature", mine, "site1")):
        forged = canonical_text(template.model_copy(update={"run_id": job.run_id}))
        _forge(fleet, kind, job.job_id, site, job.run_id, forged)
    # a job for site 1 whose scope is site 2's practice: the sensor refuses it before any packet
    outside = fleet.run_job("site1", SITES[1].host_address)
    fleet.wait_job(outside, JobState.REFUSED)
    wait_for("two refused bundles", lambda: ingest.text()[ingest_mark:].count("REFUSED bundle") >= 2, timeout=60)
    log = ingest.text()[ingest_mark:]
    assert "signature does not verify with the sensor key registered for site 'site2'" in log
    assert "signature does not verify with the sensor key registered for site 'site1'" in log
    assert f"REFUSED job {outside}" in sensor.text()[sensor_mark:]
    assert "outside the allowed networks" in sensor.text()[sensor_mark:]
    with fleet.store() as store:
        records = FleetRecords(store)
        assert len(store.list_runs()) == before  # nothing stored
        assert records.job(other.job_id).state is JobState.QUEUED
        assert records.job(mine.job_id).state is JobState.QUEUED
        assert "outside the allowed networks" in (records.job(outside).detail or "")
        kinds = [e["kind"] for e in records.events()]
        assert kinds.count(EventKind.REFUSED_BUNDLE.value) >= 2
        assert EventKind.JOB_REFUSED_BY_SENSOR.value in kinds
        for job in (other, mine):  # the rows the test made are closed, so the scheduler is not blocked
            records.refuse_job(job.job_id, "test row")
