"""What the console shows, computed from the history store and the fleet's records (no I/O else).

Per client: the last scan, its open gaps by severity (FAIL results of the newest run, less those
with a standing accepted/declined decision), a trend of open gaps over the last runs, overdue
(``scanner.history.fleet``: past the cadence or six months), decisions that expire within 30
days, and sensors not heard from (no heartbeat for 48 hours, or never).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from scanner.history.decisions import Decision, latest
from scanner.history.drift import Drift, compare
from scanner.history.fleet import ClientStatus, FleetRecords, JobRecord, SiteRecord
from scanner.history.store import RunInfo, Store
from scanner.models import ScanRun, Severity, Status, utcnow

TREND_RUNS = 12
EXPIRY_DAYS = 30
SILENT_AFTER = timedelta(hours=48)
SEVERITIES = tuple(s.value for s in Severity)


@dataclass(frozen=True)
class ClientRow:
    client: str
    last_scan: str | None
    gaps: dict[str, int]  # severity -> open gaps in the newest run
    trend: tuple[int, ...]  # open gaps per run, oldest first
    status: ClientStatus | None  # None: not a fleet client (scanned locally only)
    expiring: tuple[Decision, ...]
    silent_sites: tuple[SiteRecord, ...]

    @property
    def open_total(self) -> int:
        return sum(self.gaps.values())


def _open_gaps(run: ScanRun, decided: dict[str, Decision], today: date) -> dict[str, int]:
    gaps = dict.fromkeys(SEVERITIES, 0)
    for r in run.results:
        if r.status is not Status.FAIL:
            continue
        standing = decided.get(r.fingerprint) or decided.get(r.check_id)
        if standing is not None and not standing.expired(today) and standing.decision.value != "reopened":
            continue
        gaps[r.severity.value] += 1
    return gaps


def expiring(decisions: list[Decision], today: date) -> tuple[Decision, ...]:
    return tuple(d for d in latest(decisions).values()
                 if d.until is not None and today <= d.until <= today + timedelta(days=EXPIRY_DAYS))


def silent(sites: list[SiteRecord], now: datetime) -> tuple[SiteRecord, ...]:
    return tuple(s for s in sites if s.last_heartbeat_at is None
                 or now - datetime.fromisoformat(s.last_heartbeat_at) > SILENT_AFTER)


def client_row(store: Store, client: str, status: ClientStatus | None, sites: list[SiteRecord],
               today: date, now: datetime) -> ClientRow:
    infos = store.list_runs(client)
    decisions = store.decisions(client)
    decided = latest(decisions)
    recent = [store.load_run(i.run_id) for i in infos[-TREND_RUNS:]]
    trend = tuple(sum(_open_gaps(r, decided, today).values()) for r in recent)
    gaps = _open_gaps(recent[-1], decided, today) if recent else dict.fromkeys(SEVERITIES, 0)
    return ClientRow(client=client, last_scan=infos[-1].started_at if infos else None, gaps=gaps, trend=trend,
                     status=status, expiring=expiring(decisions, today),
                     silent_sites=silent([s for s in sites if s.client == client], now))


def portfolio(store: Store, today: date) -> list[ClientRow]:
    records = FleetRecords(store)
    now = utcnow()
    statuses = {s.client: s for s in records.client_status(now)}
    sites = records.sites()
    names = sorted(set(store.clients()) | set(statuses))
    return [client_row(store, name, statuses.get(name), sites, today, now) for name in names]


@dataclass(frozen=True)
class ClientDetail:
    row: ClientRow
    runs: list[RunInfo]
    drift: Drift | None
    decisions: list[Decision]
    sites: list[SiteRecord]
    jobs: list[JobRecord]


def client_detail(store: Store, client: str, today: date) -> ClientDetail:
    records = FleetRecords(store)
    now = utcnow()
    statuses = {s.client: s for s in records.client_status(now)}
    sites = [s for s in records.sites() if s.client == client]
    runs = store.list_runs(client)
    drift = compare(store.load_run(runs[-2].run_id), store.load_run(runs[-1].run_id)) if len(runs) >= 2 else None
    jobs = [j for j in records.jobs() if j.client == client][-20:]
    return ClientDetail(row=client_row(store, client, statuses.get(client), sites, today, now), runs=runs,
                        drift=drift, decisions=list(latest(store.decisions(client)).values()), sites=sites,
                        jobs=list(reversed(jobs)))


def sparkline(values: tuple[int, ...], width: int = 120, height: int = 24) -> str:
    """SVG polyline points for the trend (drawn by the template; no script)."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values))
