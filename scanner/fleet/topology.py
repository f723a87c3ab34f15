"""Names on the broker, and the permissions each party gets (``rabbitmqctl set_permissions``).

One vhost (``gapscan``). The centre publishes each job to the direct exchange ``gapscan.jobs``
with routing key ``site.<site>``; it is bound to the durable queue ``gapscan.site.<site>``, the
only queue that site's sensor may read. Sensors publish bundles, refusals and heartbeats to the
direct exchange ``gapscan.results`` (routing key ``result``), bound to the durable queue
``gapscan.ingest`` that only the centre reads. Every queue and exchange is declared by the centre
(``gapscan fleet init``/``add-site``); a sensor declares nothing.

RabbitMQ checks three regular expressions per user and vhost (configure, write, read) against
resource names (https://www.rabbitmq.com/access-control.html): consuming needs *read* on the
queue, publishing needs *write* on the exchange, declaring needs *configure*. A site's sensor:

    configure  ^$                          (nothing: it may not declare, delete or bind)
    write      ^gapscan\\.results$          (publish only to the result exchange)
    read       ^gapscan\\.site\\.SITE$       (consume only its own job queue)
"""

from __future__ import annotations

from dataclasses import dataclass

VHOST = "gapscan"
JOB_EXCHANGE = "gapscan.jobs"
RESULT_EXCHANGE = "gapscan.results"
INGEST_QUEUE = "gapscan.ingest"
RESULT_ROUTING_KEY = "result"
CENTRE_USER = "gapscan-centre"

# Celery task names (the messages are Celery task messages, JSON only).
TASK_SCAN = "gapscan.fleet.scan"
TASK_BUNDLE = "gapscan.fleet.bundle"
TASK_HEARTBEAT = "gapscan.fleet.heartbeat"
TASK_REFUSAL = "gapscan.fleet.refusal"


def site_queue(site: str) -> str:
    return f"gapscan.site.{site}"


def site_routing_key(site: str) -> str:
    return f"site.{site}"


def site_user(site: str) -> str:
    return f"sensor-{site}"


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str

    def argv(self, vhost: str, user: str) -> list[str]:
        return ["set_permissions", "-p", vhost, user, self.configure, self.write, self.read]


def site_permissions(site: str) -> Permissions:
    """A sensor's rights: read its own job queue, write the result exchange, configure nothing.
    (Site names are ``[a-z0-9-]``: no regular-expression character to escape but the dots.)"""
    return Permissions(configure="^$", write=r"^gapscan\.results$", read=rf"^gapscan\.site\.{site}$")


# The centre declares every gapscan resource, publishes jobs and reads the ingest queue.
CENTRE_PERMISSIONS = Permissions(configure=r"^gapscan\..*", write=r"^gapscan\..*", read=r"^gapscan\..*")
