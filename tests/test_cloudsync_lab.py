"""cloudsync.* against the lab's real senders, heard from the scanner namespace across the bridge.

- real Syncthing (gs-sync, 198.18.0.50) and the Dropbox LAN sync emitter (gs-dropbox, .51) each
  FAIL with evidence after one listening window long enough for Syncthing's 30 s interval;
- with the senders excluded from the scope, nothing is reported about them: PASS;
- without CAP_NET_RAW (root with every capability dropped by setpriv): skipped/permission;
- nmap's broadcast-dropbox-listener hears the same Dropbox facts.

The runner does not yet hand the profile's ``listen_seconds`` to probes (scanner/runner.py builds
the ProbeContext), so these tests run the probe and both checks in gs-scan directly, under the
scope guard exactly as a scan would.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.lab import topology

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
PYTHON = str(REPO / ".venv" / "bin" / "python")

LISTEN = """
import json, sys
sys.path.insert(0, __REPO__)
from checks.cloudsync.checks import DropboxLanSync, SyncthingAnnounces
from checks.cloudsync.listen import LanSyncAnnouncements
from scanner import scope
from scanner.check import ProbeContext
from scanner.config import TimeoutConfig
from scanner.planner import NETWORK_TARGET
window, excluded = float(sys.argv[1]), json.loads(sys.argv[2])
with scope.enforce(scope.build_scope([__NET__], excluded)):
    ctx = ProbeContext(timeouts=TimeoutConfig(probe=window + 10), listen_seconds=window)
    facts = LanSyncAnnouncements().collect(NETWORK_TARGET, ctx)
out = []
for check in (SyncthingAnnounces(), DropboxLanSync()):
    for r in check.evaluate(NETWORK_TARGET, {LanSyncAnnouncements: facts}):
        out.append({"check": check.meta.id, "type": type(r).__name__, **r.model_dump(mode="json")})
print(json.dumps(out))
""".replace("__REPO__", repr(str(REPO))).replace("__NET__", repr(topology.PRACTICE_NET))


def _listen(lab: Any, window: float, excluded: list[str], *, drop_caps: bool = False) -> subprocess.Popen[str]:
    argv = [PYTHON, "-c", LISTEN, str(window), json.dumps(excluded)]
    if drop_caps:
        argv = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", *argv]
    return subprocess.Popen(lab.scanner_cmd(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _results(popen: subprocess.Popen[str], timeout: float) -> list[dict[str, Any]]:
    out, err = popen.communicate(timeout=timeout)
    assert popen.returncode == 0, err
    return list(json.loads(out))


SENDERS = {"cloudsync.syncthing": topology.hosts_failing("cloudsync.syncthing"),
           "cloudsync.dropbox_lansync": topology.hosts_failing("cloudsync.dropbox_lansync")}


@pytest.fixture(scope="module")
def windows(lab: Any) -> dict[str, list[dict[str, Any]]]:
    """The three listening runs, started together so the module costs one Syncthing interval."""
    senders = sorted(h.address for hosts in SENDERS.values() for h in hosts)
    runs = {"full": _listen(lab, 33, []), "excluded": _listen(lab, 33, senders),
            "unprivileged": _listen(lab, 2, [], drop_caps=True)}
    return {name: _results(p, 60) for name, p in runs.items()}


@pytest.mark.parametrize("check_id", sorted(SENDERS))
def test_each_sender_fails_with_evidence(windows: dict[str, list[dict[str, Any]]], check_id: str) -> None:
    results = [r for r in windows["full"] if r["check"] == check_id]
    failing = {r["discriminator"]: r for r in results if r["type"] == "Finding" and not r["passed"]}
    assert set(failing) == {h.address for h in SENDERS[check_id]}, results
    for hardened in topology.hosts_passing(check_id):
        assert hardened.address not in failing
    for r in failing.values():
        data = r["evidence"][0]["data"]
        assert data["announcements"] >= 1 and data["window_s"] == 33
        assert "BAA" in r["detail"] or "Business Associate" in r["detail"]
        if check_id == "cloudsync.dropbox_lansync":
            assert data["namespace_count"] == 3 and len(data["namespaces_hash"]) == 8
            assert "1234567890" not in json.dumps(r)  # namespace ids never leave the probe
        else:
            assert re.fullmatch(r"[A-Z2-7]{7}", data["device_id_short"])


def test_syncthing_device_id_matches_what_syncthing_logged(lab: Any, windows: dict[str, Any]) -> None:
    (sender,) = SENDERS["cloudsync.syncthing"]
    log = next(Path(lab.workdir).glob(f"{sender.name}/syncthing/console.log")).read_text()
    device = re.search(r"My ID: ([A-Z2-7]{7})-", log)
    assert device, log
    (r,) = [r for r in windows["full"] if r["check"] == "cloudsync.syncthing" and r["discriminator"] == sender.address]
    assert r["evidence"][0]["data"]["device_id_short"] == device.group(1)


def test_senders_excluded_pass(windows: dict[str, list[dict[str, Any]]]) -> None:
    results = windows["excluded"]
    assert {r["check"] for r in results} == set(SENDERS)
    assert all(r["type"] == "Finding" and r["passed"] for r in results), results
    dropbox = next(r for r in results if r["check"] == "cloudsync.dropbox_lansync")
    assert dropbox["evidence"][0]["data"]["out_of_scope_senders"] >= 1  # heard, but not ours to report


def test_without_cap_net_raw_skipped_permission(windows: dict[str, list[dict[str, Any]]]) -> None:
    results = windows["unprivileged"]
    assert len(results) == 2
    assert all(r["type"] == "Skip" and r["reason"] == "permission" for r in results), results


def test_nmap_broadcast_dropbox_listener_agrees(lab: Any, windows: dict[str, Any]) -> None:
    proc = lab.run_in_scanner(["nmap", "-n", "--script", "broadcast-dropbox-listener"], timeout=90)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if "198.18." in line and "|" in line]
    ours = {r["discriminator"]: r["evidence"][0]["data"] for r in windows["full"]
            if r["check"] == "cloudsync.dropbox_lansync" and not r["passed"]}
    theirs = {}
    for row in rows:
        cells = [c for c in row if c not in ("|", "|_")]
        ip = next(c for c in cells if c.startswith("198.18."))
        rest = cells[cells.index(ip) + 1:]  # port, version, host_int, namespaces...
        theirs[ip] = {"port": int(rest[0]), "version": rest[1], "namespace_count": len(rest) - 3}
    assert set(theirs) == set(ours), proc.stdout
    for ip, facts in theirs.items():
        assert facts == {k: ours[ip][k] for k in ("port", "version", "namespace_count")}, proc.stdout


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
