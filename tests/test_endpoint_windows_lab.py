"""The Windows collector's impacket plumbing against the lab's real Samba 4.17 (issue 8).

Samba serves MS-RRP on ``\\PIPE\\winreg`` from its own registry (``HKLM\\SOFTWARE\\Microsoft\\
Windows NT\\CurrentVersion`` holds CurrentVersion "6.1" and SystemRoot; ``HKLM\\SOFTWARE\\Samba\\
smbconf`` is denied to a non-root user; HKU is empty). Run from the scanner namespace gs-scan:

- connect + NTLM logon + bind + OpenLocalMachine/OpenUsers + OpenKey + QueryValue/EnumKey +
  CloseKey, on the weak (SMB1, no signing) and the hardened (SMB2+, signing mandatory) server;
- an absent key reads as absent, a denied key is recorded as unreadable (never as absent);
- ``collect_windows`` end to end: the registry sections come back (undecidable on Samba, so
  Unknown/``missing``, never a PASS-looking value) while WMI is refused at TCP 135 — Samba has no
  DCOM/WMI, so the WMI path is exercised only on recordings (tests/unit/test_endpoint_windows.py);
- a wrong password is AUTH_FAILED and the password appears in no message; a closed port is REFUSED.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.lab import topology
from tests.lab.daemons.samba import SMB_PASSWORD, SMB_USER

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
PYTHON = str(REPO / ".venv" / "bin" / "python")
SAMBA_HOSTS = ("files-weak", "files-good")
WRONG_PASSWORD = "Wrong-Canary-7731!"

# Runs inside gs-scan: one job (JSON on argv) -> one JSON line on stdout.
SNIPPET = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
job = json.loads(sys.argv[2])
from checks.endpoint.windows.collect import collect_windows
from checks.endpoint.windows.logon import WindowsLogon
from checks.endpoint.windows.rrp import KeyUnreadable, RemoteRegistry
from scanner.errors import ProbeError
logon = WindowsLogon(job["user"], "CLINIC", password=job["password"])
out = {}
try:
    if job["kind"] == "registry":
        with RemoteRegistry(job["host"], logon, 5.0, port=job.get("port", 445)) as reg:
            cv = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
            out["values"] = reg.read(cv, ("CurrentVersion", "SystemRoot", "ProductName"))
            out["all_values"] = reg.read(cv, None)
            out["subkeys"] = reg.subkeys(cv)
            out["absent"] = reg.read("HKLM\\SOFTWARE\\Microsoft\\NoSuchKey", ("X",))
            out["users"] = reg.subkeys("HKU")
            try:
                reg.read("HKLM\\SOFTWARE\\Samba\\smbconf", None)
                out["denied"] = None
            except KeyUnreadable as exc:
                out["denied"] = str(exc)
    else:
        inv = collect_windows(job["host"], logon, 3.0)
        out["inventory"] = {
            "collector": inv.collector, "account": inv.account, "missing": dict(inv.missing),
            "os": inv.os is not None, "disk": inv.disk is not None, "antimalware": inv.antimalware is not None,
            "firewall": None if inv.firewall is None else [inv.firewall.enabled, inv.firewall.unknown],
            "screen_lock": None if inv.screen_lock is None else [inv.screen_lock.lock_enabled, inv.screen_lock.unknown],
            "sync": None if inv.sync_clients is None else [len(inv.sync_clients.seen), inv.sync_clients.unknown],
            "firewall_sources": [o.source for o in inv.firewall.observations] if inv.firewall else [],
        }
except ProbeError as exc:
    out["error"] = {"class": type(exc).__name__, "reason": str(exc.reason), "message": str(exc)}
print(json.dumps(out))
"""


def _run(lab: Any, **job: Any) -> dict[str, Any]:
    job.setdefault("user", SMB_USER)
    job.setdefault("password", SMB_PASSWORD)
    proc = lab.run_in_scanner([PYTHON, "-c", SNIPPET, str(REPO), json.dumps(job)], timeout=90)
    assert proc.returncode == 0, f"snippet failed:\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert SMB_PASSWORD not in proc.stdout + proc.stderr, "the lab password leaked into the output"
    return result


@pytest.mark.parametrize("name", SAMBA_HOSTS)
def test_remote_registry_reads_samba(lab: Any, name: str) -> None:
    out = _run(lab, kind="registry", host=topology.host(name).address)
    assert "error" not in out, out
    assert out["values"]["CurrentVersion"] == "6.1"  # Samba's answer, read over MS-RRP
    assert "ProductName" not in out["values"]  # a value the key lacks is simply absent
    assert out["all_values"]["SystemRoot"].lower() == "c:\\windows"
    assert "Winlogon" in out["subkeys"]
    assert out["absent"] is None
    assert out["users"] == []  # no loaded user hive on Samba
    assert out["denied"] == "access denied"


@pytest.mark.parametrize("name", SAMBA_HOSTS)
def test_collect_windows_against_samba(lab: Any, name: str) -> None:
    out = _run(lab, kind="collect", host=topology.host(name).address)
    assert "error" not in out, out
    inv = out["inventory"]
    assert (inv["collector"], inv["account"]) == ("windows", f"CLINIC\\{SMB_USER}")
    # Samba's registry has no Windows OS values: undecidable, said so, never guessed.
    assert not inv["os"] and inv["missing"]["os"].startswith("could not decide")
    assert inv["firewall"][0] is None and "EnableFirewall not set" in inv["firewall"][1]
    assert inv["screen_lock"][0] is None and "no user hive is loaded" in inv["screen_lock"][1]
    # Samba has no Uninstall key: nothing was listed, so no verdict (never "no client found").
    assert inv["sync"][0] == 0 and "not a Windows registry" in inv["sync"][1]
    assert any(src.endswith("PublicProfile\\EnableFirewall") for src in inv["firewall_sources"])
    # No DCOM on Samba: the WMI-fed sections are missing with the refusal as the reason.
    assert not inv["disk"] and "135: connection refused" in inv["missing"]["disk"]
    assert not inv["antimalware"] and "135: connection refused" in inv["missing"]["antimalware"]


@pytest.mark.parametrize("kind", ["registry", "collect"])
@pytest.mark.parametrize("name", SAMBA_HOSTS)
def test_wrong_password_is_auth_failed_without_the_password(lab: Any, kind: str, name: str) -> None:
    out = _run(lab, kind=kind, host=topology.host(name).address, password=WRONG_PASSWORD)
    error = out["error"]
    assert error["reason"] == "auth_failed", error
    assert "STATUS_LOGON_FAILURE" in error["message"] and f"CLINIC\\{SMB_USER}" in error["message"]
    assert WRONG_PASSWORD not in json.dumps(out)


def test_closed_port_is_refused(lab: Any) -> None:
    out = _run(lab, kind="registry", host=topology.host("files-weak").address, port=4455)
    assert out["error"]["reason"] == "refused" and out["error"]["class"] == "ProbeRefused"


def test_host_without_smb_or_wmi_raises_refused(lab: Any) -> None:
    out = _run(lab, kind="collect", host=topology.host("dns").address)
    assert out["error"]["reason"] == "refused", out
    assert "445" in out["error"]["message"]


@pytest.mark.parametrize("name", SAMBA_HOSTS)
def test_unknown_user_is_auth_failed(lab: Any, name: str) -> None:
    # files-weak maps unknown users to guest ("map to guest = Bad User"): still a refused logon.
    out = _run(lab, kind="registry", host=topology.host(name).address, user="nobody-here")
    assert out["error"]["reason"] == "auth_failed", out
    assert SMB_PASSWORD not in json.dumps(out)
