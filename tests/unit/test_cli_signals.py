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
        def discover(scope, config, concurrency, *, on_progress=None, found=None):
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


# A real discovery of 127.0.0.1 (connect sweep of three ports): an SMTP server that greets, a
# port that accepts and stays silent (banner identification waits on it) and a closed port.
# The signal comes while the silent port is being identified: the sweep is over, the SMTP port
# is named, discovery has not returned.
DISCOVERY_SCAN = textwrap.dedent("""
    import socket, sys, time
    from scanner.cli import main
    from tests.unit.helpers import tcp_server

    def smtp(conn):
        conn.sendall(b"220 mail.example ESMTP\\r\\n")
        time.sleep(30)

    def silent(conn):
        conn.settimeout(0.5)
        try:
            if conn.recv(1) == b"":
                return  # the sweep's connect, closed at once
        except TimeoutError:
            pass
        sys.stdout.write("identifying\\n"); sys.stdout.flush()  # identification waits for a banner
        time.sleep(60)

    closed = socket.socket(); closed.bind(("127.0.0.1", 0)); free = closed.getsockname()[1]; closed.close()
    with tcp_server(smtp) as (host, smtp_port, _), tcp_server(silent) as (_, silent_port, _):
        profile = sys.argv[2]
        with open(profile, "w") as fh:
            fh.write("name: slow\\ndescription: d\\nchecks: {include: ['smtp.*']}\\n"
                     "discovery: {engine: builtin, host_discovery: tcp, sweep: connect, service_detection: banner, "
                     f"tcp_ports: [{smtp_port}, {silent_port}, {free}], connect_timeout: 5, retries: 0}}\\n")
        print(f"ready {smtp_port} {silent_port} {free}", flush=True)
        main(["scan", host, "--out", sys.argv[1], "--profile", profile, "-q", "--format", "json"])
""")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_during_discovery_saves_the_hosts_and_services_found(tmp_path: Path,
                                                                          signum: signal.Signals) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", DISCOVERY_SCAN, str(out), str(tmp_path / "p.yaml")], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout is not None
    ready = proc.stdout.readline().split()
    assert ready and ready[0] == "ready", proc.stderr.read() if proc.stderr else ""
    smtp_port, silent_port, closed_port = map(int, ready[1:])
    assert proc.stdout.readline().startswith("identifying")
    time.sleep(0.5)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    saved = json.loads((out / "scan.json").read_text())
    assert saved["complete"] is False
    assert len(saved["hosts"]) == 1, saved["hosts"]  # before issue 15: 0 hosts were saved
    assert any("interrupted during discovery" in w for w in saved["warnings"])
    (host,) = saved["hosts"]
    assert host["address"] == "127.0.0.1"
    services = {s["port"]: s for s in host["services"]}
    assert set(services) == {smtp_port, silent_port} and closed_port not in services
    assert services[smtp_port]["service"] == "smtp" and services[smtp_port]["identified_by"] == "banner"
    assert services[silent_port]["identified_by"] in ("port-map", None)  # found open, not yet named
    (note,) = saved["discovery"]["notes"]
    assert "interrupted during the service identification phase" in note and "1 host(s)" in note
    # The checks planned for what was found are there, each error/interrupted: nothing claims a verdict.
    assert saved["results"] and {r["status"] for r in saved["results"]} == {"error"}
    assert {r["reason"] for r in saved["results"]} == {"interrupted"}
    assert any(r["target"].get("port") == smtp_port for r in saved["results"])
    assert f"saved in {out / 'scan.json'}" in stderr and "Traceback" not in stderr
