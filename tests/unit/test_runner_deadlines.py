"""The runner's hard limits: a stuck probe never keeps the process alive after its results are
written, a run that overruns its budget is ended by the watchdog, and each probe call sees its own
deadline in ``ProbeContext``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from scanner.engine.output import ResultSink
from scanner.engine.runner import run_scan
from scanner.models import Status
from tests.unit.test_runner import _discover, _registry, _request

REPO = Path(__file__).resolve().parents[2]

# A probe that never returns (a server dripping a byte every 2 s, a library call without a timeout):
# the runner records a timeout at the probe deadline, writes scan.json, and the process must end.
STUCK_SCAN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from collections.abc import Iterator, Mapping
    from typing import Any
    from scanner.check import Applies, Check, CheckMeta, Probe, ProbeContext
    from scanner.config.framework import load_framework
    from scanner.config.profiles import Profile, select_checks
    from scanner.engine.output import ResultSink
    from scanner.engine.registry import load_registry
    from scanner.engine.runner import ScanRequest, run_scan
    from scanner.models import Finding, Host, Service, Severity, Target
    from tests.unit.test_runner import _discover, _meta

    class Stuck(Probe[int]):
        name = "stuck"
        def collect(self, target: Target, ctx: ProbeContext) -> int:
            time.sleep(3600)
            return 0

    class UsesStuck(Check):
        meta = _meta("test.stuck")
        probes = (Stuck,)
        def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding]:
            yield self.finding(target, passed=True, detail="never")

    registry = load_registry(load_framework(), extra=[(UsesStuck, "t")])
    profile = Profile(name="t", description="test", checks={"include": ["test.stuck"]},
                      timeouts={"connect": 0.2, "read": 0.2, "probe": 0.5, "retries": 0})
    request = ScanRequest(profile=select_checks(profile, registry, "t"), targets=("198.18.0.50",))
    run = run_scan(request, registry, ResultSink(Path(sys.argv[1])), discover=_discover([1, 2, 3]))
    print(time.monotonic(), flush=True)
""")


def test_a_stuck_probe_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", STUCK_SCAN, str(tmp_path)], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    ended = time.monotonic()
    assert done.returncode == 0, done.stderr
    finished_at = float(done.stdout.strip().splitlines()[-1])
    assert ended - finished_at < 5, f"process lived {ended - finished_at:.1f} s after the run returned"
    assert ended - started < 30
    saved = json.loads((tmp_path / "scan.json").read_text())
    assert [(r["status"], r["reason"]) for r in saved["results"]] == [("error", "timeout")] * 3


def test_the_watchdog_ends_a_run_past_its_budget(tmp_path: Path) -> None:
    registry = _registry()
    request = _request(registry)
    prof = request.profile.profile
    slow = prof.model_copy(update={"timeouts": prof.timeouts.model_copy(update={"probe": 30.0, "run": 1.0})})
    request = type(request)(profile=request.profile.model_copy(update={"profile": slow}), targets=request.targets)
    started = time.monotonic()
    # port 4's probe sleeps 1.5 s: past the 1 s run budget, long before its own 30 s deadline.
    run = run_scan(request, registry, ResultSink(tmp_path), discover=_discover([1, 4]))
    assert time.monotonic() - started < 5
    by = {(r.check_id, r.target.port): r for r in run.results}
    assert by[("test.odd", 1)].status is Status.PASS
    assert (by[("test.odd", 4)].status, by[("test.odd", 4)].reason) == (Status.ERROR, "timeout")
    assert "budget" in by[("test.odd", 4)].detail
    assert not run.complete
    assert any("budget" in w for w in run.warnings)
