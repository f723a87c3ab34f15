"""Issue 6 cleartext checks against real daemons: vsftpd without / with AUTH TLS (files-weak,
files-good), nginx serving a login form on plain HTTP / redirecting to https (web-weak,
web-good), inetutils telnetd under inetd on the workstation (ws:23), PostgreSQL and MariaDB
without / with TLS required (files-weak, files-good)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import topology
from tests.lab.topology import DB_PASSWORD, DB_USER

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
GAPSCAN = str(REPO / ".venv" / "bin" / "gapscan")
IDS = ("cleartext.ftp", "cleartext.http_login", "db.cleartext_exposed", "cleartext.vnc")
TELNET_HOSTS = [h for h in topology.HOSTS if any(s.service == "telnet" for s in h.services)]
# (check id, port) pairs whose hardened twin cannot be proven without credentials: MariaDB enforces
# require_secure_transport only after a successful login (checks/db/mysql_probe.py), so files-good:3306
# must end in skipped/no_credentials, never in a PASS it did not earn (test_mysql_details).
NO_CREDENTIAL_SKIPS = {("db.cleartext_exposed", 3306)}
HOSTS = sorted({h.address for cid in IDS for h in topology.hosts_failing(cid) + topology.hosts_passing(cid)}
               | {h.address for h in TELNET_HOSTS})


@pytest.fixture(scope="module")
def scan(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("cleartext-scan")
    proc = lab.run_in_scanner([GAPSCAN, "scan", *HOSTS, "--listen-seconds", "0",
                               "--out", str(out), "-q", "--format", "json"], timeout=240)
    assert proc.returncode == 0, f"gapscan scan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    yield json.loads((out / "scan.json").read_text())


def _results(scan: dict[str, Any], check_id: str, address: str) -> list[dict[str, Any]]:
    return [r for r in scan["results"] if r["check_id"] == check_id and r["target"]["host"] == address]


def _cases(which: str) -> list[Any]:
    hosts = topology.hosts_failing if which == "fail" else topology.hosts_passing
    return [pytest.param(cid, h, id=f"{cid}-{h.name}") for cid in IDS for h in hosts(cid)]


@pytest.mark.parametrize("check_id, host", _cases("fail"))
def test_planted_gap_fails_with_evidence(scan: dict[str, Any], check_id: str, host: topology.LabHost) -> None:
    results = _results(scan, check_id, host.address)
    assert results and [r["status"] for r in results] == ["fail"] * len(results), [r["detail"] for r in results]
    assert all(r["evidence"][0]["data"] and host.address in r["detail"] for r in results)


@pytest.mark.parametrize("check_id, host", _cases("pass"))
def test_hardened_twin_passes(scan: dict[str, Any], check_id: str, host: topology.LabHost) -> None:
    results = [r for r in _results(scan, check_id, host.address)
               if (check_id, r["target"]["port"]) not in NO_CREDENTIAL_SKIPS]
    assert results and [r["status"] for r in results] == ["pass"] * len(results), [r["detail"] for r in results]


def test_details(scan: dict[str, Any]) -> None:
    weak_ftp = _results(scan, "cleartext.ftp", topology.hosts_failing("cleartext.ftp")[0].address)[0]
    assert "AUTH TLS answered 530" in weak_ftp["detail"]
    weak_web = _results(scan, "cleartext.http_login", topology.hosts_failing("cleartext.http_login")[0].address)[0]
    assert "password field" in weak_web["detail"] and weak_web["target"]["port"] == 80
    good_web = _results(scan, "cleartext.http_login", topology.hosts_passing("cleartext.http_login")[0].address)[0]
    assert "redirects to https://" in good_web["detail"]


def test_telnet_fails_where_it_answers_and_nowhere_else(scan: dict[str, Any]) -> None:
    assert TELNET_HOSTS, "the lab plants a Telnet service"
    telnet = [r for r in scan["results"] if r["check_id"] == "cleartext.telnet"]
    assert {(r["target"]["host"], r["target"]["port"]) for r in telnet} == {
        (h.address, s.port) for h in TELNET_HOSTS for s in h.services if s.service == "telnet"}
    for result in telnet:
        assert result["status"] == "fail" and "speaks Telnet (option negotiation" in result["detail"]
        assert result["evidence"][0]["data"]["iac_negotiation"] is True


# ----------------------------------------------------------- SNMP (net-snmp snmpd, UDP 161)

SNMP_PROFILE = """name: lab-snmp
description: The lab's SNMP agents, found by UDP discovery of port 161.
checks:
  include: ["snmp.*"]
discovery:
  udp_ports: [161]
"""


@pytest.fixture(scope="module")
def snmp_scan(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("snmp-scan")
    profile = out / "lab-snmp.yaml"
    profile.write_text(SNMP_PROFILE)
    hosts = sorted(h.address for h in topology.hosts_failing("snmp.default_community")
                   + topology.hosts_passing("snmp.default_community"))
    proc = lab.run_in_scanner([GAPSCAN, "scan", *hosts, "--listen-seconds", "0",
                               "--profile", str(profile), "--out", str(out), "-q",
                               "--format", "json"], timeout=120)
    assert proc.returncode == 0, f"gapscan scan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    yield json.loads((out / "scan.json").read_text())


def test_snmp_public_fails_and_random_community_passes(snmp_scan: dict[str, Any]) -> None:
    for host in topology.hosts_failing("snmp.default_community"):
        (result,) = _results(snmp_scan, "snmp.default_community", host.address)
        assert result["status"] == "fail" and "'public' (v2c)" in result["detail"], result["detail"]
        assert f"gapscan lab {host.name}" in result["evidence"][0]["data"]["answered"][0]["sysDescr"]
    for host in topology.hosts_passing("snmp.default_community"):
        (result,) = _results(snmp_scan, "snmp.default_community", host.address)
        assert result["status"] == "pass" and result["target"]["transport"] == "udp", result["detail"]


def _on_port(results: list[dict[str, Any]], port: int) -> dict[str, Any]:
    (result,) = [r for r in results if r["target"]["port"] == port]
    return result


def test_postgresql_details(scan: dict[str, Any]) -> None:
    weak = _on_port(_results(scan, "db.cleartext_exposed", topology.hosts_failing("db.cleartext_exposed")[0].address),
                    5432)
    assert "no TLS at all" in weak["detail"]
    good = _on_port(_results(scan, "db.cleartext_exposed", topology.hosts_passing("db.cleartext_exposed")[0].address),
                    5432)
    assert "28000" in good["detail"] and good["evidence"][0]["data"]["ssl_request_answer"] == "S"


def test_mysql_details(scan: dict[str, Any]) -> None:
    """One result per database service: files-weak:3306 FAILs on the greeting alone; files-good:3306
    (TLS + require_secure_transport=ON) is skipped for want of credentials, saying TLS is offered."""
    weak = _on_port(_results(scan, "db.cleartext_exposed", topology.hosts_failing("db.cleartext_exposed")[0].address),
                    3306)
    assert weak["status"] == "fail" and "MariaDB" in weak["detail"] and "no TLS at all" in weak["detail"]
    data = weak["evidence"][0]["data"]
    assert data["client_ssl"] is False and data["login_error_code"] == 1045 and data["password_sent"] is False
    good = _on_port(_results(scan, "db.cleartext_exposed", topology.hosts_passing("db.cleartext_exposed")[0].address),
                    3306)
    assert good["status"] == "skipped" and good["reason"] == "no_credentials", good
    assert "TLS offered (CLIENT_SSL)" in good["detail"] and "ERR 1045" in good["detail"]


def _db_hosts() -> list[Any]:
    return [pytest.param(h, id=h.name) for h in (*topology.hosts_failing("db.cleartext_exposed"),
                                                  *topology.hosts_passing("db.cleartext_exposed"))]


@pytest.mark.parametrize("host", _db_hosts())
def test_mysql_agrees_with_nmap_and_openssl(lab: Any, scan: dict[str, Any], host: topology.LabHost) -> None:
    """Facts, not verdicts: nmap's mysql-info capability flags and `openssl s_client -starttls mysql`
    agree with the greeting the scanner read (TLS offered or not)."""
    weak = "db.cleartext_exposed" in host.gaps
    nmap = lab.run_in_scanner(["nmap", "-sT", "-n", "-Pn", "-p", "3306", "--script", "mysql-info", host.address],
                              timeout=60)
    flags = next(int(line.split(":")[1]) for line in nmap.stdout.splitlines() if "Capabilities flags:" in line)
    assert bool(flags & 0x800) is not weak and ("SwitchToSSLAfterHandshake" in nmap.stdout) is not weak
    if weak:  # the scanner kept the greeting as evidence only where it reached a verdict
        ours = _on_port(_results(scan, "db.cleartext_exposed", host.address), 3306)["evidence"][0]["data"]
        assert int(ours["capability_flags"], 16) & 0xFFFF == flags
    tls = lab.run_in_scanner(["openssl", "s_client", "-starttls", "mysql", "-connect", f"{host.address}:3306",
                              "-brief"], timeout=30)
    out = tls.stdout + tls.stderr
    if weak:
        assert "MySQL server does not support SSL" in out, out
    else:
        assert "Protocol version: TLSv1.3" in out and f"CN = {host.dns_name}" in out, out


@pytest.mark.parametrize("host", _db_hosts())
def test_mariadb_ground_truth_with_the_lab_account(lab: Any, host: topology.LabHost) -> None:
    """What the scanner cannot see without credentials, the lab checks with its own account: a real
    cleartext login works on files-weak and is refused on files-good (MariaDB answers 1045, the same
    error a made-up user gets), where the same login over TLS works."""
    def login(*tls: str) -> Any:
        return lab.run_in_scanner(["mariadb", "--no-defaults", "-h", host.address, "-u", DB_USER,
                                   f"-p{DB_PASSWORD}", *tls, "-N", "-e", "SELECT 'in'"], timeout=30)

    clear = login("--skip-ssl")
    if "db.cleartext_exposed" in host.gaps:
        assert clear.returncode == 0 and clear.stdout.strip() == "in", clear.stderr
    else:
        assert clear.returncode != 0 and "ERROR 1045 (28000)" in clear.stderr, clear.stdout
        secure = login("--ssl", "--skip-ssl-verify-server-cert")
        assert secure.returncode == 0 and secure.stdout.strip() == "in", secure.stderr


def test_vnc_details(scan: dict[str, Any]) -> None:
    (weak,) = _results(scan, "cleartext.vnc", topology.hosts_failing("cleartext.vnc")[0].address)
    assert "security type None" in weak["detail"] and weak["severity"] == "critical"
    assert weak["evidence"][0]["data"]["security_types"] == [1]
    (good,) = _results(scan, "cleartext.vnc", topology.hosts_passing("cleartext.vnc")[0].address)
    assert good["evidence"][0]["data"]["security_types"] == [19] and "VeNCrypt" in good["detail"]


def test_rdp_standard_security_fails_on_xrdp(scan: dict[str, Any]) -> None:
    hosts = [h for h in topology.HOSTS if any(s.daemon == "xrdp" for s in h.services)]
    assert hosts, "the lab plants an xrdp"
    rdp = [r for r in scan["results"] if r["check_id"] == "rdp.nla_not_required"]
    assert {(r["target"]["host"], r["target"]["port"]) for r in rdp} == {(h.address, 3389) for h in hosts}
    for result in rdp:
        assert result["status"] == "fail" and "Standard RDP Security" in result["detail"], result["detail"]
        assert result["evidence"][0]["data"]["requested_rdp"]["accepted"] is True
