"""Fleet mode on real components: RabbitMQ (TLS), PostgreSQL, two sensors, the ingest worker.

The module starts the fleet lab once (tests/lab/fleet.py: a centre namespace with rabbitmq-server
and PostgreSQL, two one-way site namespaces, a telnet host in each practice), runs the centre's
commands and workers inside the centre namespace and each sensor inside its own, and stops all
of it at the end. Every wait has a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scanner.history.drift import compare
from scanner.history.fleet import EventKind, FleetRecords, JobState
from scanner.history.signing import Signer, public_pem, write_key
from scanner.history.store import Store, canonical_text
from scanner.models import Status
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
        for w in [*f.sensors.values(), f.ingest] if "f" in locals() else []:
            if w is not None:
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
        f"s.bind(('0.0.0.0', 8022)); s.listen(); time.sleep(30)")]))
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
    finally:
        listener.kill()
        listener.wait(timeout=10)


def test_end_to_end_two_sites_and_drift(fleet: Fleet) -> None:
    jobs = {s.name: fleet.run_job(s.name) for s in SITES}
    for job_id in jobs.values():
        fleet.wait_job(job_id)
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

