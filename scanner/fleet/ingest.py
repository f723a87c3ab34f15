"""The centre's ingest worker: a Celery worker on ``gapscan.ingest``.

A bundle is stored only when every check passes: the site is registered, the signature verifies
with the public key registered for *that* site, the job exists and belongs to that site, the run
id is the job's, scan.json hashes to the digest signed, and the run's scope is the job's scope.
Anything else is refused, logged (worker log and the ``fleet_events`` table) and acknowledged:
nothing is stored. A valid bundle is written with ``Store.store_run`` (the same hash chain,
signatures and anchors as a local scan) and its job marked stored in the same transaction; a run
id already stored is acknowledged as a duplicate (a redelivered job). While PostgreSQL is
unreachable the worker waits and retries, holding the message unacknowledged (late ack): a
bundle is never dropped because the database was down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Celery
from celery.exceptions import Reject
from sqlalchemy.exc import DBAPIError, OperationalError

from scanner.fleet.bundle import digest, verify
from scanner.fleet.celery_app import ingest_queue, make_app, run_worker
from scanner.fleet.config import CentreConfig
from scanner.fleet.topology import TASK_BUNDLE, TASK_HEARTBEAT, TASK_REFUSAL
from scanner.history.fleet import EventKind, FleetRecords, JobState
from scanner.history.signing import Signer, load_key
from scanner.history.store import RunAlreadyStored, Store, StoreError, canonical_text
from scanner.models import ScanRun

log = logging.getLogger("gapscan.ingest")
T = TypeVar("T")
RETRY_SECONDS = 2.0


class Refused(Exception):
    """A message the centre will not store; the text says why."""


def database_down(exc: BaseException) -> bool:
    """True when the error is the database being unreachable (not a bad message)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OperationalError) or (isinstance(seen, DBAPIError) and seen.connection_invalidated):
            return True
        name = type(seen).__name__
        if name in ("OperationalError", "InterfaceError") and type(seen).__module__.startswith("psycopg"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Ingest:
    def __init__(self, config: CentreConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.signer: Signer | None = load_key(config.sign_key) if config.sign_key else None
        self.app: Celery = make_app("gapscan-centre", config.broker, ingest_queue(declare=True))
        self._store: Store | None = None
        self._sleep = sleep

        @self.app.task(name=TASK_BUNDLE, acks_late=True)
        def bundle(payload: dict[str, Any]) -> None:
            self.handle_bundle(payload)

        @self.app.task(name=TASK_HEARTBEAT, acks_late=True)
        def heartbeat(payload: dict[str, Any]) -> None:
            self.handle_heartbeat(payload)

        @self.app.task(name=TASK_REFUSAL, acks_late=True)
        def refusal(payload: dict[str, Any]) -> None:
            self.handle_refusal(payload)

    # -- the database, waited for ------------------------------------------------------------

    def _with_db(self, work: Callable[[FleetRecords], T]) -> T:
        deadline = time.monotonic() + self.config.db_wait_seconds
        waited = False
        while True:
            try:
                if self._store is None:
                    self._store = Store.open(self.config.db)
                result = work(FleetRecords(self._store))
                if waited:
                    log.info("PostgreSQL is back")
                return result
            except StoreError as exc:
                if not database_down(exc) or time.monotonic() > deadline:
                    raise
                if not waited:
                    log.warning("PostgreSQL unavailable (%s); the message waits, retrying every %.0f s",
                                str(exc)[:200], RETRY_SECONDS)
                waited = True
                if self._store is not None:
                    self._store.close()
                    self._store = None
                self._sleep(RETRY_SECONDS)

    def _refuse(self, records: FleetRecords, kind: EventKind, payload: dict[str, Any], why: str) -> None:
        site, job_id = str(payload.get("site"))[:64], str(payload.get("job_id"))[:80]
        log.warning("REFUSED %s from site %r (job %s): %s", payload.get("kind"), site, job_id, why)
        records.log_event(kind, why, site=site, job_id=job_id)

    # -- messages ----------------------------------------------------------------------------

    def handle_bundle(self, payload: dict[str, Any]) -> None:
        self._guarded(lambda: self._with_db(lambda records: self._bundle(records, payload)))

    @staticmethod
    def _guarded(work: Callable[[], None]) -> None:
        """Past ``db_wait_seconds`` of a database still down, the message goes back to the queue
        (rejected with requeue) for this or another worker: it is never acknowledged unstored."""
        try:
            work()
        except StoreError as exc:
            if database_down(exc):
                log.error("PostgreSQL still unavailable: the message goes back to the queue")
                raise Reject(str(exc)[:200], requeue=True) from exc
            raise

    def _bundle(self, records: FleetRecords, payload: dict[str, Any]) -> None:
        try:
            run, job_id, client = self._checked_bundle(records, payload)
        except Refused as exc:
            self._refuse(records, EventKind.REFUSED_BUNDLE, payload, str(exc))
            return
        store = records.store
        try:
            info = store.store_run(run, client, signer=self.signer,
                                   also=lambda conn: records.mark_job(conn, job_id, JobState.STORED))
        except RunAlreadyStored:
            log.info("duplicate bundle of run %s (job %s): already stored", run.run_id, job_id)
            records.log_event(EventKind.DUPLICATE, f"run {run.run_id} was already stored", site=payload["site"],
                              job_id=job_id)
            return
        log.info("stored run %s of %r as #%d (site %s, job %s)", info.run_id, client, info.seq, payload["site"],
                 job_id)
        records.log_event(EventKind.STORED, f"run {info.run_id} stored as #{info.seq}", site=payload["site"],
                          job_id=job_id)

    def _checked_bundle(self, records: FleetRecords, payload: dict[str, Any]) -> tuple[ScanRun, str, str]:
        site = payload.get("site")
        if not isinstance(site, str):
            raise Refused("the bundle names no site")
        try:
            registered = records.site(site)
        except StoreError as exc:
            raise Refused(f"unknown site {site!r}") from exc
        if not verify(payload, registered.public_key):
            raise Refused(f"the signature does not verify with the sensor key registered for site {site!r} "
                          f"({registered.fingerprint})")
        job_id, scan_json = payload.get("job_id"), payload.get("scan_json")
        if not isinstance(job_id, str) or not isinstance(scan_json, str):
            raise Refused("the bundle lacks its job id or scan.json")
        try:
            job = records.job(job_id)
        except StoreError as exc:
            raise Refused(f"no job {job_id!r}") from exc
        if job.site != site:
            raise Refused(f"job {job_id} belongs to site {job.site!r}, not {site!r}")
        if digest(scan_json) != payload.get("digest"):
            raise Refused("scan.json does not hash to the signed digest")
        try:
            run = ScanRun.model_validate_json(scan_json)
        except ValueError as exc:
            raise Refused(f"scan.json is not a gapscan run ({exc.__class__.__name__})") from exc
        if run.run_id != job.run_id or payload.get("run_id") != job.run_id:
            raise Refused(f"run id {run.run_id!r} is not the job's {job.run_id!r}")
        if canonical_text(run) != scan_json:
            raise Refused("scan.json is not in canonical form (was it edited?)")
        scope = job.scope
        got = (list(run.scope.targets), list(run.scope.exclusions), list(run.scope.domains))
        if got != (scope.get("targets", []), scope.get("exclusions", []), scope.get("domains", [])):
            raise Refused(f"the run's scope {got[0]} is not the job's {scope.get('targets')}")
        if run.profile != job.profile.removesuffix(".yaml").rsplit("/", 1)[-1] and run.profile != job.profile:
            raise Refused(f"the run's profile {run.profile!r} is not the job's {job.profile!r}")
        return run, job_id, job.client

    def handle_heartbeat(self, payload: dict[str, Any]) -> None:
        def work(records: FleetRecords) -> None:
            site = payload.get("site")
            try:
                registered = records.site(str(site))
            except StoreError:
                self._refuse(records, EventKind.HEARTBEAT_REFUSED, payload, f"unknown site {site!r}")
                return
            if not verify(payload, registered.public_key):
                self._refuse(records, EventKind.HEARTBEAT_REFUSED, payload, "bad signature")
                return
            records.heartbeat(registered.name, str(payload.get("sent_at")),
                              {"version": payload.get("version"), "state": payload.get("state")})
        self._guarded(lambda: self._with_db(work))

    def handle_refusal(self, payload: dict[str, Any]) -> None:
        def work(records: FleetRecords) -> None:
            site, job_id = payload.get("site"), str(payload.get("job_id"))
            try:
                registered = records.site(str(site))
                job = records.job(job_id)
            except StoreError:
                self._refuse(records, EventKind.REFUSED_BUNDLE, payload, "refusal for an unknown site or job")
                return
            if not verify(payload, registered.public_key) or job.site != registered.name:
                self._refuse(records, EventKind.REFUSED_BUNDLE, payload, "refusal with a bad signature or site")
                return
            reason = str(payload.get("reason"))[:1000]
            log.warning("sensor of site %s REFUSED job %s: %s", registered.name, job_id, reason)
            records.refuse_job(job_id, reason)
            records.log_event(EventKind.JOB_REFUSED_BY_SENSOR, reason, site=registered.name, job_id=job_id)
        self._guarded(lambda: self._with_db(work))

    def run(self) -> None:
        run_worker(self.app, hostname="ingest@centre")
