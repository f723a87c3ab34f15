"""SIGTERM and SIGHUP are handled like Ctrl-C: the results so far are saved, the exit code is 130,
and the message never claims more than was saved (issue 15: SIGTERM exited 143 with no scan.json)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# gapscan scan of a loopback SMTP server that answers EHLO only after a long pause: the scan is
# still running its checks when the signal comes. Discovery is replaced (no sweep of loopback).
SLOW_SCAN = textwrap.dedent("""
    import sys, time
    import scanner.engine.runner
    from scanner.cli import main
    from scanner.models import Host, Service
    from tests.unit.helpers import tcp_server
    from tests.unit.test_runner import FakeDiscovery

    def slow_smtp(conn):
        sys.stdout.write("probing\\n"); sys.stdout.flush()  # a probe is connected: the checks run
        conn.sendall(b"220 slow.example ESMTP\\r\\n")
        time.sleep(60)

    with tcp_server(slow_smtp) as (host, port, _):
        def discover(scope, config, concurrency, *, on_progress=None):
            return FakeDiscovery(hosts=(Host(address=host, services=(Service(port=port, service="smtp"),)),))
        scanner.engine.runner._default_discover = lambda: discover
        print("ready", flush=True)
        main(["scan", host, "--out", sys.argv[1], "--profile", sys.argv[2], "-q", "--format", "json"])
""")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_saves_the_results_so_far_and_exits_130(tmp_path: Path, signum: signal.Signals) -> None:
    # Long timeouts: the scan is certainly still waiting for the server when the signal comes.
    profile = tmp_path / "slow.yaml"
    profile.write_text("name: slow\ndescription: long timeouts\nchecks: {include: ['smtp.*']}\n"
                       "timeouts: {connect: 5, read: 60, probe: 120, retries: 0}\n")
    out = tmp_path / "out"
    # A shell's background job starts with SIGINT ignored, and Python then keeps it ignored: give
    # the scan the default disposition, as a terminal would.
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SCAN, str(out), str(profile)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    assert proc.stdout.readline().startswith("probing")
    time.sleep(0.5)  # the SMTP probes are waiting for EHLO answers
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    saved = json.loads((out / "scan.json").read_text())
    assert saved["complete"] is False
    assert saved["results"] and any(r["reason"] == "interrupted" for r in saved["results"])
    assert f"saved in {out / 'scan.json'}" in stderr
    assert "Traceback" not in stderr
