"""Issue 21 end to end in the lab, through the installed gapscan:

- a lab laptop (laptop-weak: credentialed endpoint checks over real SSH) scanned twice with
  ``--client``, each run signed with the MSP key, timestamped by a real RFC 3161 authority
  (``openssl ts -reply`` behind tests/lab/tsa.py, on loopback inside the scanner's namespace) and
  anchored; its evidence pack, copied to a fresh folder, verifies there with nothing but the pack:
  every README command (sha256sum, openssl pkeyutl, openssl ts, gapscan verify) succeeds, and the
  head printed on the delivered report is held;
- a Dropbox LAN sync client that went away: a test-owned host (its own namespace on the lab
  bridge) runs the lab's emitter, a stored scan hears it (FAIL), the emitter is stopped, the
  rescan listens as long over the same scope and hears nothing: ``gapscan diff`` says *resolved*;
  a rescan that does not listen leaves it *not retested*.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import netns, topology
from tests.lab.daemons import dropbox_emitter
from tests.lab.lab import STATE_FILE
from tests.lab.proc import in_ns, stop
from tests.lab.tsa import TsaFiles
from tests.unit.test_evidence_pack import readme_commands, run_in_pack

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
GAPSCAN = str(REPO / ".venv" / "bin" / "gapscan")
LAPTOP = next(h for h in topology.HOSTS if h.name == "laptop-weak")
GONE_NS = f"{topology.NS_PREFIX}dbx-gone"
GONE_ADDRESS = "198.18.0.61"  # no lab host uses it: the test's own Dropbox client
WINDOW = 31  # one announcement interval (30 s) and a margin: the shortest window whose silence counts


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _local(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GAPSCAN, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _workdir(lab: Any) -> Path:
    workdir = lab.workdir
    if workdir is None:  # another process's lab: its state file records the work directory
        workdir = Path(json.loads(STATE_FILE.read_text())["workdir"])
    return Path(workdir)


def _free_loopback_port() -> int:
    with socket.socket() as probe:  # the scanner namespace has its own loopback: a free port here is a guess
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def lab_tsa(lab: Any, tmp_path: Path) -> Iterator[tuple[str, TsaFiles]]:
    """A real TSA on loopback inside the scanner's namespace; history.yaml points at it."""
    files = TsaFiles.create(tmp_path / "tsa")
    port = _free_loopback_port()
    argv = lab.scanner_cmd([sys.executable, "-m", "tests.lab.tsa", "serve", str(files.directory), "127.0.0.1",
                            str(port)])
    server = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert "lab TSA on" in line, line
        url = f"http://127.0.0.1:{port}/tsa"
        config = Path(os.environ["XDG_CONFIG_HOME"]) / "gapscan"
        config.mkdir(parents=True, exist_ok=True)
        (config / "history.yaml").write_text(f"timestamp_authority:\n  url: {url}\n  ca_file: {files.ca_cert}\n"
                                             "  timeout_s: 10\n")
        yield url, files
    finally:
        stop(server)


@pytest.fixture
def laptop_creds(lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GS_LAB_PASSWORD", topology.ENDPOINT_PASSWORD)
    path = tmp_path / "credentials.yaml"
    path.write_text(f"""\
credentials:
  - name: lab-weak
    kind: ssh
    targets: [{LAPTOP.address}]
    username: {topology.ENDPOINT_USER}
    password_env: GS_LAB_PASSWORD
    sudo: true
""")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return path


def test_the_evidence_pack_of_a_lab_laptop_verifies_with_only_the_pack(
        lab: Any, tmp_path: Path, lab_tsa: tuple[str, TsaFiles], laptop_creds: Path) -> None:
    db = f"sqlite:///{tmp_path / 'msp.db'}"
    client = "Lab Dental"
    fingerprint = _ok(_local("keys", "init")).stdout.split()[-1]
    scans = []
    for n in (1, 2):
        args = ["--out", str(tmp_path / f"s{n}"), "-q", "--format", "json,html", "--db", db]
        if n == 1:
            command = ["scan", LAPTOP.address, "--credentials", str(laptop_creds), "--profile", "quick",
                       "--listen-seconds", "0", "--client", client, *args]
        else:
            command = ["rescan", "--client", client, "--credentials", str(laptop_creds), *args]
        done = _ok(lab.run_in_scanner([GAPSCAN, *command], timeout=300))
        assert f"signed with key {fingerprint}, timestamped" in done.stderr, done.stderr
        scans.append(json.loads((tmp_path / f"s{n}" / "scan.json").read_text()))
    encryption = [[r["status"] for r in s["results"] if r["check_id"] == "endpoint.disk_encryption_off"
                   and r["target"]["host"] == LAPTOP.address] for s in scans]
    assert all(run and set(run) == {"fail"} for run in encryption), f"the planted gap (unencrypted): {encryption}"

    pack = tmp_path / "export"
    _ok(_local("evidence", "--client", client, "--host", LAPTOP.address, "--db", db, "--export", str(pack)))
    elsewhere = tmp_path / "investigator" / "pack"
    shutil.copytree(pack, elsewhere)
    commands = readme_commands(elsewhere)
    assert sum(c.startswith("openssl ts -verify") for c in commands) == 2
    for command in commands:
        done = run_in_pack(elsewhere, command)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    verify = next(c for c in commands if c.startswith("gapscan verify"))
    assert f"--trust {fingerprint}" in verify
    report = tmp_path / "investigator" / "delivered-report.html"
    shutil.copy(tmp_path / "s2" / "report.html", report)
    held = run_in_pack(elsewhere, f"{verify} --anchor {report}")
    assert held.returncode == 0, held.stderr
    assert "2 run signature(s) by trusted keys, 2 timestamp token(s)" in held.stderr
    host_files = sorted(elsewhere.glob(f"runs/*/host-{LAPTOP.address}.json"))
    assert [len(json.loads(p.read_text())["results"]) > 0 for p in host_files] == [True, True]


@pytest.fixture
def dropbox_client(lab: Any) -> Iterator[subprocess.Popen[str]]:
    """The lab's Dropbox LAN sync emitter on a host of the test's own, on the lab bridge."""
    netns.attach(netns.Attachment(GONE_NS, f"{GONE_ADDRESS}/24"))
    script = _workdir(lab) / "dbx-gone-emitter.py"
    script.write_text(dropbox_emitter.SCRIPT)
    argv = in_ns(GONE_NS, [sys.executable, "-I", "-S", str(script), GONE_ADDRESS, "17500",
                           "198.18.0.255", str(dropbox_emitter.INTERVAL), str(dropbox_emitter.HOST_INT),
                           ",".join(str(n) for n in dropbox_emitter.NAMESPACES)])
    emitter = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert emitter.stdout is not None and "emitting" in emitter.stdout.readline()
        yield emitter
    finally:
        if emitter.poll() is None:
            stop(emitter)
        assert netns.delete([GONE_NS]) == []
        script.unlink(missing_ok=True)


def _dropbox(scan: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in scan["results"] if r["check_id"] == "cloudsync.dropbox_lansync" and r["target"]["host"] is None]


def test_a_sync_client_that_went_away_is_resolved(lab: Any, tmp_path: Path,
                                                 dropbox_client: subprocess.Popen[str]) -> None:
    db = f"sqlite:///{tmp_path / 'msp.db'}"
    client = "Lab Sync"
    _ok(lab.run_in_scanner([GAPSCAN, "scan", GONE_ADDRESS, "--profile", "quick", "--listen-seconds", str(WINDOW),
                            "--client", client, "--db", db, "--out", str(tmp_path / "1"), "-q", "--format", "json"],
                           timeout=240))
    first = json.loads((tmp_path / "1" / "scan.json").read_text())
    (heard,) = [r for r in _dropbox(first) if r["status"] == "fail"]
    assert GONE_ADDRESS in heard["detail"]

    dropbox_client.terminate()  # the client is uninstalled
    dropbox_client.wait(timeout=10)
    time.sleep(dropbox_emitter.INTERVAL)  # no announcement of it is still in flight
    _ok(lab.run_in_scanner([GAPSCAN, "rescan", "--client", client, "--db", db, "--listen-seconds", str(WINDOW),
                            "--out", str(tmp_path / "2"), "-q"], timeout=240))
    second = json.loads((tmp_path / "2" / "scan.json").read_text())
    assert [r["status"] for r in _dropbox(second)] == ["pass"], "silence over the same scope, as long"
    drift = json.loads(_ok(_local("diff", first["run_id"], second["run_id"], "--db", db, "--json")).stdout)
    (item,) = [f for f in drift["findings"] if f["fingerprint"] == heard["fingerprint"]]
    assert (item["class"], item["before"], item["after"]) == ("resolved", "fail", "not heard"), item
    assert f"{WINDOW} s of passive listening" in item["detail"]
    rescan_drift = json.loads((tmp_path / "2" / "drift.json").read_text())
    assert heard["fingerprint"] in [f["fingerprint"] for f in rescan_drift["findings"] if f["class"] == "resolved"]

    # The twin: a rescan that does not listen proves nothing about the client.
    _ok(lab.run_in_scanner([GAPSCAN, "rescan", "--client", client, "--db", db, "--listen-seconds", "0",
                            "--out", str(tmp_path / "3"), "-q"], timeout=240))
    third = json.loads((tmp_path / "3" / "scan.json").read_text())
    drift = json.loads(_ok(_local("diff", first["run_id"], third["run_id"], "--db", db, "--json")).stdout)
    (item,) = [f for f in drift["findings"] if f["fingerprint"] == heard["fingerprint"]]
    assert item["class"] == "not_retested", item
    assert _ok(_local("verify", "--db", db)).returncode == 0
