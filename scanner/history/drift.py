"""Drift between two runs: what is new, resolved, persisting, regressed or changed.

Findings are followed by fingerprint (check id + target + discriminator), so the comparison
holds across rescans whatever the times, banners or versions. Pure: the store or the CLI gives
the two runs and, for *regressed*, the client's earlier runs.

Classes of a fingerprint (A = the older run, B = the newer):
- ``new``: fails in B, did not fail in A and never failed before;
- ``regressed``: fails in B, did not fail in A, but failed in an earlier run (it had been resolved);
- ``persisting``: fails in A and in B;
- ``resolved``: failed in A, passes in B;
- ``not_retested``: failed in A, but B has no pass for it (error, skipped or absent): never
  counted as resolved, since an untested gap is not a fixed one. One exception, for findings of
  a *listening* check (a host heard announcing a consumer sync client: ``cloudsync.syncthing``,
  ``cloudsync.dropbox_lansync``, ``cloudsync.resilio``): silence is its pass. Such a per-host
  finding of A is ``resolved`` when B listened (its network-level result of that check passed or
  failed, with passive-capture evidence) for at least as long as A did, over a scope that
  includes the host, and did not hear it; otherwise it stays ``not_retested``;
- ``changed_evidence``: passes in A and B, with a different detail or evidence.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from scanner.models import CheckResult, ScanRun, ScopeRecord, Status
from scanner.scope.targets import Scope, ScopeEntry, parse_entry

CLASSES = ("new", "regressed", "persisting", "resolved", "not_retested", "changed_evidence")


@dataclass(frozen=True)
class DriftItem:
    """One fingerprint that changed class (or persisted) between the two runs."""

    kind: str
    fingerprint: str
    check_id: str
    severity: str
    target: str
    before: str | None  # status in A
    after: str | None  # status in B
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"class": self.kind, "fingerprint": self.fingerprint, "check_id": self.check_id,
                "severity": self.severity, "target": self.target, "before": self.before, "after": self.after,
                "detail": self.detail}


@dataclass(frozen=True)
class Drift:
    """The comparison of run A (older) with run B (newer)."""

    run_a: str
    run_b: str
    items: tuple[DriftItem, ...]
    hosts_appeared: tuple[str, ...] = ()
    hosts_vanished: tuple[str, ...] = ()
    services_appeared: tuple[str, ...] = ()
    services_vanished: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)

    def of(self, kind: str) -> list[DriftItem]:
        return [i for i in self.items if i.kind == kind]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a, "run_b": self.run_b, "counts": self.counts,
            "findings": [i.as_dict() for i in self.items],
            "hosts": {"appeared": list(self.hosts_appeared), "vanished": list(self.hosts_vanished)},
            "services": {"appeared": list(self.services_appeared), "vanished": list(self.services_vanished)},
        }


def _observation(result: CheckResult) -> tuple[Any, ...]:
    """What was observed, without the collection times (which always change)."""
    return (result.detail, tuple((e.kind, e.summary, repr(sorted(e.data.items()))) for e in result.evidence))


def _services(run: ScanRun) -> set[str]:
    return {f"{h.address}:{s.port}/{s.transport.value}" for h in run.hosts for s in h.services}


def compare(run_a: ScanRun, run_b: ScanRun, earlier: Sequence[ScanRun] = ()) -> Drift:
    """Classify every fingerprint of A and B. ``earlier``: the client's runs before A (for regressed)."""
    a = {r.fingerprint: r for r in run_a.results}
    b = {r.fingerprint: r for r in run_b.results}
    failed_before = {r.fingerprint for run in earlier for r in run.results if r.status is Status.FAIL}
    items: list[DriftItem] = []
    for fp in sorted(set(a) | set(b)):
        ra, rb = a.get(fp), b.get(fp)
        kind = _classify(ra, rb, fp in failed_before)
        if kind is None:
            continue
        shown = rb or ra
        assert shown is not None
        after, detail = (rb.status.value if rb else None), shown.detail
        silence = _unheard(ra, run_b) if kind == "not_retested" and rb is None and ra is not None else None
        if silence is not None:
            kind, after, detail = "resolved", "not heard", silence
        items.append(DriftItem(kind=kind, fingerprint=fp, check_id=shown.check_id, severity=shown.severity.value,
                               target=shown.target.label(), before=ra.status.value if ra else None,
                               after=after, detail=detail))
    order = {k: i for i, k in enumerate(CLASSES)}
    items.sort(key=lambda i: (order[i.kind], i.check_id, i.target))
    hosts_a = {h.address for h in run_a.hosts}
    hosts_b = {h.address for h in run_b.hosts}
    svc_a, svc_b = _services(run_a), _services(run_b)
    return Drift(
        run_a=run_a.run_id, run_b=run_b.run_id, items=tuple(items),
        hosts_appeared=tuple(sorted(hosts_b - hosts_a)), hosts_vanished=tuple(sorted(hosts_a - hosts_b)),
        services_appeared=tuple(sorted(svc_b - svc_a)), services_vanished=tuple(sorted(svc_a - svc_b)),
        counts={k: sum(1 for i in items if i.kind == k) for k in CLASSES},
    )


def _passive(result: CheckResult) -> dict[str, Any] | None:
    """The passive-capture evidence of a network-level result (a listening check), if any."""
    if result.target.host is not None:
        return None
    for evidence in result.evidence:
        if evidence.kind == "passive-capture" and isinstance(evidence.data.get("window_s"), int | float):
            return evidence.data
    return None


def _entry(text: str, names: dict[str, tuple[str, ...]]) -> ScopeEntry:
    """One recorded scope entry; a host name stands for the addresses the run recorded for it
    (``scope.resolved_names``): names are never resolved again after the fact."""
    entry = parse_entry(text)
    if entry.hostname is None:
        return entry
    return replace(entry, networks=tuple(ipaddress.ip_network(a) for a in names.get(entry.hostname, ())))


def _covers(scope: ScopeRecord, address: str) -> bool:
    """Whether a run's recorded scope includes an address."""
    try:
        targets = tuple(_entry(t, scope.resolved_names) for t in scope.targets)
        exclusions = tuple(_entry(t, scope.resolved_names) for t in scope.exclusions)
    except ValueError:
        return False
    return Scope(targets=targets, exclusions=exclusions, allow_public=scope.allow_public).contains(address)


def _unheard(ra: CheckResult, run_b: ScanRun) -> str | None:
    """Why a host heard in run A and absent from run B counts as resolved, or None if it does not."""
    heard = _passive(ra)
    sender = heard.get("sender") if heard else None
    if heard is None or not isinstance(sender, str):
        return None
    window_a = float(heard["window_s"])
    windows = [float(data["window_s"]) for r in run_b.results
               if r.check_id == ra.check_id and r.status in (Status.PASS, Status.FAIL)
               and (data := _passive(r)) is not None]
    if not windows or max(windows) < window_a or max(windows) <= 0:
        return None
    if not _covers(run_b.scope, sender):
        return None
    return (f"{sender} was not heard in {max(windows):.0f} s of passive listening over a scope that includes it "
            f"(the earlier run heard it in {window_a:.0f} s)")


def _classify(ra: CheckResult | None, rb: CheckResult | None, failed_before: bool) -> str | None:
    failed_a = ra is not None and ra.status is Status.FAIL
    failed_b = rb is not None and rb.status is Status.FAIL
    if failed_a and failed_b:
        return "persisting"
    if failed_a:
        return "resolved" if rb is not None and rb.status is Status.PASS else "not_retested"
    if failed_b:
        return "regressed" if failed_before else "new"
    if (ra is not None and rb is not None and ra.status is Status.PASS and rb.status is Status.PASS
            and _observation(ra) != _observation(rb)):
        return "changed_evidence"
    return None


def runs_before(history: Iterable[ScanRun], run: ScanRun) -> list[ScanRun]:
    """The client's runs that started before ``run`` (oldest first)."""
    return [r for r in history if r.started_at < run.started_at and r.run_id != run.run_id]


def trend(history: Iterable[ScanRun]) -> list[dict[str, Any]]:
    """Open gaps (failed results) by severity in every run of a client, oldest first: the data of
    the drift report's trend chart."""
    return [{"run_id": run.run_id, "started_at": run.started_at.isoformat(),
             "open_by_severity": dict(run.summary.by_severity)}
            for run in sorted(history, key=lambda r: r.started_at)]
