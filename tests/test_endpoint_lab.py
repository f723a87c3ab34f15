"""Credentialed endpoint checks end to end (issue 8, "done when"): ``gapscan scan --credentials``
from gs-scan against the lab's two Linux laptops (real sshd, sudo, lsblk, nftables, dconf,
clamd in private mount+PID namespaces; see tests/lab/daemons/endpoint.py for what is planted).

Asserted: every planted gap FAILs and every hardened twin PASSes with evidence and the time of
collection; the lab password (a canary) appears in no artifact of the run — scan.json, the
partial results file, report.html, the CSVs, the history database, stdout and stderr — not even
after a failed logon; a changed host key is a FAIL and a refusal to log on (sshd never sees an
authentication attempt); wrong credentials and a credential without sudo give ``error`` results
with the right reason, never PASS.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import topology
from tests.lab.daemons.endpoint_upkeep import BORG_REPO, RESTIC_PASSWORD_FILE, RESTIC_REPO, STALE_DAYS

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
GAPSCAN = str(REPO / ".venv" / "bin" / "gapscan")
WEAK = next(h for h in topology.HOSTS if h.name == "laptop-weak")
GOOD = next(h for h in topology.HOSTS if h.name == "laptop-good")
ENDPOINT_CHECKS = (*topology.ENDPOINT_IDS, *topology.UPKEEP_IDS, "endpoint.backup_missing",
                   "endpoint.ssh_host_key_changed", "cloudsync.client_installed")
# Judged on every collection: PASS when the key matches or is recorded on first use.
KEY_CHECK = "endpoint.ssh_host_key_changed"
CANARY = topology.ENDPOINT_PASSWORD
WRONG_CANARY = "Canary-WRONG-77d1c0-NeverInOutput"


def _workdir(lab: Any) -> Path:
    workdir = lab.workdir
    if workdir is None:  # another process's lab: its state file records the work directory
        workdir = Path(json.loads(Path("/run/gapscan-lab/state.json").read_text())["workdir"])
    return Path(workdir)


def _write_private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return path


@pytest.fixture()
def creds(lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A credentials file: password (canary, from the environment) for the weak laptop, the lab's
    client key for the hardened one; both may use sudo for the allow-listed commands."""
    key = tmp_path / "client_key"
    shutil.copy(_workdir(lab) / GOOD.name / "endpoint" / "client_ed25519", key)
    key.chmod(0o600)
    monkeypatch.setenv("GS_LAB_PASSWORD", CANARY)
    return _write_private(tmp_path / "credentials.yaml", f"""\
credentials:
  - name: lab-weak
    kind: ssh
    targets: [{WEAK.address}]
    username: {topology.ENDPOINT_USER}
    password_env: GS_LAB_PASSWORD
    sudo: true
    restic_repositories:
      - {{repository: {RESTIC_REPO}, password_file: {RESTIC_PASSWORD_FILE}}}
  - name: lab-good
    kind: ssh
    targets: [{GOOD.address}]
    username: {topology.ENDPOINT_USER}
    key_file: {key}
    sudo: true
    restic_repositories:
      - {{repository: {RESTIC_REPO}, password_file: {RESTIC_PASSWORD_FILE}}}
""")


def _scan(lab: Any, out: Path, creds: Path, *targets: str, extra: tuple[str, ...] = ()) -> tuple[
        dict[str, Any], str]:
    proc = lab.run_in_scanner([GAPSCAN, "scan", *targets, "--credentials", str(creds), "--profile", "quick",
                               "--listen-seconds", "0", "--out", str(out), *extra], timeout=240)
    assert proc.returncode in (0, 3), f"exit {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return json.loads((out / "scan.json").read_text()), proc.stdout + proc.stderr


def _by_check(data: dict[str, Any], host: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for r in data["results"]:
        if r["target"].get("host") == host and r["check_id"] in ENDPOINT_CHECKS:
            found.setdefault(r["check_id"], []).append(r)
    return found


def _files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file():
            yield path


def test_planted_gaps_fail_hardened_twins_pass_and_the_canary_never_leaks(
        lab: Any, creds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    out = tmp_path / "out"
    data, console = _scan(lab, out, creds, WEAK.address, GOOD.address,
                          extra=("--client", "Lab Clinic", "--format", "json,html,csv,tickets"))
    for host, expect in ((WEAK, "fail"), (GOOD, "pass")):
        results = _by_check(data, host.address)
        planted = host.gaps if expect == "fail" else host.hardened
        for check_id in sorted(planted & set(ENDPOINT_CHECKS)):
            statuses = {r["status"] for r in results.get(check_id, [])}
            assert statuses, f"{host.name}: no result for {check_id}"
            if expect == "fail":
                assert "fail" in statuses, (host.name, check_id, results[check_id])
            else:
                assert statuses == {"pass"}, (host.name, check_id, results[check_id])
            for r in results[check_id]:
                assert r["evidence"] and r["evidence"][0]["collected_at"], (check_id, r)
    for host in (WEAK, GOOD):
        assert [r["status"] for r in _by_check(data, host.address)[KEY_CHECK]] == ["pass"]
    weak = _by_check(data, WEAK.address)
    mounts = {r["detail"].split("(")[1].split(";")[0] for r in weak["endpoint.disk_encryption_off"]}
    assert {"/srv/patient-data", "/"} <= mounts  # the real loop filesystem and the VM's root
    fw = weak["endpoint.firewall_off"][0]
    sources = [o["source"] for o in fw["evidence"][0]["data"]["observations"]]
    assert any("sudo -n nft list ruleset" in s for s in sources), sources
    good = _by_check(data, GOOD.address)
    assert "ClamAV" in good["endpoint.antimalware_missing"][0]["detail"]
    assert "policy drop" in good["endpoint.firewall_off"][0]["detail"]
    assert any("Dropbox" in r["detail"] for r in weak["cloudsync.client_installed"])
    # Issue 20: the facts behind each verdict, as the real tools reported them.
    stale = {r["fingerprint"]: r for r in weak["endpoint.backup_stale"]}
    restic = next(r for r in stale.values() if f"restic to {RESTIC_REPO}" in r["detail"])
    assert restic["status"] == "fail" and f"{STALE_DAYS * 24} h before collection" in restic["detail"], restic
    borg = next(r for r in weak["endpoint.backup_unencrypted"] if BORG_REPO in r["detail"])
    assert borg["status"] == "fail" and "encryption mode none" in borg["detail"], borg
    (patches,) = weak["endpoint.patches_pending"]
    assert "sudo" in patches["detail"] and "Debian-Security" in patches["detail"], patches
    accounts = {r["detail"].split(": ", 1)[1].split(" ")[0]: r for r in weak["endpoint.accounts_weak"]}
    assert any("toor" in r["detail"] and r["status"] == "fail" for r in weak["endpoint.accounts_weak"])
    assert any("kiosk" in r["detail"] and r["status"] == "fail" for r in weak["endpoint.accounts_weak"]), accounts
    (software,) = weak["endpoint.software_unsupported"]
    assert "postgresql-11" in software["detail"] and "2023-11-09" in software["detail"]
    assert any(s["name"] == "postgresql-11" for s in software["software"])
    # The canary: nowhere in what the run wrote, printed or stored.
    db = tmp_path / "data" / "gapscan" / "gapscan.db"
    assert db.is_file()
    artifacts = [*list(_files(out)), db]
    assert any(p.name == "report.html" for p in artifacts)
    for path in artifacts:
        assert CANARY.encode() not in path.read_bytes(), f"the lab password leaked into {path}"
    assert CANARY not in console


def test_changed_host_key_is_a_finding_and_nothing_is_sent(lab: Any, creds: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data_home = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    store = data_home / "gapscan" / "known_hosts"
    store.parent.mkdir(parents=True)
    # Another real key (the hardened laptop's) on record for the weak laptop: as after a reinstall.
    impostor_line = (_workdir(lab) / GOOD.name / "endpoint" / "ssh_host_ed25519_key.pub").read_text().split()[1]
    store.write_text(f"{WEAK.address} ssh-ed25519 {impostor_line}\n")
    log = _workdir(lab) / WEAK.name / "endpoint" / "console.log"
    before = log.read_text()
    data, console = _scan(lab, tmp_path / "out", creds, WEAK.address)
    results = _by_check(data, WEAK.address)
    (key_result,) = results["endpoint.ssh_host_key_changed"]
    assert key_result["status"] == "fail" and "refused to log on" in key_result["detail"]
    assert key_result["evidence"][0]["data"]["status"] == "changed"
    for check_id in topology.ENDPOINT_IDS:
        assert {r["status"] for r in results[check_id]} == {"error"}, results[check_id]
        assert {r["reason"] for r in results[check_id]} == {"host_key_refused"}
    # The key on record was not replaced, and sshd saw no authentication attempt at all.
    assert impostor_line in store.read_text()
    new_lines = log.read_text()[len(before):]
    assert "Accepted" not in new_lines and "Failed password" not in new_lines, new_lines
    assert CANARY not in console


def test_wrong_password_is_auth_failed_and_not_echoed(lab: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("GS_WRONG", WRONG_CANARY)
    creds = _write_private(tmp_path / "wrong.yaml", f"""\
credentials:
  - name: wrong
    kind: ssh
    targets: [{WEAK.address}]
    username: {topology.ENDPOINT_USER}
    password_env: GS_WRONG
""")
    out = tmp_path / "out"
    data, console = _scan(lab, out, creds, WEAK.address)
    results = _by_check(data, WEAK.address)
    for check_id in topology.ENDPOINT_IDS:
        assert [(r["status"], r["reason"]) for r in results[check_id]] == [("error", "auth_failed")]
    for path in _files(out):
        assert WRONG_CANARY.encode() not in path.read_bytes(), path
    assert WRONG_CANARY not in console


def test_without_sudo_the_firewall_is_an_error_not_a_verdict(lab: Any, creds: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    no_sudo = _write_private(tmp_path / "nosudo.yaml", creds.read_text().replace("sudo: true", "sudo: false"))
    data, _ = _scan(lab, tmp_path / "out", no_sudo, GOOD.address)
    results = _by_check(data, GOOD.address)
    (fw,) = results["endpoint.firewall_off"]
    assert (fw["status"], fw["reason"]) == ("error", "permission"), fw
    assert "sudo" in fw["detail"]
    # What needs no root is still judged.
    assert {r["status"] for r in results["endpoint.screen_lock_missing"]} == {"pass"}


def test_the_lab_password_is_only_in_the_environment(creds: Path) -> None:
    text = creds.read_text()
    assert CANARY not in text and "password_env" in text
    assert os.environ["GS_LAB_PASSWORD"] == CANARY


def test_windows_credential_against_samba_never_passes_and_never_leaks(
        lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Windows collector through ``gapscan scan`` against real Samba (winreg over SMB; no WMI):
    the logon works, but nothing Windows-specific can be read, so every endpoint check must say
    ``error`` (or skip) — never PASS — and the password must appear nowhere."""
    from tests.lab.daemons.samba import SMB_PASSWORD, SMB_USER

    files = next(h for h in topology.HOSTS if h.name == "files-good")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("GS_SMB_PASSWORD", SMB_PASSWORD)
    creds = _write_private(tmp_path / "win.yaml", f"""\
credentials:
  - name: samba-as-windows
    kind: windows
    targets: [{files.address}]
    domain: CLINIC
    username: {SMB_USER}
    password_env: GS_SMB_PASSWORD
""")
    out = tmp_path / "out"
    data, console = _scan(lab, out, creds, files.address)
    results = _by_check(data, files.address)
    for check_id in (*topology.ENDPOINT_IDS, *(c for c in topology.UPKEEP_IDS if c != "endpoint.accounts_weak")):
        statuses = {r["status"] for r in results[check_id]}
        assert "pass" not in statuses and statuses <= {"error", "skipped"}, results[check_id]
    assert {r["status"] for r in results["endpoint.ssh_host_key_changed"]} == {"skipped"}
    # Issue 20: the SAM account policy is real on Samba (MS-SAMR): hardened length and lockout pass;
    # Samba always reports its guest account (RID 501) as enabled, so that aspect fails here too.
    by_aspect = {r["fingerprint"]: r for r in results["endpoint.accounts_weak"]}
    policy = [r for r in by_aspect.values() if "Guest" not in r["detail"]]
    assert {r["status"] for r in policy} == {"pass"} and len(policy) == 2, policy
    assert any("minimum password length 12" in r["detail"] for r in policy)
    assert any("locks after 5 failed logons" in r["detail"] for r in policy)
    assert [r["status"] for r in by_aspect.values() if "Guest" in r["detail"]] == ["fail"]
    for path in _files(out):
        assert SMB_PASSWORD.encode() not in path.read_bytes(), path
    assert SMB_PASSWORD not in console


def test_rescan_with_credentials_builds_the_proof_timeline(lab: Any, creds: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The technician's proof months later: two stored runs of the hardened laptop, and
    ``gapscan evidence`` listing the volume encrypted in each, with its run's digest."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db = str(tmp_path / "history.db")
    _scan(lab, tmp_path / "first", creds, GOOD.address, extra=("--client", "Lab Clinic", "--db", db))
    proc = lab.run_in_scanner([GAPSCAN, "rescan", "--client", "Lab Clinic", "--db", db, "--credentials", str(creds),
                               "--out", str(tmp_path / "second"), "-q"], timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    timeline = lab.run_in_scanner([GAPSCAN, "evidence", "--client", "Lab Clinic", "--host", GOOD.address,
                                   "--check", "endpoint.disk_encryption_off", "--db", db, "--json"])
    assert timeline.returncode == 0, timeline.stderr
    entries = json.loads(timeline.stdout)
    assert len(entries) == 2 and all(len(e["sha256"]) == 64 for e in entries)
    for entry in entries:
        root = next(r for r in entry["results"] if "(/;" in r["detail"])
        assert root["status"] == "pass" and "encrypted" in root["detail"]
        assert root["evidence"][0]["collected_at"]


SESSION_PROBE = r"""
import json, sys, pathlib
from checks.endpoint.commands import Command
from checks.endpoint.ssh import SessionLimits, SshSession
from scanner.config.credentials_file import load_credentials
from scanner.errors import ProbeError
store = load_credentials(pathlib.Path(sys.argv[1]), interactive=False)
cred = store.for_host(sys.argv[2])
out = {}
with SshSession(sys.argv[2], cred, SessionLimits(connect=3.0, command=1.5)) as s:
    slow = s.run(Command("sleep", ("sleep", "30")))
    out["slow"] = [slow.exit_status, slow.not_run]
    quick = s.run(Command("uname", ("uname", "-s")))
    out["after"] = [quick.exit_status, quick.stdout]
for name, port in (("ftp", 21), ("closed", 2222)):
    other = cred.__class__(**{**cred.__dict__, "port": port})
    try:
        SshSession(sys.argv[3], other, SessionLimits(connect=3.0)).open()
        out[name] = "opened?!"
    except ProbeError as exc:
        out[name] = [exc.reason.value, str(exc)]
print(json.dumps(out))
"""


def test_hung_command_garbage_server_and_closed_port(lab: Any, creds: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Against real servers: a command that hangs ends at its timeout and the session goes on; a
    server that is not SSH (vsftpd's banner) is a protocol error; a closed port is refused."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    files = next(h for h in topology.HOSTS if h.name == "files-weak")
    script = tmp_path / "probe.py"
    script.write_text(SESSION_PROBE)
    proc = lab.run_in_scanner([str(REPO / ".venv" / "bin" / "python"), str(script), str(creds), GOOD.address,
                               files.address], timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["slow"][0] is None and "did not finish within 2 s" in out["slow"][1]
    assert out["after"] == [0, "Linux\n"]
    assert out["ftp"][0] == "protocol" and "SSH handshake" in out["ftp"][1]
    assert out["closed"][0] == "refused"


SAMR_SNIPPET = r"""
import json, sys
from checks.endpoint.windows.logon import WindowsLogon
from checks.endpoint.windows.samr import read_policy
print(json.dumps(read_policy(sys.argv[1], WindowsLogon(sys.argv[2], "CLINIC", password=sys.argv[3]), 5.0).as_data()))
"""


@pytest.mark.parametrize("name", ["files-weak", "files-good"])
def test_samba_account_policy_over_samr_agrees_with_pdbedit(lab: Any, name: str) -> None:
    """MS-SAMR against the lab's real Samba: the policy the check judges is the one pdbedit set."""
    from tests.lab.daemons.samba import SMB_PASSWORD, SMB_USER

    host = next(h for h in topology.HOSTS if h.name == name)
    proc = lab.run_in_scanner([str(REPO / ".venv" / "bin" / "python"), "-c", SAMR_SNIPPET, host.address, SMB_USER,
                               SMB_PASSWORD], timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    policy = json.loads(proc.stdout.strip().splitlines()[-1])
    conf = _workdir(lab) / name / "smbd" / "smb.conf"
    truth = {}
    for key in ("min password length", "bad lockout attempt"):
        done = subprocess.run(["pdbedit", "-s", str(conf), "-P", key], capture_output=True, text=True, timeout=30)
        truth[key] = int(done.stdout.strip().rsplit(" ", 1)[-1])
    assert policy["min_password_length"] == truth["min password length"]
    assert policy["lockout_threshold"] == truth["bad lockout attempt"]
    weak = "endpoint.accounts_weak" in host.gaps
    assert (policy["min_password_length"], policy["lockout_threshold"]) == ((5, 0) if weak else (12, 5))
    assert SMB_PASSWORD not in proc.stdout + proc.stderr
