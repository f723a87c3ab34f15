"""Issue 6 against the lab's real TLS services: nginx (web-weak 443/8443, web-good 443),
Postfix STARTTLS (mail-good, mail-mixed), Dovecot STARTTLS/STLS/IMAPS/POP3S, vsftpd AUTH TLS.

- one `gapscan scan` of every host with a TLS service (inside gs-scan, trusting the lab CA):
  each tls.* check FAILs on topology.hosts_failing(id) and PASSes everywhere on
  topology.hosts_passing(id), with evidence naming versions, suites and certificate fields;
- agreement with nmap's ssl-enum-ciphers on the set of accepted protocol versions (facts, not
  grades: docs/lab-notes.md) for web-weak:443, web-good:443, web-weak:8443 and mail-good:993.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import topology

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
GAPSCAN = str(REPO / ".venv" / "bin" / "gapscan")
TLS_IDS = topology.TLS_IDS
MIXED = next(h for h in topology.HOSTS if h.name == "mail-mixed")  # STARTTLS with TLS 1.0/1.1 only (smtp.tls_weak)
TLS_HOSTS = sorted({h.address for cid in TLS_IDS for h in topology.hosts_failing(cid) + topology.hosts_passing(cid)}
                   | {MIXED.address})


@pytest.fixture(scope="module")
def tls_scan(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("tls-scan")
    proc = lab.run_in_scanner([GAPSCAN, "scan", *TLS_HOSTS, "--listen-seconds", "0",
                               "--out", str(out), "-q", "--format", "json"],
                              timeout=240)
    assert proc.returncode == 0, f"gapscan scan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    yield json.loads((out / "scan.json").read_text())


def _results(scan: dict[str, Any], check_id: str, address: str) -> list[dict[str, Any]]:
    return [r for r in scan["results"] if r["check_id"] == check_id and r["target"]["host"] == address]


def _one(scan: dict[str, Any], check_id: str, address: str, port: int) -> dict[str, Any]:
    (result,) = [r for r in _results(scan, check_id, address) if r["target"]["port"] == port]
    return result


def _cases(which: str) -> list[Any]:
    hosts = topology.hosts_failing if which == "fail" else topology.hosts_passing
    return [pytest.param(cid, h, id=f"{cid}-{h.name}") for cid in TLS_IDS for h in hosts(cid)]


@pytest.mark.parametrize("check_id, host", _cases("fail"))
def test_planted_gap_fails_with_evidence(tls_scan: dict[str, Any], check_id: str, host: topology.LabHost) -> None:
    results = [r for r in _results(tls_scan, check_id, host.address) if r["status"] != "skipped"]
    assert results, f"{check_id} produced no result for {host.name}"
    assert all(r["status"] in ("fail", "pass") for r in results), [(r["status"], r["detail"]) for r in results]
    failed = [r for r in results if r["status"] == "fail"]
    assert failed, [r["detail"] for r in results]
    for result in failed:
        assert host.address in result["detail"]
        data = result["evidence"][0]["data"]
        assert data["versions"] and data["certificate"], "evidence holds versions and certificate fields"


@pytest.mark.parametrize("check_id, host", _cases("pass"))
def test_hardened_twin_passes(tls_scan: dict[str, Any], check_id: str, host: topology.LabHost) -> None:
    results = [r for r in _results(tls_scan, check_id, host.address) if r["status"] != "skipped"]
    assert results, f"{check_id} produced no result for {host.name}"
    assert [r["status"] for r in results] == ["pass"] * len(results), [r["detail"] for r in results]
    assert all(r["evidence"] for r in results)


def test_no_error_results(tls_scan: dict[str, Any]) -> None:
    errors = [(r["check_id"], r["target"]["host"], r["target"]["port"], r["detail"]) for r in tls_scan["results"]
              if r["check_id"].startswith("tls.") and r["status"] == "error"]
    assert not errors, errors


def test_weak_portal_details(tls_scan: dict[str, Any]) -> None:
    weak = topology.hosts_failing("tls.weak_cipher")[0].address
    legacy = _one(tls_scan, "tls.legacy_protocol", weak, 443)
    assert "accepts TLSv1.0, TLSv1.1" in legacy["detail"]
    versions = {v["version"]: v["accepted"] for v in legacy["evidence"][0]["data"]["versions"]}
    assert versions == {"SSLv3": False, "TLSv1.0": True, "TLSv1.1": True, "TLSv1.2": False, "TLSv1.3": False}
    cipher = _one(tls_scan, "tls.weak_cipher", weak, 443)
    assert "NULL (TLS_" in cipher["detail"] and "anonymous (TLS_" in cipher["detail"]
    assert cipher["severity"] == "high"
    cert = _one(tls_scan, "tls.certificate_problem", weak, 443)
    assert all(s in cert["detail"] for s in ("self-signed", "weak key RSA-1024", "SHA1 signature"))
    expired = _one(tls_scan, "tls.certificate_problem", weak, 8443)
    assert expired["status"] == "fail" and "expired on 2021-01-01" in expired["detail"]
    assert _one(tls_scan, "tls.legacy_protocol", weak, 8443)["status"] == "pass"


def test_starttls_services_are_probed_after_the_upgrade(tls_scan: dict[str, Any]) -> None:
    for port in (25, 587):  # Postfix: TLS 1.0/1.1 only; its Dovecot (110, 143) is TLS 1.2+
        smtp = _one(tls_scan, "tls.legacy_protocol", MIXED.address, port)
        assert smtp["status"] == "fail" and "accepts TLSv1.0, TLSv1.1" in smtp["detail"], smtp["detail"]
    for port in (110, 143):
        assert _one(tls_scan, "tls.legacy_protocol", MIXED.address, port)["status"] == "pass"
    weak = _one(tls_scan, "tls.weak_cipher", MIXED.address, 25)
    assert weak["status"] == "pass" and "static-RSA" in weak["detail"]
    good = next(h for h in topology.HOSTS if h.name == "mail-good").address
    for port in (25, 110, 143, 587, 993, 995):
        cert = _one(tls_scan, "tls.certificate_problem", good, port)
        assert cert["status"] == "pass" and cert["evidence"][0]["data"]["certificate"]["chain_verified"] is True


def _nmap_versions(lab: Any, address: str, port: int) -> set[str]:
    proc = lab.run_in_scanner(["nmap", "-sT", "-n", "-Pn", "-p", str(port), "--script", "ssl-enum-ciphers", address],
                              timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(re.findall(r"^\|\s+(SSLv3|TLSv1\.[0-3]):\s*$", proc.stdout, re.M))


@pytest.mark.parametrize("name, port", [("web-weak", 443), ("web-good", 443), ("web-weak", 8443),
                                        ("mail-good", 993)])
def test_accepted_versions_agree_with_nmap_ssl_enum_ciphers(lab: Any, tls_scan: dict[str, Any], name: str,
                                                            port: int) -> None:
    address = next(h for h in topology.HOSTS if h.name == name).address
    ours = {v["version"] for v in _one(tls_scan, "tls.legacy_protocol", address, port)["evidence"][0]["data"]
            ["versions"] if v["accepted"]}
    theirs = _nmap_versions(lab, address, port)
    assert theirs, "nmap reported no version at all"
    assert ours == theirs, f"gapscan {sorted(ours)} vs nmap ssl-enum-ciphers {sorted(theirs)}"
