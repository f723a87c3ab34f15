"""`gapscan scan` end to end against the lab's real daemons, run inside the scanner namespace.

- the whole practice network produces a schema-valid scan.json;
- smtp.starttls_missing FAILs exactly where the topology planted the gap and PASSes on the
  hardened twin, and agrees on the fact with an independent tool (openssl s_client);
- an excluded host receives not one packet (counted by nftables inside its namespace);
- public targets are refused inside a namespace with no route out.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner.schema import shipped
from tests.lab import topology

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
GAPSCAN = str(REPO / ".venv" / "bin" / "gapscan")


def _run(lab: Any, argv: list[str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return lab.run_in_scanner(argv, timeout=timeout)


@pytest.fixture(scope="module")
def practice_scan(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("practice-scan")
    proc = _run(lab, [GAPSCAN, "scan", topology.PRACTICE_NET, "--listen-seconds", "0",
                      "--out", str(out), "--format", "json,csv",
                      "--client", "Lab Dental", "--authorized-by", "lab test", "-q"])
    assert proc.returncode == 0, f"gapscan scan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    yield json.loads((out / "scan.json").read_text())


def test_practice_scan_is_schema_valid_and_complete(practice_scan: dict[str, Any]) -> None:
    jsonschema.validate(practice_scan, shipped())
    assert practice_scan["complete"] is True
    assert practice_scan["scope"]["targets"] == [topology.PRACTICE_NET]
    found = {h["address"] for h in practice_scan["hosts"]}
    expected = {h.address for h in topology.HOSTS}
    assert expected <= found, f"hosts not discovered: {sorted(expected - found)}"


def _starttls_results(scan: dict[str, Any], address: str) -> dict[int, dict[str, Any]]:
    return {r["target"]["port"]: r for r in scan["results"]
            if r["check_id"] == "smtp.starttls_missing" and r["target"]["host"] == address}


PLANTED = [(h, "fail") for h in topology.hosts_failing("smtp.starttls_missing")] + [
    (h, "pass") for h in topology.hosts_passing("smtp.starttls_missing")]


@pytest.mark.parametrize(("host", "expected"), PLANTED, ids=lambda v: getattr(v, "name", v))
def test_starttls_missing_verdicts_match_the_planted_gaps(practice_scan: dict[str, Any], host: topology.LabHost,
                                                         expected: str) -> None:
    results = _starttls_results(practice_scan, host.address)
    smtp_ports = {s.port for s in host.services if s.service in ("smtp", "submission")}
    assert set(results) == smtp_ports, results
    for port, result in results.items():
        assert result["status"] == expected, (port, result["detail"])
        assert result["evidence"][0]["data"]["ehlo_lines"], "evidence must hold the EHLO reply"
        if expected == "fail":
            assert "STARTTLS not offered" in result["detail"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
@pytest.mark.parametrize("host", [h for h in topology.HOSTS if "smtp.starttls_missing" in h.gaps | h.hardened],
                         ids=lambda h: h.name)
def test_starttls_fact_agrees_with_openssl(lab: Any, practice_scan: dict[str, Any], host: topology.LabHost) -> None:
    proc = _run(lab, ["openssl", "s_client", "-starttls", "smtp", "-connect", f"{host.address}:25",
                      "-servername", host.address], timeout=30)
    openssl_got_tls = "Cipher is" in proc.stdout and "(NONE)" not in proc.stdout.split("Cipher is", 1)[1][:12]
    ours = _starttls_results(practice_scan, host.address)[25]["status"] == "pass"
    assert openssl_got_tls == ours, proc.stdout[-800:] + proc.stderr[-800:]


def _nft(lab: Any, namespace: str, script: str) -> str:
    proc = subprocess.run(["ip", "netns", "exec", namespace, "nft", *script.split()],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_excluded_host_receives_no_packet(lab: Any, tmp_path: Path) -> None:
    inside = topology.hosts_failing("smtp.starttls_missing")[0]
    excluded = topology.hosts_passing("smtp.starttls_missing")[0]
    counters = {}
    for host in (inside, excluded):
        ns = host.namespace
        subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "gapscan_count"],
                       capture_output=True, timeout=20)
        _nft(lab, ns, "add table inet gapscan_count")
        _nft(lab, ns, "add chain inet gapscan_count input { type filter hook input priority -300 ; }")
        _nft(lab, ns, f"add rule inet gapscan_count input ip saddr {topology.SCANNER_ADDRESS} counter")
    try:
        proc = _run(lab, [GAPSCAN, "scan", "--listen-seconds", "0",
                          f"{inside.address}-{excluded.address.rsplit('.', 1)[1]}",
                          "--exclude", excluded.address, "--out", str(tmp_path), "-q"])
        assert proc.returncode == 0, proc.stderr
        for host in (inside, excluded):
            listing = _nft(lab, host.namespace, "list table inet gapscan_count")
            packets = int(listing.split("packets", 1)[1].split()[0])
            counters[host.name] = packets
    finally:
        for host in (inside, excluded):
            subprocess.run(["ip", "netns", "exec", host.namespace, "nft", "delete", "table", "inet",
                            "gapscan_count"], capture_output=True, timeout=20)
    assert counters[inside.name] > 0, "the counter saw nothing on the scanned host: the method is broken"
    assert counters[excluded.name] == 0, f"{counters[excluded.name]} packet(s) reached the excluded host"
    data = json.loads((tmp_path / "scan.json").read_text())
    assert excluded.address not in {h["address"] for h in data["hosts"]}
    assert data["scope"]["exclusions"] == [excluded.address]


def test_public_target_refused_inside_namespace_without_route(lab: Any, tmp_path: Path) -> None:
    # Refused while parsing the scope: not one packet is attempted (and gs-scan has no route out).
    proc = _run(lab, [GAPSCAN, "scan", "9.9.9.9", "--out", str(tmp_path)], timeout=60)
    assert proc.returncode == 2
    assert "globally routable" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "scan.json").exists()
