"""The site sensor (``gapscan sensor --config sensor.yaml``): a Celery worker on its site's queue.

For each job it: refuses (and reports, signed) a job whose scope leaves its allowed networks;
otherwise scans in a child process (``scan_child``), signs the bundle (scan.json + Ed25519) and
publishes it to the result exchange with a publisher confirm, and only then acknowledges the job
(late ack): a sensor killed mid-scan has its job redelivered by the broker, and the centre stores
a run once (the job fixes the run id). A heartbeat thread publishes a signed heartbeat.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from typing import Any

from celery import Celery

from scanner import __version__
from scanner.errors import InputError
from scanner.fleet.bundle import digest, sign
from scanner.fleet.celery_app import job_queue, make_app, publish, result_exchange, run_worker
from scanner.fleet.config import SensorConfig, private_dir
from scanner.fleet.scope_check import outside_allowed
from scanner.fleet.topology import RESULT_ROUTING_KEY, TASK_BUNDLE, TASK_HEARTBEAT, TASK_REFUSAL, TASK_SCAN
from scanner.history.signing import Signer, load_key
from scanner.models import utcnow

log = logging.getLogger("gapscan.sensor")
JOB_FIELDS = ("job_id", "run_id", "site", "client", "profile", "targets", "exclusions", "domains")
SCAN_TIMEOUT = 6 * 3600.0  # a job's scan is ended after six hours (the profile's run budget is shorter)


class JobRefused(InputError):
    """The job may not run on this sensor."""


class Sensor:
    def __init__(self, config: SensorConfig) -> None:
        self.config = config
        self.signer: Signer = load_key(config.key_file)
        self.work = private_dir(config.work_dir)
        self.app: Celery = make_app(f"gapscan-sensor-{config.site}", config.broker,
                                    job_queue(config.site, declare=False))
        self.state = "idle"
        self._stop = threading.Event()

        @self.app.task(name=TASK_SCAN, acks_late=True, reject_on_worker_lost=True)
        def scan(payload: dict[str, Any]) -> None:
            self.handle_job(payload)

    # -- publishing --------------------------------------------------------------------------

    def _publish(self, task: str, payload: dict[str, Any]) -> None:
        publish(self.app, task, sign(payload, self.signer), exchange=result_exchange(declare=False),
                routing_key=RESULT_ROUTING_KEY)

    def heartbeat_once(self) -> None:
        self._publish(TASK_HEARTBEAT, {"kind": "heartbeat", "site": self.config.site, "sent_at": utcnow().isoformat(),
                                       "version": __version__, "state": self.state})

    def _heartbeats(self) -> None:
        """One heartbeat at start, then one every ``heartbeat_seconds`` until the worker stops
        (a missed one is logged; the next one tries again)."""
        delay = 0.0
        while not self._stop.wait(delay):
            try:
                self.heartbeat_once()
            except Exception as exc:
                log.warning("heartbeat not sent: %s", exc.__class__.__name__)
            delay = self.config.heartbeat_seconds

    # -- jobs --------------------------------------------------------------------------------

    def check_job(self, payload: dict[str, Any]) -> dict[str, Any]:
        missing = [f for f in JOB_FIELDS if f not in payload]
        if missing:
            raise JobRefused(f"the job lacks {', '.join(missing)}", source="job")
        if payload["site"] != self.config.site:
            raise JobRefused(f"the job is for site {payload['site']!r}, this sensor is {self.config.site!r}",
                             source="job")
        problems = outside_allowed(payload["targets"], payload["domains"], self.config.networks(),
                                   self.config.allowed_domains)
        if problems:
            raise JobRefused("; ".join(problems), source="job")
        return {f: payload[f] for f in JOB_FIELDS}

    def handle_job(self, payload: dict[str, Any]) -> None:
        job_id = str(payload.get("job_id", "?"))
        try:
            job = self.check_job(payload)
        except JobRefused as exc:
            log.warning("REFUSED job %s: %s", job_id, exc.message if hasattr(exc, "message") else exc)
            self._publish(TASK_REFUSAL, {"kind": "refusal", "site": self.config.site, "job_id": job_id,
                                         "reason": str(exc), "sent_at": utcnow().isoformat()})
            return
        log.info("running job %s (run %s, profile %s, targets %s)", job_id, job["run_id"], job["profile"],
                 ",".join(job["targets"]))
        self.state = f"scanning job {job_id}"
        try:
            scan_json = self._scan(job)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            # Reported, so that the centre closes the job (a site with a job still queued is not due again).
            log.error("FAILED job %s: %s", job_id, exc)
            self._publish(TASK_REFUSAL, {"kind": "refusal", "site": self.config.site, "job_id": job_id,
                                         "reason": f"the scan failed: {str(exc)[:500]}",
                                         "sent_at": utcnow().isoformat()})
            return
        finally:
            self.state = "idle"
        self._publish(TASK_BUNDLE, {"kind": "bundle", "site": self.config.site, "job_id": job_id,
                                    "run_id": job["run_id"], "scan_json": scan_json, "digest": digest(scan_json),
                                    "sent_at": utcnow().isoformat()})
        log.info("published job %s (run %s, scan.json sha256 %s)", job_id, job["run_id"], digest(scan_json)[:16])

    def _scan(self, job: dict[str, Any]) -> str:
        directory = self.work / job["job_id"]
        shutil.rmtree(directory, ignore_errors=True)  # a redelivered job starts again from nothing
        private_dir(directory)
        (directory / "job.json").write_text(json.dumps(job))
        done = subprocess.run([sys.executable, "-m", "scanner.fleet.scan_child", str(directory), str(os.getpid())],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=SCAN_TIMEOUT,
                              check=False)
        out = directory / "out" / "scan.json"
        if done.returncode != 0 or not out.is_file():
            raise RuntimeError(f"the scan of job {job['job_id']} failed (exit {done.returncode}): "
                               f"{done.stderr.strip()[-500:]}")
        text = out.read_text(encoding="utf-8")
        shutil.rmtree(directory, ignore_errors=True)
        return text

    # -- running -----------------------------------------------------------------------------

    def run(self) -> None:
        beats = threading.Thread(target=self._heartbeats, name="gapscan-heartbeat", daemon=True)
        beats.start()
        try:
            run_worker(self.app, hostname=f"sensor@{self.config.site}")
        finally:
            self._stop.set()
