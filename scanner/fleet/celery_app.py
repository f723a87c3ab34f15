"""The Celery application both sides use: JSON only (never pickle), late acknowledgement,
durable queues, persistent messages, publisher confirms, no remote control and no events.

A sensor's broker user may not declare anything (``topology.site_permissions``), so every queue
and exchange here is ``no_declare`` on the sensor side; the centre declares them
(``broker_admin.declare_topology``). Remote control (the ``celery.pidbox`` exchange), worker
events (``celeryev``), gossip and mingle would each need resources a sensor has no right to.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from scanner.fleet.config import BrokerSettings
from scanner.fleet.topology import (
    INGEST_QUEUE,
    JOB_EXCHANGE,
    RESULT_EXCHANGE,
    RESULT_ROUTING_KEY,
    site_queue,
    site_routing_key,
)

# Publishing waits out a broker restart: up to ~2 minutes of reconnects before it gives up.
PUBLISH_RETRY = {"max_retries": 40, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 3.0}


def job_exchange(*, declare: bool) -> Exchange:
    return Exchange(JOB_EXCHANGE, type="direct", durable=True, delivery_mode=2, no_declare=not declare)


def result_exchange(*, declare: bool) -> Exchange:
    return Exchange(RESULT_EXCHANGE, type="direct", durable=True, delivery_mode=2, no_declare=not declare)


def job_queue(site: str, *, declare: bool) -> Queue:
    return Queue(site_queue(site), job_exchange(declare=declare), routing_key=site_routing_key(site),
                 durable=True, no_declare=not declare)


def ingest_queue(*, declare: bool) -> Queue:
    return Queue(INGEST_QUEUE, result_exchange(declare=declare), routing_key=RESULT_ROUTING_KEY, durable=True,
                 no_declare=not declare)


def make_app(name: str, broker: BrokerSettings, queue: Queue) -> Celery:
    app = Celery(name, broker=broker.connection_url(), set_as_current=False)
    settings: dict[str, Any] = {
        "task_serializer": "json", "accept_content": ["json"], "result_serializer": "json",
        "event_serializer": "json", "result_accept_content": ["json"],
        "task_ignore_result": True, "result_backend": None,
        "broker_use_ssl": broker.ssl_options(),
        "broker_connection_retry_on_startup": True, "broker_connection_max_retries": None,
        "broker_transport_options": {"confirm_publish": True},
        "broker_heartbeat": 30,
        "task_acks_late": True, "task_reject_on_worker_lost": True, "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1, "worker_concurrency": 1,
        "worker_enable_remote_control": False, "worker_send_task_events": False, "task_send_sent_event": False,
        "worker_hijack_root_logger": False, "worker_redirect_stdouts": False,
        "task_queues": [queue], "task_default_queue": queue.name, "task_create_missing_queues": False,
        "task_default_delivery_mode": "persistent",
        "task_publish_retry": True, "task_publish_retry_policy": PUBLISH_RETRY,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }
    app.conf.update(settings)
    return app


def publish(app: Celery, task: str, payload: dict[str, Any], *, exchange: Exchange, routing_key: str) -> None:
    """Send one task message (JSON, persistent, confirmed by the broker) without declaring anything."""
    app.send_task(task, kwargs={"payload": payload}, exchange=exchange, routing_key=routing_key, declare=[],
                  serializer="json", delivery_mode=2, retry=True, retry_policy=PUBLISH_RETRY)


def run_worker(app: Celery, *, hostname: str, loglevel: str = "INFO") -> None:
    """Run a worker on the app's one queue, in this process (threads pool, one job at a time)."""
    worker = app.Worker(hostname=hostname, pool="threads", concurrency=1, loglevel=loglevel,
                        without_gossip=True, without_mingle=True, without_heartbeat=True, optimization="fair",
                        quiet=True)
    worker.start()
