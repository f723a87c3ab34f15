"""Safeguard matrix statuses: a citation is `gap found` when a linked check failed, `no gap
observed` when its linked checks ran and all passed, `not assessed by scan` otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

from reports import view
from scanner.config.framework import CheckLink, Framework, Requirement, load_framework
from scanner.models import CheckResult, ScanRun, ScopeRecord, Severity, Status, Target, fingerprint, summarize
from tests.fixtures.report_data import lab_run

LINK = "because the test says so"


def _framework() -> Framework:
    return Framework(framework="hipaa", title="t", requirements=(
        Requirement(citation="164.312(e)(1)", title="Transmission security", designation="Standard",
                    checks=(CheckLink(check="a.fails", rationale=LINK), CheckLink(check="b.passes", rationale=LINK))),
        Requirement(citation="164.312(a)(1)", title="Access control", designation="Standard",
                    checks=(CheckLink(check="b.passes", rationale=LINK), CheckLink(check="c.passes", rationale=LINK))),
        Requirement(citation="164.308(a)(5)(i)", title="Security awareness", designation="Standard"),
        Requirement(citation="164.312(d)", title="Authentication", designation="Required",
                    checks=(CheckLink(check="d.errors", rationale=LINK),)),
        Requirement(citation="164.312(b)", title="Audit controls", designation="Required",
                    checks=(CheckLink(check="e.not_in_run", rationale=LINK),)),
    ))


def _result(check_id: str, status: Status, host: str, severity: Severity = Severity.HIGH) -> CheckResult:
    target = Target(host=host, port=25)
    return CheckResult(check_id=check_id, status=status, severity=severity, title=check_id, target=target,
                       detail="d", fingerprint=fingerprint(check_id, target),
                       reason="timeout" if status is Status.ERROR else None)


def _run(*results: CheckResult) -> ScanRun:
    now = datetime.now(UTC)
    return ScanRun(tool_version="t", run_id="r", profile="p", started_at=now, scope=ScopeRecord(),
                   results=results, summary=summarize(list(results)))


def test_statuses_follow_the_linked_checks() -> None:
    run = _run(_result("a.fails", Status.FAIL, "198.18.0.1", Severity.MEDIUM),
               _result("a.fails", Status.PASS, "198.18.0.2"),
               _result("b.passes", Status.PASS, "198.18.0.1"),
               _result("c.passes", Status.PASS, "198.18.0.1"),
               _result("d.errors", Status.ERROR, "198.18.0.1"))
    rows = {r.citation: r for r in view.safeguard_matrix(run, _framework())}
    assert rows["164.312(e)(1)"].status == view.GAP_FOUND
    assert rows["164.312(e)(1)"].worst is Severity.MEDIUM and len(rows["164.312(e)(1)"].failed) == 1
    assert rows["164.312(a)(1)"].status == view.NO_GAP
    assert rows["164.312(a)(1)"].coverage.startswith("2 of 2 linked check(s) produced results: 0 failed, 2 passed")
    assert rows["164.308(a)(5)(i)"].status == view.NOT_ASSESSED
    # linked checks that could not establish their facts, or did not run, are not "no gap"
    assert rows["164.312(d)"].status == view.NOT_ASSESSED and "could not be tested" in rows["164.312(d)"].coverage
    assert rows["164.312(b)"].status == view.NOT_ASSESSED


def test_matrix_is_in_citation_order_and_never_says_compliant() -> None:
    rows = view.safeguard_matrix(_run(), _framework())
    assert [r.citation for r in rows] == ["164.308(a)(5)(i)", "164.312(a)(1)", "164.312(b)", "164.312(d)",
                                          "164.312(e)(1)"]
    assert all("compliant" not in r.coverage for r in rows)


def test_lab_scan_matrix_covers_the_whole_catalogue() -> None:
    framework = load_framework()
    rows = view.safeguard_matrix(lab_run(), framework)
    assert len(rows) == len(framework.requirements) == 69
    by = {r.citation: r.status for r in rows}
    assert by["164.312(e)(1)"] == view.GAP_FOUND  # STARTTLS missing on the lab's plain mail host
    assert by["164.308(a)(5)(ii)(A)"] == view.NOT_ASSESSED  # security reminders: no scan can see them
    assert {view.GAP_FOUND, view.NOT_ASSESSED} <= set(by.values())


def test_heat_map_has_one_cell_per_citation_coloured_by_worst_severity() -> None:
    run = _run(_result("a.fails", Status.FAIL, "198.18.0.1", Severity.CRITICAL))
    heat = view.heat_map(view.safeguard_matrix(run, _framework()))
    assert len(heat.cells) == 5
    colours = {c.tooltip.split(" ", 1)[0]: c.colour for c in heat.cells}
    assert colours["164.312(e)(1)"] == view.HEAT_COLOURS["critical"]
    assert colours["164.308(a)(5)(i)"] == view.HEAT_COLOURS[view.NOT_ASSESSED]


def test_findings_grouped_by_severity_then_safeguard() -> None:
    groups = view.finding_groups(lab_run(), load_framework())
    ranks = [g.severity.rank for g in groups]
    assert ranks == sorted(ranks, reverse=True)
    for g in groups:
        for citation, _title, results in g.safeguards:
            assert all(r.severity is g.severity and r.status is Status.FAIL for r in results)
            assert all((r.hipaa[0] if r.hipaa else view.UNMAPPED) == citation for r in results)
