"""The centre's scheduler: its own loop, not Celery beat.

Why not beat: what is due is already in the database (each client's cadence and the start of
its last stored run), and a job must be a database row before it is a message, so that the
ingest worker can check a bundle against it. Beat keeps its schedule in a local file and would
need a third-party database scheduler to read ours; the loop below is one query and one
publish per due site, restartable at any time: a site with a job still queued is not due again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import Celery

from scanner.fleet.celery_app import job_exchange, publish
from scanner.fleet.topology import TASK_SCAN, site_routing_key
from scanner.history.fleet import FleetRecords, JobRecord, JobState
from scanner.history.store import StoreError

log = logging.getLogger("gapscan.scheduler")


def send_job(records: FleetRecords, app: Celery, site: str, *, scope: dict[str, list[str]] | None = None) -> JobRecord:
    """Create a job row for the site, then publish it to the site's queue (persistent)."""
    job = records.create_job(site, scope=scope)
    try:
        publish(app, TASK_SCAN, job.message(), exchange=job_exchange(declare=False),
                routing_key=site_routing_key(site))
    except Exception as exc:  # the row must not stay queued for a message that never left
        with records.store._tx() as conn:
            records.mark_job(conn, job.job_id, JobState.REFUSED, f"could not publish: {exc.__class__.__name__}")
        raise StoreError(f"job {job.job_id} for site {site} could not be published ({exc.__class__.__name__})",
                         source="broker") from exc
    log.info("queued job %s for site %s (run %s)", job.job_id, site, job.run_id)
    return job


def schedule_once(records: FleetRecords, app: Celery, now: datetime | None = None) -> list[JobRecord]:
    """One pass: a job for every site whose client is due and has none queued."""
    return [send_job(records, app, site.name) for site in records.due_sites(now)]
