"""Broker administration for ``gapscan fleet``: users and permissions with ``rabbitmqctl``, and the
queues and exchanges declared once by the centre."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Sequence

from celery import Celery

from scanner.errors import InputError
from scanner.fleet.celery_app import ingest_queue, job_queue
from scanner.fleet.topology import Permissions

CTL_TIMEOUT = 60.0


class BrokerError(InputError):
    """rabbitmqctl or the broker refused; the message says which command (never a password)."""


def new_password() -> str:
    return secrets.token_urlsafe(32)


def rabbitmqctl(prefix: Sequence[str], args: Sequence[str], *, stdin: str | None = None,
                shown: str | None = None) -> str:
    what = shown or " ".join(args[:2])
    try:
        done = subprocess.run([*prefix, *args], input=stdin, capture_output=True, text=True, timeout=CTL_TIMEOUT,
                              stdin=None if stdin is not None else subprocess.DEVNULL, check=False)
    except FileNotFoundError as exc:
        raise BrokerError(f"rabbitmqctl not found ({prefix[0]}); set rabbitmqctl in the centre config",
                          source="rabbitmqctl") from exc
    except subprocess.TimeoutExpired as exc:
        raise BrokerError(f"rabbitmqctl {what} did not answer within {CTL_TIMEOUT:.0f} s",
                          source="rabbitmqctl") from exc
    if done.returncode != 0:
        raise BrokerError(f"rabbitmqctl {what} failed: {(done.stderr or done.stdout).strip()[-300:]}",
                          source="rabbitmqctl")
    return done.stdout


def ensure_user(prefix: Sequence[str], user: str, password: str, vhost: str, permissions: Permissions) -> None:
    """Create (or re-password) a broker user and set its permissions on the vhost. The password goes
    through stdin, never the command line (other users can read a process's argv)."""
    users = rabbitmqctl(prefix, ["list_users", "--quiet", "--no-table-headers"])
    if user in {line.split()[0] for line in users.splitlines() if line.strip()}:
        rabbitmqctl(prefix, ["change_password", user], stdin=password + "\n", shown=f"change_password {user}")
    else:
        rabbitmqctl(prefix, ["add_user", user], stdin=password + "\n", shown=f"add_user {user}")
    rabbitmqctl(prefix, permissions.argv(vhost, user), shown=f"set_permissions {user}")


def delete_user(prefix: Sequence[str], user: str) -> None:
    rabbitmqctl(prefix, ["delete_user", user])


def ensure_vhost(prefix: Sequence[str], vhost: str) -> None:
    vhosts = rabbitmqctl(prefix, ["list_vhosts", "--quiet", "--no-table-headers"])
    if vhost not in {line.strip() for line in vhosts.splitlines()}:
        rabbitmqctl(prefix, ["add_vhost", vhost])


def declare_topology(app: Celery, sites: Sequence[str] = ()) -> None:
    """Declare the exchanges, the ingest queue and each site's job queue (durable), as the centre."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        ingest_queue(declare=True)(channel).declare()
        for site in sites:
            job_queue(site, declare=True)(channel).declare()
