"""Drift between runs built from a recorded lab scan: every class, hosts and services, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.engine.output import write_scan_json
from scanner.history.drift import compare, runs_before
from scanner.history.store import Store
from scanner.models import ScanRun, Status
from tests.unit.test_store import fails, lab_run, passes, variant

cli = CliRunner()


@pytest.fixture
def three_runs() -> tuple[ScanRun, ScanRun, ScanRun, str, str, str]:
    """r1 = the lab scan; r2 fixes FIXED and rewords a passing check; r3 breaks FIXED again and NEW."""
    r1 = lab_run()
    fixed, reworded, new = fails(r1)[0], passes(r1)[0], passes(r1)[1]
    vanished = r1.hosts[-1].address
    r2 = variant(r1, "run-2", 7, status={fixed: Status.PASS}, detail={reworded: "observed something else"},
                 drop_host=vanished, add_service=(r1.hosts[0].address, 8443))
    r3 = variant(r2, "run-3", 14, status={fixed: Status.FAIL, new: Status.FAIL})
    return r1, r2, r3, fixed, reworded, new


def test_resolved_changed_evidence_and_hosts(three_runs: tuple[ScanRun, ScanRun, ScanRun, str, str, str]) -> None:
    r1, r2, _, fixed, reworded, _ = three_runs
    drift = compare(r1, r2)
    assert [i.fingerprint for i in drift.of("resolved")] == [fixed]
    assert [i.fingerprint for i in drift.of("changed_evidence")] == [reworded]
    assert drift.of("new") == [] and drift.of("regressed") == []
    assert drift.counts["persisting"] == len(fails(r1)) - 1
    assert drift.hosts_vanished == (r1.hosts[-1].address,) and drift.hosts_appeared == ()
    assert drift.services_appeared == (f"{r1.hosts[0].address}:8443/tcp",)
    item = drift.of("resolved")[0]
    assert (item.before, item.after) == ("fail", "pass")


def test_regressed_needs_history_new_does_not(three_runs: tuple[ScanRun, ScanRun, ScanRun, str, str, str]) -> None:
    r1, r2, r3, fixed, _, new = three_runs
    with_history = compare(r2, r3, runs_before([r1, r2, r3], r3))
    assert [i.fingerprint for i in with_history.of("regressed")] == [fixed]
    assert [i.fingerprint for i in with_history.of("new")] == [new]
    without = compare(r2, r3)
    assert sorted(i.fingerprint for i in without.of("new")) == sorted([fixed, new])
    assert without.of("regressed") == []


def test_a_gap_that_was_not_retested_is_not_resolved() -> None:
    r1 = lab_run()
    gap = fails(r1)[0]
    errored = variant(r1, "run-e", 1, status={gap: Status.ERROR})
    drift = compare(r1, errored)
    assert [i.fingerprint for i in drift.of("not_retested")] == [gap] and drift.of("resolved") == []
    gone = r1.model_copy(update={"run_id": "run-g", "results": tuple(r for r in r1.results if r.fingerprint != gap)})
    assert [i.fingerprint for i in compare(r1, gone).of("not_retested")] == [gap]


def test_evidence_times_alone_are_not_a_change() -> None:
    r1 = lab_run()
    later = variant(r1, "later", 30)
    shifted = later.model_copy(update={"results": tuple(
        r.model_copy(update={"evidence": tuple(e.model_copy(update={"collected_at": e.collected_at.replace(year=2030)})
                                               for e in r.evidence)}) for r in later.results)})
    assert compare(r1, shifted).of("changed_evidence") == []


def test_diff_cli_on_stored_runs_and_files(tmp_path: Path,
                                           three_runs: tuple[ScanRun, ScanRun, ScanRun, str, str, str]) -> None:
    r1, r2, _, fixed, _, new = three_runs
    db = str(tmp_path / "h.db")
    with Store.open(db) as store:
        for run in three_runs[:3]:
            store.store_run(run)
    result = cli.invoke(app, ["diff", "run-2", "run-3", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    by_class = {f["fingerprint"]: f["class"] for f in data["findings"]}
    assert by_class[fixed] == "regressed" and by_class[new] == "new"
    assert data["counts"]["regressed"] == 1 and data["counts"]["new"] == 1
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    result = cli.invoke(app, ["diff", str(write_scan_json(r1, a_dir)), str(write_scan_json(r2, b_dir)), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["counts"]["resolved"] == 1 and data["hosts"]["vanished"] == [r1.hosts[-1].address]
    table = cli.invoke(app, ["diff", str(a_dir / "scan.json"), str(b_dir / "scan.json")], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "resolved" in table.output and "hosts vanished" in table.output


@pytest.mark.parametrize("args, message", [
    (["diff", "no-such-run", "run-2"], "no run 'no-such-run'"),
    (["diff", "/nonexistent/scan.json", "run-2"], "cannot read run"),
])
def test_diff_bad_references_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = cli.invoke(app, [*args, "--db", str(tmp_path / "h.db")])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_trend_counts_open_gaps_by_severity(three_runs: tuple[ScanRun, ScanRun, ScanRun, str, str, str]) -> None:
    from scanner.history.drift import trend

    r1, r2, r3, fixed, _, _ = three_runs
    severity = next(r.severity.value for r in r1.results if r.fingerprint == fixed)
    points = trend([r3, r1, r2])
    assert [p["run_id"] for p in points] == [r1.run_id, "run-2", "run-3"]
    counts = [p["open_by_severity"][severity] for p in points]
    assert counts[1] == counts[0] - 1 and counts[2] >= counts[0]
    assert sum(points[0]["open_by_severity"].values()) == len(fails(r1))
