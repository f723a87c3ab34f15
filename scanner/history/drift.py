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
  counted as resolved, since an untested gap is not a fixed one;
- ``changed_evidence``: passes in A and B, with a different detail or evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.models import CheckResult, ScanRun, Status

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
        items.append(DriftItem(kind=kind, fingerprint=fp, check_id=shown.check_id, severity=shown.severity.value,
                               target=shown.target.label(), before=ra.status.value if ra else None,
                               after=rb.status.value if rb else None, detail=shown.detail))
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
