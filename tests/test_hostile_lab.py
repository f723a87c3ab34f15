"""Issue 15's hostile-services suite: the real ``gapscan scan`` (in the scanner's namespace)
against a test-owned lab host whose every service misbehaves (tests/lab/daemons/hostile.py:
tarpit, byte and line drips, RST after accept, a 10 MB banner, garbage, a greeting then silence,
TLS ServerHello then garbage, STARTTLS then garbage, XSS/ANSI/bidi/CSV payloads).

Asserted: the process exits with a documented code within a wall time computed from the
profile's own timeouts (the subprocess timeout; the figure is printed), no service that proved
nothing gets a PASS or a FAIL, and the payloads are inert in scan.json, the HTML report, the
CSV and the terminal output.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from checks.endpoint.probe import EndpointCollector
from checks.mail.smtp_probe import SmtpEhlo
from checks.smb.probe import SmbNegotiate
from checks.tls.probe import TlsProbe
from scanner.check import Probe
from scanner.config.framework import load_framework
from scanner.config.profiles import Profile
from scanner.engine.registry import load_registry
from tests.lab import netns, topology
from tests.lab.daemons import hostile, hostile_ssh
from tests.lab.proc import in_ns, stop

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[1]
GAPSCAN = str(REPO / ".venv" / "bin" / "gapscan")
HOSTILE_NS = f"{topology.NS_PREFIX}hostile"
HOSTILE_ADDRESS = "198.18.0.66"  # no lab host uses it: the test's own host
# The quick profile's timeouts and concurrency, sweeping every port the hostile host serves.
PROFILE = {
    "name": "hostile", "description": "quick, on the hostile host's ports", "checks": {"include": ["all"]},
    "listen_seconds": 0, "timeouts": {"connect": 2.0, "read": 3.0, "probe": 15.0, "retries": 1},
    "concurrency": {"global_limit": 128, "per_host": 4},
    "discovery": {"tcp_ports": sorted(p for p, (t, _) in hostile.BEHAVIOURS.items() if t == "tcp"),
                  "udp_ports": sorted(p for p, (t, _) in hostile.BEHAVIOURS.items() if t == "udp"),
                  "connect_timeout": 3.0, "retries": 1},
}
DOCUMENTED_EXIT_CODES = {0, 3}  # README "Exit codes": completed (3 only with --fail-on)
CANARY = "gs-canary-Hostile-7f3a"  # the SSH password: never in any output
EXIT_SLACK = 15.0  # interpreter start, plugin loading, report rendering: seconds, not probe time


@pytest.fixture
def hostile_host(lab: Any) -> Iterator[str]:
    """The hostile servers on a namespace of the test's own, on the lab bridge."""
    netns.attach(netns.Attachment(HOSTILE_NS, f"{HOSTILE_ADDRESS}/24"))
    servers = [subprocess.Popen(in_ns(HOSTILE_NS, argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for argv in ([sys.executable, "-I", "-S", hostile.__file__, HOSTILE_ADDRESS],
                            [sys.executable, "-I", hostile_ssh.__file__, HOSTILE_ADDRESS, str(hostile_ssh.PORT)])]
    try:
        for server in servers:
            assert server.stdout is not None and "serving" in server.stdout.readline()
        yield HOSTILE_ADDRESS
    finally:
        for server in servers:
            if server.poll() is None:
                stop(server)
        assert netns.delete([HOSTILE_NS]) == []


def probe_calls(results: list[dict[str, Any]]) -> list[type[Probe[Any]]]:
    """The probe calls behind ``results``: one per (target, probe), as the runner runs them."""
    registry = load_registry(load_framework())
    calls: dict[tuple[Any, ...], type[Probe[Any]]] = {}
    for r in results:
        target = r["target"]
        for probe in registry.get(r["check_id"]).cls.probes:
            calls[(target.get("host"), target.get("port"), target.get("transport"), probe)] = probe
    return list(calls.values())


def wall_time_budget(prof: Profile, calls: list[type[Probe[Any]]]) -> float:
    """What the profile allows a scan of one host to take, from its own numbers: discovery
    (every port's connect, retried, and one read to identify it), then the probe calls, each at
    most its deadline (``timeouts.probe`` + its ``extra_seconds``), a timed-out call retried,
    ``per_host`` at a time (a list schedule ends within total / workers + the longest call);
    plus the fixed cost of starting and rendering."""
    t, disc = prof.timeouts, prof.discovery
    discovery = (1 + disc.retries) * disc.connect_timeout + (len(disc.tcp_ports) + len(disc.udp_ports)) * t.read
    each = [(1 + t.retries) * (t.probe + probe.extra_seconds) for probe in calls] or [0.0]
    probes = sum(each) / prof.concurrency.per_host + max(each)
    return discovery + probes + prof.listen_seconds + EXIT_SLACK


def _inert(text: str, where: str) -> None:
    assert "\x1b" not in text, f"raw ESC (ANSI) in {where}"
    assert "\u202e" not in text, f"raw RIGHT-TO-LEFT OVERRIDE in {where}"
    assert "\x07" not in text, f"raw BEL in {where}"


def test_hostile_services_end_in_bounded_time_without_verdicts(lab: Any, hostile_host: str, tmp_path: Path) -> None:
    out = tmp_path / "scan"
    profile_file = tmp_path / "hostile.yaml"
    profile_file.write_text(yaml.safe_dump(PROFILE))
    # The SSH server that closes every channel is reached as an endpoint: a credential with a
    # canary password, which must appear in no output.
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text(yaml.safe_dump({"credentials": [{
        "name": "hostile", "kind": "ssh", "targets": [hostile_host], "port": hostile_ssh.PORT, "username": "tech",
        "password_env": "GS_HOSTILE_PW", "host_key": "tofu"}]}))
    credentials.chmod(0o600)
    prof = Profile.model_validate(PROFILE)
    # Before anything is known: as if every port ran the TLS, mail and SMB probes and the host
    # every endpoint probe (more than any one port can have).
    ports = len(prof.discovery.tcp_ports) + len(prof.discovery.udp_ports)
    worst_calls = [TlsProbe, SmtpEhlo, SmbNegotiate] * ports + [EndpointCollector]
    started = time.monotonic()
    proc = lab.run_in_scanner(["env", f"GS_HOSTILE_PW={CANARY}", GAPSCAN, "scan", hostile_host, "--profile",
                               str(profile_file), "--listen-seconds", "0", "--credentials", str(credentials),
                               "--out", str(out), "--verbose"], timeout=wall_time_budget(prof, worst_calls))
    wall = time.monotonic() - started
    assert proc.returncode in DOCUMENTED_EXIT_CODES, f"exit {proc.returncode}:\n{proc.stderr[-3000:]}"
    scan = json.loads((out / "scan.json").read_text())
    results = [r for r in scan["results"] if r["target"].get("host") == hostile_host]
    calls = probe_calls(results)
    budget = wall_time_budget(prof, calls)
    print(f"\nhostile host: {len(results)} results from {len(calls)} probe calls, wall time {wall:.1f} s "
          f"(budget from the profile {budget:.0f} s); by status: "
          + ", ".join(f"{s}={sum(r['status'] == s for r in results)}" for s in ("pass", "fail", "error", "skipped")))
    for r in results:
        print(f"  {r['target'].get('port')}/{r['check_id']}: {r['status']} "
              f"{r.get('reason') or ''} {r['detail'][:110]!r}")
    assert wall <= budget, f"{wall:.1f} s is more than the profile allows ({budget:.0f} s)"

    verdicts = {(r["target"]["port"], r["check_id"]): r["status"] for r in results if r["status"] in ("pass", "fail")}
    unproved = {k: v for k, v in verdicts.items() if k not in hostile.PROVES}
    assert unproved == {}, "verdicts on services that proved nothing:\n" + "\n".join(
        f"{r['target'].get('port')} {r['check_id']} {r['status']}: {r['detail']}" for r in results
        if (r["target"].get("port"), r["check_id"]) in unproved)
    assert verdicts == hostile.PROVES, "what the hostile services do prove, judged as they prove it"
    assert any(r["status"] == "error" for r in results), "the hostile services were not probed at all"

    # Payloads inert: scan.json holds them escaped or sanitised, never as live control characters
    # or markup in the reports; the CSV never starts a cell with a formula character.
    saved = (out / "scan.json").read_text()
    _inert(saved, "scan.json")
    assert "gs-xss" in saved and "GS-ANSI" in saved, "the payloads reached the evidence (or this test proves nothing)"
    html = (out / "report.html").read_text()
    _inert(html, "report.html")
    assert "gs-evil.example" in html, "the payload-bearing result is in the report"
    assert "<script>alert" not in html, "payload markup live in the HTML report"
    for path in out.glob("*.csv"):
        text = path.read_text()
        _inert(text, path.name)
        for row in csv.reader(text.splitlines()):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@")), f"formula cell in {path.name}: {cell[:60]!r}"
    _inert(proc.stdout, "terminal stdout")
    _inert(proc.stderr, "terminal stderr")
    for path in [*out.iterdir()]:
        assert CANARY not in path.read_text(errors="replace"), f"the SSH password in {path.name}"
    assert CANARY not in proc.stdout + proc.stderr

    # The SSH server that closes every channel: every endpoint check of the host ends in an
    # error or a skip with its reason (sections unread), never a crash (error/bug) or a verdict.
    endpoint = [r for r in results if r["check_id"].startswith("endpoint.")]
    assert endpoint, "the endpoint checks did not run against the channel-closing SSH server"
    assert not [r for r in endpoint if r.get("reason") == "bug"], "a collector crashed"
