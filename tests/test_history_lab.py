"""History end to end against the lab's real daemons (issue 10, "done when"): scan the weak
file server, fix one planted gap for real (smbd signing made mandatory, config reloaded), rescan
and see exactly that finding resolved; restore the gap and see it regress; a recorded decline
appears in the next report.html; verify passes, then catches a result edited with raw SQL.

The smbd config of files-weak is shared with every other lab test: it is restored (and smbd
reloaded) in a ``finally`` whatever happens here.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.lab import topology
from tests.lab.lab import STATE_FILE

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
GAPSCAN = str(REPO / ".venv" / "bin" / "gapscan")
CLIENT = "Lab Dental"
HOST = next(h for h in topology.HOSTS if h.name == "files-weak")
SIGNING = "smb.signing_not_required"


def _gapscan(lab: Any, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Scanning commands run inside gs-scan (the only way to reach the lab)."""
    return lab.run_in_scanner([GAPSCAN, *args], timeout=timeout)


def _local(*args: str) -> subprocess.CompletedProcess[str]:
    """Store-only commands (no network at all)."""
    return subprocess.run([GAPSCAN, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _smb_conf(lab: Any) -> Path:
    workdir = lab.workdir
    if workdir is None:  # another process's lab: its state file records the work directory
        workdir = Path(json.loads(STATE_FILE.read_text())["workdir"])
    conf = Path(workdir) / HOST.name / "smbd" / "smb.conf"
    assert conf.is_file(), conf
    return conf


def _reload(lab: Any, conf: Path) -> None:
    _ok(lab.run_in(HOST.namespace, ["smbcontrol", "-s", str(conf), "smbd", "reload-config"]))


def _scan(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((path / "scan.json").read_text(encoding="utf-8"))
    return data


def _status(scan: dict[str, Any], check_id: str) -> str:
    (found,) = [r["status"] for r in scan["results"]
                if r["check_id"] == check_id and r["target"]["host"] == HOST.address]
    return str(found)


def test_fix_rescan_diff_decide_verify(lab: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    conf = _smb_conf(lab)
    original = conf.read_text(encoding="utf-8")
    assert "server signing = disabled" in original

    _ok(_gapscan(lab, "scan", "--listen-seconds", "0",
                 HOST.address, "--out", str(tmp_path / "1"), "--format", "json", "-q",
                 "--client", CLIENT, "--db", db, "--authorized-by", "lab test"))
    first = _scan(tmp_path / "1")
    assert _status(first, SIGNING) == "fail"
    try:
        conf.write_text(original.replace("server signing = disabled", "server signing = mandatory"),
                        encoding="utf-8")
        _reload(lab, conf)
        _ok(_gapscan(lab, "rescan", "--listen-seconds", "0",
                     "--client", CLIENT, "--db", db, "--out", str(tmp_path / "2"), "-q"))
    finally:
        conf.write_text(original, encoding="utf-8")
        _reload(lab, conf)
    second = _scan(tmp_path / "2")
    assert _status(second, SIGNING) == "pass", "the fix took effect on the real smbd"

    # The diff of the two stored runs: exactly the fixed finding is resolved.
    drift = json.loads(_ok(_local("diff", first["run_id"], second["run_id"], "--db", db, "--json")).stdout)
    resolved = [f for f in drift["findings"] if f["class"] == "resolved"]
    assert [f["check_id"] for f in resolved] == [SIGNING], resolved
    assert drift["counts"]["new"] == 0 and drift["counts"]["regressed"] == 0
    rescan_drift = json.loads((tmp_path / "2" / "drift.json").read_text(encoding="utf-8"))
    assert [f["fingerprint"] for f in rescan_drift["findings"] if f["class"] == "resolved"] == \
        [r["fingerprint"] for r in resolved]
    html = (tmp_path / "2" / "drift.html").read_text(encoding="utf-8")
    assert resolved[0]["fingerprint"] in html.split('id="class-resolved"')[1].split("<h3")[0]
    assert "<svg" in html

    # A decline recorded on another failed finding appears in the next report.
    declined = next(r for r in second["results"] if r["status"] == "fail" and r["check_id"] == "smb.v1_enabled")
    _ok(_local("decide", declined["fingerprint"], "--client", CLIENT, "--db", db, "--decision", "declined",
               "--by", "Dr. Lee, owner", "--note", "cost"))
    _ok(_gapscan(lab, "rescan", "--listen-seconds", "0",
                 "--client", CLIENT, "--db", db, "--out", str(tmp_path / "3"), "-q",
                 "--format", "json,html,tickets"))
    third = _scan(tmp_path / "3")
    assert _status(third, SIGNING) == "fail", "the gap is back after the restore"
    regressed = json.loads((tmp_path / "3" / "drift.json").read_text(encoding="utf-8"))
    assert [f["check_id"] for f in regressed["findings"] if f["class"] == "regressed"] == [SIGNING]
    assert len(regressed["trend"]) == 3
    report = (tmp_path / "3" / "report.html").read_text(encoding="utf-8")
    assert re.search(r"<b>Client decision:</b> declined by Dr\. Lee, owner, on \d{4}-\d{2}-\d{2}: cost", report)
    assert "declined by Dr. Lee, owner" in (tmp_path / "3" / "tickets.csv").read_text(encoding="utf-8")

    # Tamper-evidence: the untouched chain verifies; a result edited with raw SQL is named.
    assert "match their digests and chains" in _ok(_local("verify", "--db", db)).stderr
    fp = next(r["fingerprint"] for r in second["results"] if r["check_id"] == "smb.guest_access")
    with sqlite3.connect(tmp_path / "x.db") as conn:
        changed = conn.execute("UPDATE results SET status = 'pass' WHERE fingerprint = ? AND run_pk = "
                               "(SELECT id FROM runs WHERE run_id = ?)", (fp, second["run_id"])).rowcount
    assert changed == 1
    tampered = _local("verify", "--db", db)
    assert tampered.returncode == 4, tampered.stdout + tampered.stderr
    assert f"result {fp} of run {second['run_id']}" in tampered.stdout + tampered.stderr
