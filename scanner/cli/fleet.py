"""gapscan fleet ... (the MSP's centre) and gapscan sensor (a practice's sensor): issue 19, docs/fleet.md."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from scanner.cli.common import EXIT_OK, _exit_with, err
from scanner.cli.listing import emit_line, emit_rows

CONFIG_HELP = "The centre's configuration (centre.yaml: broker, database, rabbitmqctl)"
config_option = typer.Option("--config", help=CONFIG_HELP)

fleet_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                        help="Fleet mode, the MSP's centre: clients, sites and sensors, jobs, ingest, schedule.")


def _logging() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("celery", "kombu", "amqp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _centre(config: Path):  # type: ignore[no-untyped-def]
    from scanner.fleet.config import load_centre_config

    return load_centre_config(config)


def _publisher(cfg):  # type: ignore[no-untyped-def]
    from scanner.fleet.celery_app import ingest_queue, make_app

    return make_app("gapscan-centre", cfg.broker, ingest_queue(declare=True))


@fleet_app.command("init")
def init(config: Annotated[Path, config_option]) -> None:
    """Create the centre's broker user (password from broker.password_file), the vhost, the exchanges
    and the ingest queue, and migrate the history database."""
    from urllib.parse import urlsplit

    from scanner.fleet.broker_admin import declare_topology, ensure_user, ensure_vhost
    from scanner.fleet.topology import CENTRE_PERMISSIONS
    from scanner.history.store import Store

    def work() -> int:
        cfg = _centre(config)
        ensure_vhost(cfg.rabbitmqctl, cfg.vhost)
        user = urlsplit(cfg.broker.url).username or ""
        ensure_user(cfg.rabbitmqctl, user, cfg.broker.password(), cfg.vhost, CENTRE_PERMISSIONS)
        with Store.open(cfg.db) as store:
            from scanner.history.fleet import FleetRecords

            sites = [s.name for s in FleetRecords(store).sites()]
            shown = store.url
        declare_topology(_publisher(cfg), sites)
        err.print(f"centre ready: broker user {user} on vhost {cfg.vhost}, history {shown}", highlight=False)
        return EXIT_OK

    _exit_with(work)


@fleet_app.command("add-client")
def add_client(
    client: Annotated[str, typer.Argument(help="The practice's name (as in gapscan scan --client)")],
    config: Annotated[Path, config_option],
    cadence_days: Annotated[int, typer.Option("--cadence-days", help="Days between scans (overdue at this or 182)")]
    = 30,
) -> None:
    """Add a client (or change its cadence): monthly by default."""
    from scanner.history.fleet import FleetRecords
    from scanner.history.store import Store

    def work() -> int:
        cfg = _centre(config)
        with Store.open(cfg.db) as store:
            FleetRecords(store).add_client(client, cadence_days)
        err.print(f"client {client!r}: a scan every {cadence_days} day(s)", highlight=False)
        return EXIT_OK

    _exit_with(work)


@fleet_app.command("add-site")
def add_site(
    site: Annotated[str, typer.Argument(help="Site name: lower-case letters, digits and '-'")],
    config: Annotated[Path, config_option],
    client: Annotated[str, typer.Option("--client", help="The client the site belongs to")],
    sensor_key: Annotated[Path, typer.Option("--sensor-key", help="The sensor's Ed25519 public key (PEM or hex)")],
    target: Annotated[list[str], typer.Option("--target", help="What the site's jobs scan (address, CIDR, range)")],
    password_out: Annotated[Path, typer.Option("--password-out",
                                               help="Where to write the sensor's new broker password (0600)")],
    profile: Annotated[str, typer.Option("--profile", help="The profile of the site's jobs")] = "onboarding",
    domain: Annotated[list[str] | None, typer.Option("--domain", help="Domains the site's jobs check")] = None,
) -> None:
    """Add a site: its broker user (read only its job queue, write only the result exchange), its
    durable job queue, and its sensor's public key; the broker password goes to --password-out."""
    from scanner.config.profiles import shipped_profiles
    from scanner.fleet.broker_admin import declare_topology, delete_user, ensure_user, new_password
    from scanner.fleet.topology import site_permissions, site_user
    from scanner.history.fleet import SITE_NAME, FleetRecords, scope_of
    from scanner.history.signing import read_public_key, write_new_file
    from scanner.history.store import Store, StoreError

    def work() -> int:
        cfg = _centre(config)
        if not SITE_NAME.fullmatch(site):
            raise StoreError("a site name is lower-case letters, digits and '-'", source="SITE")
        if profile not in shipped_profiles():  # the sensor has none of the centre's files
            raise StoreError(f"a site's profile is a shipped profile name ({', '.join(sorted(shipped_profiles()))})",
                             source="--profile")
        public = read_public_key(sensor_key.read_text(), str(sensor_key))
        with Store.open(cfg.db) as store:
            records = FleetRecords(store)
            if site in {s.name for s in records.sites()}:
                raise StoreError(f"site {site!r} exists already", source="SITE")
            password = new_password()
            write_new_file(password_out, (password + "\n").encode(), what="a password file")
            perms = site_permissions(site)
            ensure_user(cfg.rabbitmqctl, site_user(site), password, cfg.vhost, perms)
            try:
                declare_topology(_publisher(cfg), [site])
                records.add_site(site, client, public, profile, scope_of(target, (), domain or ()))
            except BaseException:
                delete_user(cfg.rabbitmqctl, site_user(site))
                password_out.unlink(missing_ok=True)
                raise
        err.print(f"site {site} of {client!r}: broker user {site_user(site)} "
                  f"(configure {perms.configure!r}, write {perms.write!r}, read {perms.read!r}); "
                  f"password in {password_out}", highlight=False)
        return EXIT_OK

    _exit_with(work)


@fleet_app.command("run-job")
def run_job(
    site: Annotated[str, typer.Argument(help="The site to scan now")],
    config: Annotated[Path, config_option],
    target: Annotated[list[str] | None, typer.Option("--target", help="Scan this instead of the site's scope")]
    = None,
) -> None:
    """Queue a job for a site now, whatever its schedule says (its own scope unless --target)."""
    from scanner.fleet.scheduler import send_job
    from scanner.history.fleet import FleetRecords, scope_of
    from scanner.history.store import Store

    def work() -> int:
        cfg = _centre(config)
        with Store.open(cfg.db) as store:
            scope = scope_of(target) if target else None
            job = send_job(FleetRecords(store), _publisher(cfg), site, scope=scope)
        emit_line(job.job_id)
        return EXIT_OK

    _exit_with(work)


@fleet_app.command("schedule")
def schedule(
    config: Annotated[Path, config_option],
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (a systemd timer's way)")] = False,
) -> None:
    """Queue a job for every site whose client is due; loops every schedule_seconds unless --once."""
    from scanner.fleet.scheduler import schedule_once
    from scanner.history.fleet import FleetRecords
    from scanner.history.store import Store

    def work() -> int:
        _logging()
        cfg = _centre(config)
        app = _publisher(cfg)
        while True:
            with Store.open(cfg.db) as store:
                jobs = schedule_once(FleetRecords(store), app)
            err.print(f"queued {len(jobs)} job(s)", highlight=False)
            if once:
                return EXIT_OK
            time.sleep(cfg.schedule_seconds)

    _exit_with(work)


@fleet_app.command("ingest")
def ingest(config: Annotated[Path, config_option]) -> None:
    """Run the ingest worker: verify each bundle and store it in the history database."""
    from scanner.fleet.ingest import Ingest

    def work() -> int:
        _logging()
        Ingest(_centre(config)).run()
        return EXIT_OK

    _exit_with(work)


@fleet_app.command("status")
def status(config: Annotated[Path, config_option]) -> None:
    """Clients (last scan, due, overdue) and sites (sensor key, last heartbeat)."""
    from scanner.history.fleet import FleetRecords
    from scanner.history.store import Store

    def work() -> int:
        cfg = _centre(config)
        with Store.open(cfg.db) as store:
            records = FleetRecords(store)
            clients = records.client_status()
            sites = records.sites()
        emit_rows("clients", ("client", "cadence", "last scan", "due", "overdue"),
                  [(c.client, f"{c.cadence_days} d", c.last_scan or "never", c.due_at.isoformat()[:16],
                    "OVERDUE" if c.overdue else "") for c in clients])
        emit_rows("sites", ("site", "client", "sensor key", "last heartbeat"),
                  [(s.name, s.client, s.fingerprint, s.last_heartbeat_at or "never") for s in sites])
        return EXIT_OK

    _exit_with(work)


@fleet_app.command("hash-password")
def hash_password_cmd() -> None:
    """Read a console password on stdin and print its scrypt hash (for the --console-users file)."""
    from scanner.web.console.passwords import hash_password

    def work() -> int:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            from scanner.errors import InputError

            raise InputError("no password on stdin", source="stdin")
        emit_line(hash_password(password))
        return EXIT_OK

    _exit_with(work)


def sensor(
    config: Annotated[Path, typer.Option("--config", help="The sensor's configuration (sensor.yaml)")],
) -> None:
    """Run a site sensor: a Celery worker on its site's job queue (see docs/fleet.md)."""
    from scanner.fleet.config import load_sensor_config
    from scanner.fleet.sensor import Sensor

    def work() -> int:
        _logging()
        Sensor(load_sensor_config(config)).run()
        return EXIT_OK

    _exit_with(work)
