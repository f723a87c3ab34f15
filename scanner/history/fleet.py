"""The fleet's records in the history store: MSP clients with their cadence, sites, jobs, ingest log.

Runs themselves are stored exactly as a local scan's are (``Store.store_run``: same hash chain,
same signatures, same anchors); these tables only say who may report what, and when a client is
due. A site is a practice location with one sensor, whose Ed25519 public key is registered here
when the site is added: the ingest worker checks every bundle against it.

Cadence (issue 19): monthly (30 days) by default; a client is *due* when its last run is older
than the cadence, and *overdue* past the cadence or past six months (182 days), whichever comes
first: the proposed HIPAA Security Rule update (January 2025) asks for a vulnerability scan at
least every six months, so a longer cadence is still overdue at six months.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from scanner.history.schema import clients, fleet_clients, fleet_events, fleet_jobs, fleet_sites, runs
from scanner.history.signing import key_fingerprint
from scanner.history.store import Store, StoreError
from scanner.models import utcnow

DEFAULT_CADENCE_DAYS = 30
SIX_MONTHS_DAYS = 182
SITE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # a broker user name and a queue name are built from it


class JobState(StrEnum):
    QUEUED = "queued"
    STORED = "stored"
    REFUSED = "refused"


class EventKind(StrEnum):
    """What the ingest worker logged about a message (also written to its log)."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    REFUSED_BUNDLE = "refused_bundle"  # unknown site, bad signature, wrong site, scope outside the job
    JOB_REFUSED_BY_SENSOR = "job_refused_by_sensor"  # the sensor's allowed networks did not cover the job
    HEARTBEAT_REFUSED = "heartbeat_refused"


@dataclass(frozen=True)
class SiteRecord:
    name: str
    client: str
    public_key: str  # hex
    fingerprint: str
    profile: str
    scope: dict[str, list[str]]
    created_at: str
    last_heartbeat_at: str | None


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    run_id: str
    site: str
    client: str
    profile: str
    scope: dict[str, list[str]]
    state: JobState
    detail: str | None
    created_at: str

    def message(self) -> dict[str, Any]:
        """What the sensor receives (JSON): everything it needs, nothing secret."""
        return {"job_id": self.job_id, "run_id": self.run_id, "site": self.site, "client": self.client,
                "profile": self.profile, "targets": self.scope.get("targets", []),
                "exclusions": self.scope.get("exclusions", []), "domains": self.scope.get("domains", [])}


@dataclass(frozen=True)
class ClientStatus:
    """One client's schedule: when it was last scanned, when it is due, whether it is overdue."""

    client: str
    cadence_days: int
    last_scan: str | None
    due_at: datetime
    overdue_at: datetime
    overdue: bool


def scope_of(targets: Sequence[str], exclusions: Sequence[str] = (),
             domains: Sequence[str] = ()) -> dict[str, list[str]]:
    return {"targets": list(targets), "exclusions": list(exclusions), "domains": list(domains)}


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


class FleetRecords:
    """The fleet tables of one open history store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- clients and sites -------------------------------------------------------------------

    def add_client(self, name: str, cadence_days: int = DEFAULT_CADENCE_DAYS) -> None:
        if not name.strip() or len(name) > 200:
            raise StoreError("a client name is 1 to 200 characters", source="CLIENT")
        if not 1 <= cadence_days <= 366:
            raise StoreError("the cadence is 1 to 366 days", source="--cadence-days")
        now = utcnow().isoformat()
        with self.store._tx() as conn:
            pk = conn.execute(select(clients.c.id).where(clients.c.name == name)).scalar()
            if pk is None:
                pk = conn.execute(insert(clients).values(name=name, created_at=now)).inserted_primary_key[0]  # type: ignore[index]
            if conn.execute(select(fleet_clients.c.id).where(fleet_clients.c.client_id == pk)).first() is None:
                conn.execute(insert(fleet_clients).values(client_id=pk, cadence_days=cadence_days, created_at=now))
            else:
                conn.execute(update(fleet_clients).where(fleet_clients.c.client_id == pk)
                             .values(cadence_days=cadence_days))

    def add_site(self, name: str, client: str, public_key: bytes, profile: str,
                 scope: dict[str, list[str]]) -> SiteRecord:
        if not SITE_NAME.fullmatch(name):
            raise StoreError("a site name is lower-case letters, digits and '-' (up to 63), starting with a letter "
                             "or digit", source="SITE")
        if not scope.get("targets") and not scope.get("domains"):
            raise StoreError("a site needs its scope: --target (and/or --domain)", source="--target")
        with self.store._tx() as conn:
            pk = self._fleet_client(conn, client)
            if conn.execute(select(fleet_sites.c.id).where(fleet_sites.c.name == name)).first() is not None:
                raise StoreError(f"site {name!r} exists already", source="SITE")
            conn.execute(insert(fleet_sites).values(
                name=name, client_id=pk, sensor_public_key=public_key.hex(),
                sensor_fingerprint=key_fingerprint(public_key), profile=profile, scope_json=json.dumps(scope),
                created_at=utcnow().isoformat()))
        return self.site(name)

    def _fleet_client(self, conn: Connection, client: str) -> int:
        pk = conn.execute(select(clients.c.id).join(fleet_clients, fleet_clients.c.client_id == clients.c.id)
                          .where(clients.c.name == client)).scalar()
        if pk is None:
            raise StoreError(f"no fleet client {client!r} (gapscan fleet add-client first)", source="--client")
        return int(pk)

    def site(self, name: str) -> SiteRecord:
        found = [s for s in self.sites() if s.name == name]
        if not found:
            raise StoreError(f"no site {name!r}", source="SITE")
        return found[0]

    def sites(self) -> list[SiteRecord]:
        with self.store._tx() as conn:
            rows = conn.execute(select(fleet_sites, clients.c.name.label("client_name"))
                                .join(clients, clients.c.id == fleet_sites.c.client_id)
                                .order_by(fleet_sites.c.name)).all()
        return [SiteRecord(name=r.name, client=r.client_name, public_key=r.sensor_public_key,
                           fingerprint=r.sensor_fingerprint, profile=r.profile, scope=json.loads(r.scope_json),
                           created_at=r.created_at, last_heartbeat_at=r.last_heartbeat_at) for r in rows]

    def heartbeat(self, site: str, sent_at: str, payload: dict[str, Any]) -> None:
        with self.store._tx() as conn:
            conn.execute(update(fleet_sites).where(fleet_sites.c.name == site)
                         .values(last_heartbeat_at=sent_at, last_heartbeat_json=json.dumps(payload)))

    # -- jobs --------------------------------------------------------------------------------

    def create_job(self, site: str, *, profile: str | None = None,
                   scope: dict[str, list[str]] | None = None) -> JobRecord:
        record = self.site(site)
        job_id = uuid.uuid4().hex
        now = utcnow()
        run_id = f"{now:%Y%m%dT%H%M%SZ}-{job_id[:8]}"
        with self.store._tx() as conn:
            site_pk = conn.execute(select(fleet_sites.c.id).where(fleet_sites.c.name == site)).scalar_one()
            conn.execute(insert(fleet_jobs).values(
                job_id=job_id, run_id=run_id, site_id=site_pk, profile=profile or record.profile,
                scope_json=json.dumps(scope or record.scope), state=JobState.QUEUED.value, detail=None,
                created_at=now.isoformat(), updated_at=now.isoformat()))
        return self.job(job_id)

    def job(self, job_id: str) -> JobRecord:
        with self.store._tx() as conn:
            rows = self._jobs(conn, job_id=job_id)
        if not rows:
            raise StoreError(f"no job {job_id!r}", source="job")
        return rows[0]

    def jobs(self, site: str | None = None) -> list[JobRecord]:
        with self.store._tx() as conn:
            return self._jobs(conn, site=site)

    def _jobs(self, conn: Connection, *, job_id: str | None = None, site: str | None = None) -> list[JobRecord]:
        query = (select(fleet_jobs, fleet_sites.c.name.label("site_name"), clients.c.name.label("client_name"))
                 .join(fleet_sites, fleet_sites.c.id == fleet_jobs.c.site_id)
                 .join(clients, clients.c.id == fleet_sites.c.client_id).order_by(fleet_jobs.c.id))
        if job_id is not None:
            query = query.where(fleet_jobs.c.job_id == job_id)
        if site is not None:
            query = query.where(fleet_sites.c.name == site)
        return [JobRecord(job_id=r.job_id, run_id=r.run_id, site=r.site_name, client=r.client_name,
                          profile=r.profile, scope=json.loads(r.scope_json), state=JobState(r.state),
                          detail=r.detail, created_at=r.created_at) for r in conn.execute(query).all()]

    @staticmethod
    def mark_job(conn: Connection, job_id: str, state: JobState, detail: str | None = None) -> None:
        """Inside a caller's transaction (``Store.store_run(also=...)``): the job's new state."""
        conn.execute(update(fleet_jobs).where(fleet_jobs.c.job_id == job_id)
                     .values(state=state.value, detail=detail, updated_at=utcnow().isoformat()))

    def refuse_job(self, job_id: str, detail: str) -> None:
        with self.store._tx() as conn:
            self.mark_job(conn, job_id, JobState.REFUSED, detail)

    # -- the ingest log ----------------------------------------------------------------------

    def log_event(self, kind: EventKind, detail: str, *, site: str | None = None, job_id: str | None = None) -> None:
        with self.store._tx() as conn:
            conn.execute(insert(fleet_events).values(at=utcnow().isoformat(), site=site, kind=kind.value,
                                                     job_id=job_id, detail=detail[:2000]))

    def events(self, kind: EventKind | None = None) -> list[dict[str, Any]]:
        query = select(fleet_events).order_by(fleet_events.c.id)
        if kind is not None:
            query = query.where(fleet_events.c.kind == kind.value)
        with self.store._tx() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    # -- schedule ----------------------------------------------------------------------------

    def client_status(self, now: datetime | None = None) -> list[ClientStatus]:
        """Every fleet client's schedule (see the module docstring for due and overdue)."""
        now = now or utcnow()
        last_run = (select(func.max(runs.c.started_at)).where(runs.c.client_id == clients.c.id)
                    .correlate(clients).scalar_subquery())
        with self.store._tx() as conn:
            rows = conn.execute(select(clients.c.name, fleet_clients.c.cadence_days, fleet_clients.c.created_at,
                                       last_run.label("last_run"))
                                .join(fleet_clients, fleet_clients.c.client_id == clients.c.id)
                                .order_by(clients.c.name)).all()
        out = []
        for r in rows:
            since = _parse(r.last_run) if r.last_run else _parse(r.created_at)
            due = since + timedelta(days=r.cadence_days) if r.last_run else since
            overdue_at = since + timedelta(days=min(r.cadence_days, SIX_MONTHS_DAYS))
            out.append(ClientStatus(client=r.name, cadence_days=r.cadence_days, last_scan=r.last_run, due_at=due,
                                    overdue_at=overdue_at, overdue=now > overdue_at))
        return out

    def due_sites(self, now: datetime | None = None) -> list[SiteRecord]:
        """Sites of due clients that have no job waiting (queued) already."""
        now = now or utcnow()
        due = {c.client for c in self.client_status(now) if now >= c.due_at}
        waiting = {j.site for j in self.jobs() if j.state is JobState.QUEUED}
        return [s for s in self.sites() if s.client in due and s.name not in waiting]
