"""Issue 5 against the lab's real file servers: Samba 4.17, vsftpd 3.0.3, nfs-ganesha 4.3 + rpcbind.

- `gapscan scan` of files-weak and files-good (once per module, inside gs-scan): every file-sharing
  check FAILs where the topology planted the gap and PASSes on the hardened twin, with evidence;
- agreement on facts (not grades) with independent tools on the same hosts: nmap's
  smb-protocols and smb2-security-mode (SMBv1 accepted, dialects, signing required),
  showmount -e (export list), smbclient -N -L (shares a null session can enumerate);
- the intrusive write tests, run with an intrusive profile, leave nothing behind;
- a private Samba that speaks SMB 3.1.1 only, without required signing, started on gs-scan's
  loopback: the known false negative (impacket reports "required" for every 3.1.1 session) is
  not ours.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import topology
from tests.lab.daemons.samba import BACKUP_SHARE, GUEST_SHARE, USER_SHARE

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
GAPSCAN = str(REPO / ".venv" / "bin" / "gapscan")
PYTHON = str(REPO / ".venv" / "bin" / "python")
FILE_IDS = ("smb.signing_not_required", "smb.v1_enabled", "smb.guest_access", "smb.open_share",
            "ftp.anonymous_login", "nfs.open_export")
FILE_HOSTS = sorted({h.address for cid in FILE_IDS for h in topology.hosts_failing(cid) + topology.hosts_passing(cid)})
SERVICE_OF = {"smb": "smb", "ftp": "ftp", "nfs": "rpcbind"}  # the service each check family is planned on


def _scan(lab: Any, out: Path, *extra: str) -> dict[str, Any]:
    proc = lab.run_in_scanner([GAPSCAN, "scan", *FILE_HOSTS, "--listen-seconds", "0",
                               "--out", str(out), "-q", "--format", "json", *extra],
                              timeout=240)
    assert proc.returncode == 0, f"gapscan scan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads((out / "scan.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def file_scan(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield _scan(lab, tmp_path_factory.mktemp("fileshare-scan"))


def _results(scan: dict[str, Any], check_id: str, address: str) -> list[dict[str, Any]]:
    return [r for r in scan["results"] if r["check_id"] == check_id and r["target"]["host"] == address]


def _one(scan: dict[str, Any], check_id: str, address: str) -> dict[str, Any]:
    (result,) = _results(scan, check_id, address)
    return result


def _cases(which: str) -> list[Any]:
    hosts = topology.hosts_failing if which == "fail" else topology.hosts_passing
    return [pytest.param(cid, h, id=f"{cid}-{h.name}") for cid in FILE_IDS for h in hosts(cid)]


@pytest.mark.parametrize("check_id, host", _cases("fail"))
def test_planted_gap_fails_with_evidence(file_scan: dict[str, Any], check_id: str, host: topology.LabHost) -> None:
    results = _results(file_scan, check_id, host.address)
    assert results, f"{check_id} produced no result for {host.name}"
    assert all(r["status"] in ("fail", "pass") for r in results), [(r["status"], r["detail"]) for r in results]
    assert any(r["status"] == "fail" for r in results), [r["detail"] for r in results]
    service = SERVICE_OF[check_id.split(".")[0]]
    for result in results:
        assert result["target"]["service"] == service
        assert result["evidence"] and result["evidence"][0]["data"], "evidence must hold the observed facts"
        assert host.address in result["detail"]


@pytest.mark.parametrize("check_id, host", _cases("pass"))
def test_hardened_twin_passes(file_scan: dict[str, Any], check_id: str, host: topology.LabHost) -> None:
    results = _results(file_scan, check_id, host.address)
    assert results, f"{check_id} produced no result for {host.name}"
    assert [r["status"] for r in results] == ["pass"] * len(results), [r["detail"] for r in results]
    assert all(r["evidence"] for r in results)


def test_one_nfs_target_per_host(file_scan: dict[str, Any]) -> None:
    # rpcbind, mountd and nfs are all open: the check is planned on rpcbind/tcp only.
    for address in FILE_HOSTS:
        results = _results(file_scan, "nfs.open_export", address)
        ports = {(r["target"]["port"], r["target"]["transport"]) for r in results}
        assert ports == {(111, "tcp")}, ports


def test_weak_host_details(file_scan: dict[str, Any]) -> None:
    weak = topology.hosts_failing("smb.open_share")[0].address
    shares = {r["fingerprint"]: r for r in _results(file_scan, "smb.open_share", weak)}
    by_name = {r["detail"].split(":")[0].rsplit("\\", 1)[1]: r for r in shares.values()}
    assert by_name[GUEST_SHARE]["status"] == "fail" and "READ by null session" in by_name[GUEST_SHARE]["detail"]
    assert by_name[USER_SHARE]["status"] == "pass" and "STATUS_ACCESS_DENIED" in by_name[USER_SHARE]["detail"]
    # Issue 20: a guest-readable share holding a system image is critical, its backup evidence named.
    images = by_name[BACKUP_SHARE]
    assert images["status"] == "fail" and images["severity"] == "critical", images
    assert "WindowsImageBackup" in images["detail"]
    assert by_name[GUEST_SHARE]["severity"] == "high"
    signing = _one(file_scan, "smb.signing_not_required", weak)
    assert "signing enabled but not required" in signing["detail"]
    data = signing["evidence"][0]["data"]
    assert data["smb2"]["accepted"] == "3.0.2" and data["smb2"]["security_mode"] == "0x01"
    ftp = _one(file_scan, "ftp.anonymous_login", weak)
    assert "listing works" in ftp["detail"]
    assert ftp["severity"] == "critical" and "WindowsImageBackup" in ftp["detail"]
    assert ftp["evidence"][0]["data"]["dialogue"][0]["code"] == 230
    nfs = _one(file_scan, "nfs.open_export", weak)
    assert "'*' (any host)" in nfs["detail"] and "root squash" in nfs["detail"]


def test_no_credential_or_file_content_in_scan_json(file_scan: dict[str, Any]) -> None:
    from tests.lab.daemons.samba import SMB_PASSWORD

    text = json.dumps(file_scan)
    assert SMB_PASSWORD not in text
    assert "gapscan@invalid" not in text, "the anonymous FTP password is masked in evidence"
    assert "lab dummy file" not in text and "scan-0001.pdf" not in text, "no file contents or file names"


# ---------------------------------------------------------------- agreement with independent tools

def _nmap_smb(lab: Any, address: str) -> tuple[set[str], str]:
    proc = lab.run_in_scanner(["nmap", "-p445", "--script", "smb2-security-mode,smb-protocols", "-n", address],
                              timeout=120)
    assert proc.returncode == 0, proc.stderr
    dialects_block = proc.stdout.split("dialects:", 1)[1].split("smb2-security-mode", 1)[0]
    dialects = {line.strip("|_ ").split(" ")[0].replace(":", "") for line in dialects_block.splitlines()
                if line.strip("|_ ")}
    if "NT LM 0.12" in dialects_block:
        dialects.add("NT LM 0.12")
    signing = proc.stdout.split("smb2-security-mode:", 1)[1]
    return dialects, signing


@pytest.mark.parametrize("address", FILE_HOSTS)
def test_smb_facts_agree_with_nmap(lab: Any, file_scan: dict[str, Any], address: str) -> None:
    nmap_dialects, nmap_signing = _nmap_smb(lab, address)
    neg = _one(file_scan, "smb.v1_enabled", address)["evidence"][0]["data"]
    # SMBv1: nmap lists "NT LM 0.12 (SMBv1)" exactly when the server accepted it.
    assert ("NT LM 0.12" in nmap_dialects) == (neg["smb1"]["accepted"] == "NT LM 0.12"), (nmap_dialects, neg)
    # SMB2/3: our highest <= 3.0.2 is nmap's highest <= 302; 3.1.1 accepted by both or neither.
    nmap_up_to_302 = max(d for d in nmap_dialects if d.isdigit() and int(d) <= 302)
    assert nmap_up_to_302 == neg["smb2"]["accepted"].replace(".", ""), (nmap_dialects, neg["smb2"])
    assert ("311" in nmap_dialects) == (neg["smb3_1_1"]["accepted"] == "3.1.1")
    # Signing: nmap reads the 3.1.1 SecurityMode; "required" must match our verdict and our raw bits.
    nmap_required = "enabled and required" in nmap_signing
    assert nmap_required or "enabled but not required" in nmap_signing, nmap_signing
    assert nmap_required == neg["smb3_1_1"]["signing_required"] == neg["smb2"]["signing_required"]
    ours = _one(file_scan, "smb.signing_not_required", address)["status"] == "pass"
    assert ours == nmap_required


def _showmount(lab: Any, address: str) -> dict[str, set[str]]:
    proc = lab.run_in_scanner(["showmount", "-e", "--no-headers", address], timeout=60)
    assert proc.returncode == 0, proc.stderr
    exports = {}
    for line in proc.stdout.splitlines():
        path, _, groups = line.partition(" ")
        exports[path] = {g for g in re.split(r"[,\s]+", groups.strip()) if g}
    return exports


@pytest.mark.parametrize("address", FILE_HOSTS)
def test_nfs_exports_agree_with_showmount(lab: Any, file_scan: dict[str, Any], address: str) -> None:
    ours = _one(file_scan, "nfs.open_export", address)["evidence"][0]["data"]["exports"]
    assert {e["path"]: set(e["groups"]) for e in ours} == _showmount(lab, address)


@pytest.mark.parametrize("address", FILE_HOSTS)
def test_share_enumeration_agrees_with_smbclient(lab: Any, file_scan: dict[str, Any], address: str) -> None:
    proc = lab.run_in_scanner(["smbclient", "-N", "-L", f"//{address}", "-g"], timeout=60)
    listed = {line.split("|")[1] for line in proc.stdout.splitlines() if line.count("|") >= 2}
    evidence = _one(file_scan, "smb.guest_access", address)["evidence"][0]["data"]
    null = next(s for s in evidence["sessions"] if s["identity"] == "null session")
    if null["enumerated"]:
        assert proc.returncode == 0 and listed == {s["name"] for s in evidence["shares"]}, proc.stdout
    else:
        assert proc.returncode != 0 and not listed and "NT_STATUS_ACCESS_DENIED" in proc.stdout + proc.stderr


# ---------------------------------------------------------------- intrusive write tests

def test_intrusive_write_tests_report_refusal_and_leave_nothing(lab: Any, tmp_path: Path) -> None:
    profile = tmp_path / "intrusive.yaml"
    profile.write_text(
        "name: lab-intrusive\n"
        "description: issue 5 write tests against the lab\n"
        "checks: {include: [smb.open_share, ftp.anonymous_login]}\n"
        "intrusive: true\n"
        "intrusive_reason: lab test; the lab's file servers exist to be tested\n")
    scan = _scan(lab, tmp_path / "out", "--profile", str(profile))
    weak = topology.hosts_failing("smb.open_share")[0].address
    share = next(r for r in _results(scan, "smb.open_share", weak) if f"\\{GUEST_SHARE}:" in r["detail"])
    assert share["status"] == "fail" and "WRITE refused" in share["detail"], share["detail"]
    ftp = _one(scan, "ftp.anonymous_login", weak)
    assert "upload refused" in ftp["detail"], ftp["detail"]
    listing = lab.run_in_scanner(["smbclient", "-N", f"//{weak}/{GUEST_SHARE}", "-c", "ls"], timeout=60)
    assert listing.returncode == 0 and "gapscan-write-test" not in listing.stdout


# ---------------------------------------------------------------- SMB 3.1.1-only server

SMB311_ONLY_CONF = """[global]
    server role = standalone server
    disable netbios = yes
    smb ports = {port}
    interfaces = 127.0.0.1
    bind interfaces only = yes
    server min protocol = SMB3_11
    server signing = auto
    map to guest = Never
    restrict anonymous = 2
{paths}
    log file = {d}/log.smbd
    load printers = no
    printcap name = /dev/null
    disable spoolss = yes
"""
PROBE_SNIPPET = """
import json, sys
from checks.smb.probe import SmbNegotiate
from checks.smb.signing import SmbSigningNotRequired
from scanner.check import ProbeContext
from scanner.check import TimeoutConfig
from scanner.models import Target
from impacket.smbconnection import SMBConnection
target = Target(host="127.0.0.1", port=int(sys.argv[1]), service="smb")
facts = SmbNegotiate().collect(target, ProbeContext(timeouts=TimeoutConfig()))
(finding,) = SmbSigningNotRequired().evaluate(target, {SmbNegotiate: facts})
conn = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=int(sys.argv[1]), timeout=5)
print(json.dumps({"passed": finding.passed, "detail": finding.detail, "accepted": facts.accepted_dialects,
                  "impacket_dialect": conn.getDialect(), "impacket_says_required": conn.isSigningRequired()}))
"""


def test_311_only_server_without_required_signing_fails(lab: Any, tmp_path: Path) -> None:
    port = 44511
    d = tmp_path / "smbd"
    dirs = ("lock", "state", "cache", "private", "run", "ncalrpc")
    for sub in dirs:
        (d / sub).mkdir(parents=True)
    paths = "\n".join(f"    {name} = {d / sub}" for name, sub in (
        ("lock directory", "lock"), ("state directory", "state"), ("cache directory", "cache"),
        ("private dir", "private"), ("pid directory", "run"), ("ncalrpc dir", "ncalrpc")))
    conf = d / "smb.conf"
    conf.write_text(SMB311_ONLY_CONF.format(port=port, paths=paths, d=d)
                    + f"    passdb backend = tdbsam:{d / 'private' / 'passdb.tdb'}\n")
    # smbd lives on gs-scan's own loopback: no lab host is touched, and it goes with this test.
    # Its own session: on SIGTERM smbd signals its whole process group, which must not be ours.
    smbd = subprocess.Popen(lab.scanner_cmd(["smbd", "--foreground", "--no-process-group", "-s", str(conf)],
                                            trust_lab_ca=False),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            ready = lab.run_in_scanner(["bash", "-c", f"echo > /dev/tcp/127.0.0.1/{port}"], timeout=10)
            if ready.returncode == 0:
                break
            assert smbd.poll() is None, f"private smbd exited ({smbd.returncode}): {(d / 'log.smbd').read_text()}"
            assert time.monotonic() < deadline, "private smbd did not start listening"
            time.sleep(0.2)
        proc = lab.run_in_scanner([PYTHON, "-c", PROBE_SNIPPET, str(port)], timeout=60)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        smbd.terminate()
        try:
            smbd.wait(10)
        except subprocess.TimeoutExpired:
            smbd.kill()
    assert out["accepted"] == ["3.1.1"]
    assert out["passed"] is False and "SMB 3.1.1: signing enabled but not required" in out["detail"]
    # The trap we avoid: impacket claims signing is required on this very server.
    assert out["impacket_dialect"] == 0x0311 and out["impacket_says_required"] is True, out
