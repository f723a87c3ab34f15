"""One job's scan, in a child process of the sensor: ``python -m scanner.fleet.scan_child DIR``.

The engine's scope guard is a process-wide audit hook that refuses every connection outside the
scan's scope, so while a scan runs the sensor's own process could not reconnect to its broker or
send a heartbeat. The scan therefore runs in a child (the same engine as ``gapscan scan``, called
as a library): DIR/job.json in, DIR/scan.json out. The child dies with its parent
(PR_SET_PDEATHSIG): a sensor killed mid-scan leaves no scan running.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def run_job(directory: Path) -> Path:
    from scanner.config.framework import load_framework
    from scanner.config.profiles import load_profile
    from scanner.engine.output import ResultSink
    from scanner.engine.registry import load_registry
    from scanner.engine.runner import ScanRequest, run_scan

    job = json.loads((directory / "job.json").read_text())
    registry = load_registry(load_framework())
    request = ScanRequest(profile=load_profile(job["profile"], registry), targets=tuple(job["targets"]),
                          domains=tuple(job["domains"]), exclusions=tuple(job["exclusions"]), client=job["client"],
                          authorized_by=f"gapscan fleet job {job['job_id']} (site {job['site']})")
    run_scan(request, registry, ResultSink(directory / "out"), run_id=job["run_id"])
    return directory / "out" / "scan.json"


def main() -> int:
    directory, parent = Path(sys.argv[1]), int(sys.argv[2])
    _die_with_parent(parent)
    run_job(directory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
