"""Issue 4 against the lab's real daemons: `gapscan scan <mail hosts> --domain <each lab domain>
--nameserver <lab DNS>` run once inside the scanner namespace, then

- every mail and DNS check id FAILs exactly on the hosts/domains the topology plants it on and
  PASSes on the hardened ones, with the citations of the framework file, and no error;
- the relay test left no mail behind (queues empty, nothing delivered);
- the facts agree with independent tools: dig for the records, delv for DNSSEC validation,
  openssl s_client for the negotiated STARTTLS version, nmap's smtp-open-relay for relaying.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.config.framework import load_framework
from tests.lab import topology

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
GAPSCAN = str(REPO / ".venv" / "bin" / "gapscan")
MAIL_SERVICES = {"smtp", "submission", "imap", "pop3"}
MAIL_HOSTS = tuple(h for h in topology.HOSTS if {s.service for s in h.services} & MAIL_SERVICES)
HOST_IDS = ("smtp.starttls_missing", "smtp.tls_weak", "smtp.cleartext_auth", "smtp.open_relay",
            "imap.cleartext_login", "pop3.cleartext_login")
DOMAIN_IDS = ("dns.spf_missing", "dns.spf_weak", "dns.spf_invalid", "dns.dmarc_missing", "dns.dmarc_weak",
              "dns.dkim_missing", "dns.mta_sts_missing", "dns.tls_rpt_missing", "dns.dnssec_missing",
              "mail.consumer_provider")
EXTRA_SELECTOR = "practice2026"


def _scan(lab: Any, out: Path, *args: str) -> dict[str, Any]:
    argv = [GAPSCAN, "scan", *args, "--listen-seconds", "0",
            "--nameserver", topology.NAMESERVER, "--out", str(out), "-q", "--format", "json"]
    proc = lab.run_in_scanner(argv, timeout=300)
    assert proc.returncode == 0, f"gapscan scan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    data: dict[str, Any] = json.loads((out / "scan.json").read_text())
    return data


@pytest.fixture(scope="module")
def scan(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    domains = [arg for d in topology.DOMAINS for arg in ("--domain", d.name)]
    yield _scan(lab, tmp_path_factory.mktemp("maildns"), *(h.address for h in MAIL_HOSTS), *domains,
                "--dkim-selector", EXTRA_SELECTOR)


def _results(scan: dict[str, Any], check_id: str) -> list[dict[str, Any]]:
    return [r for r in scan["results"] if r["check_id"] == check_id]


def _where(result: dict[str, Any]) -> str:
    target = result["target"]
    return target["domain"] if target["domain"] and not target["host"] else target["host"]


def test_scan_is_complete_and_nothing_errored(scan: dict[str, Any]) -> None:
    assert scan["complete"] is True
    assert scan["scope"]["nameservers"] == [topology.NAMESERVER]
    ours = [r for r in scan["results"] if r["check_id"] in HOST_IDS + DOMAIN_IDS]
    errors = [(r["check_id"], _where(r), r["detail"]) for r in ours if r["status"] == "error"]
    assert not errors, errors
    assert {r["check_id"] for r in ours} == set(HOST_IDS + DOMAIN_IDS)


@pytest.mark.parametrize("check_id", HOST_IDS)
def test_host_checks_fail_exactly_where_planted(scan: dict[str, Any], check_id: str) -> None:
    results = _results(scan, check_id)
    failing = {_where(r) for r in results if r["status"] == "fail"}
    assert failing == {h.address for h in topology.hosts_failing(check_id)}, [(_where(r), r["detail"]) for r in results]
    for host in topology.hosts_passing(check_id):
        mine = [r for r in results if _where(r) == host.address]
        assert mine and all(r["status"] == "pass" for r in mine), (host.name, [r["detail"] for r in mine])
    for host in topology.hosts_failing(check_id):  # every service of the planted host, not one of them
        assert all(r["status"] == "fail" for r in results if _where(r) == host.address), host.name


@pytest.mark.parametrize("check_id", DOMAIN_IDS)
def test_domain_checks_fail_exactly_where_planted(scan: dict[str, Any], check_id: str) -> None:
    results = {_where(r): r for r in _results(scan, check_id)}
    assert set(results) == set(topology.domain_names())
    failing = {name for name, r in results.items() if r["status"] == "fail"}
    assert failing == {d.name for d in topology.domains_failing(check_id)}, {n: r["detail"] for n, r in results.items()}
    for domain in topology.domains_passing(check_id):
        assert results[domain.name]["status"] == "pass", (domain.name, results[domain.name]["detail"])


@pytest.mark.parametrize("check_id", HOST_IDS + DOMAIN_IDS)
def test_results_carry_the_framework_citations(scan: dict[str, Any], check_id: str) -> None:
    expected = load_framework().citations_for(check_id)
    assert expected, f"{check_id} is not mapped in hipaa.yaml"
    for result in _results(scan, check_id):
        assert tuple(result["hipaa"]) == expected, (check_id, result["hipaa"])
        if result["status"] in ("pass", "fail"):
            assert result["evidence"], (check_id, _where(result))


def test_evidence_names_the_resolver_and_time(scan: dict[str, Any]) -> None:
    for result in _results(scan, "dns.spf_missing"):
        evidence = result["evidence"][0]
        assert evidence["data"]["resolvers"] == [topology.NAMESERVER] and evidence["collected_at"]
        assert all(a["server"] == topology.NAMESERVER for a in evidence["data"]["answers"])


def test_relay_evidence_holds_every_rcpt_reply(scan: dict[str, Any]) -> None:
    for result in _results(scan, "smtp.open_relay"):
        attempts = result["evidence"][0]["data"]["attempts"]
        assert len(attempts) == 6 and all(re.match(r"^\d{3} ", a["rcpt_reply"]) for a in attempts), attempts
        accepted = [a for a in attempts if a["accepted"]]
        assert bool(accepted) == (result["status"] == "fail")


def test_relay_test_left_no_mail(lab: Any, scan: dict[str, Any]) -> None:
    assert lab.mail_leaks() == []
    for host in topology.hosts_failing("smtp.open_relay"):
        done = lab.run_in(host.namespace, ["postqueue", "-c", str(lab.postfix_config_dir(host.name)), "-p"], timeout=15)
        assert "Mail queue is empty" in done.stdout, done.stdout
        log = (lab.postfix_config_dir(host.name) / "maillog").read_text(errors="replace")
        delivered = [line for line in log.splitlines() if "relay-probe" in line and "status=" in line]
        assert not delivered, delivered  # no relay-probe recipient ever reached a delivery agent


def test_dkim_selector_option_reaches_the_probe(scan: dict[str, Any]) -> None:
    for result in _results(scan, "dns.dkim_missing"):
        assert EXTRA_SELECTOR in result["evidence"][0]["data"]["selectors"]


def test_subdomain_inherits_dmarc_from_the_organizational_domain(scan: dict[str, Any]) -> None:
    (branch,) = [r for r in _results(scan, "dns.dmarc_missing") if _where(r) == "branch.good-clinic.test"]
    assert branch["status"] == "pass" and "organizational domain good-clinic.test" in branch["detail"]


# --------------------------------------------------------------------- independent tools


def _dig(lab: Any, *args: str) -> list[str]:
    done = lab.run_in_scanner(["dig", "+short", "+time=2", "+tries=2", f"@{topology.NAMESERVER}", *args], timeout=20)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.strip()]


def _txt(lines: list[str]) -> set[str]:
    return {"".join(re.findall(r'"((?:[^"\\]|\\.)*)"', line)) for line in lines}


@pytest.mark.parametrize("domain", topology.DOMAINS, ids=lambda d: d.name)
def test_records_agree_with_dig(lab: Any, scan: dict[str, Any], domain: topology.LabDomain) -> None:
    (spf,) = [r for r in _results(scan, "dns.spf_missing") if _where(r) == domain.name]
    ours = set(spf["evidence"][0]["data"]["answers"][0]["records"])
    assert ours == _txt(_dig(lab, "TXT", domain.name))
    (dmarc,) = [r for r in _results(scan, "dns.dmarc_missing") if _where(r) == domain.name]
    first = dmarc["evidence"][0]["data"]["answers"][0]
    assert set(first["records"]) == _txt(_dig(lab, "TXT", f"_dmarc.{domain.name}"))
    (mx,) = [r for r in _results(scan, "mail.consumer_provider") if _where(r) == domain.name]
    assert mx["evidence"][0]["data"]["answers"][0]["records"] == _dig(lab, "MX", domain.name)


@pytest.mark.skipif(shutil.which("delv") is None, reason="delv (bind9-dnsutils) not installed")
def test_dnssec_agrees_with_delv(lab: Any, scan: dict[str, Any], tmp_path: Path) -> None:
    results = {_where(r): r for r in _results(scan, "dns.dnssec_missing")}
    for domain in topology.DOMAINS:
        ds = _dig(lab, "DS", domain.name)
        keys = _dig(lab, "DNSKEY", domain.name)
        if results[domain.name]["status"] == "fail":
            assert not (ds and keys), domain.name  # no chain for delv to validate either
            continue
        (tag, algorithm, digest_type, *digest) = ds[0].split()
        assert f"key {tag}" in results[domain.name]["detail"]
        anchor = tmp_path / "anchor.conf"
        anchor.write_text(f'trust-anchors {{ {domain.name}. static-ds {tag} {algorithm} {digest_type} '
                          f'"{"".join(digest)}"; }};\n')
        done = lab.run_in_scanner(["delv", f"@{topology.NAMESERVER}", "-a", str(anchor), f"+root={domain.name}",
                                   "SOA", domain.name], timeout=20)
        assert "; fully validated" in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
@pytest.mark.parametrize("host", [h for h in MAIL_HOSTS if "smtp.tls_weak" in h.gaps | h.hardened],
                         ids=lambda h: h.name)
def test_negotiated_tls_version_agrees_with_openssl(lab: Any, scan: dict[str, Any], host: topology.LabHost) -> None:
    done = subprocess.run(lab.scanner_cmd(["openssl", "s_client", "-starttls", "smtp", "-connect",
                                           f"{host.address}:25"]), input="", capture_output=True, text=True,
                          timeout=30)
    # TLS <= 1.2 prints the session's "Protocol : ..."; TLS 1.3 only "New, TLSv1.3, Cipher is ..." (whose
    # first field for older versions is the cipher's origin, e.g. "SSLv3", not the protocol).
    match = re.search(r"^\s*Protocol\s*:\s*(\S+)", done.stdout, re.M) or re.search(
        r"^New, (TLSv1\.3), Cipher is", done.stdout, re.M)
    assert match, done.stdout[-800:] + done.stderr[-800:]
    (ours,) = [r for r in _results(scan, "smtp.tls_weak")
               if _where(r) == host.address and r["target"]["port"] == 25]
    assert ours["evidence"][0]["data"]["tls_version"] == match.group(1)


@pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap not installed")
def test_open_relay_agrees_with_nmap(lab: Any, scan: dict[str, Any]) -> None:
    hosts = [h for h in MAIL_HOSTS if "smtp.open_relay" in h.gaps | h.hardened]
    done = lab.run_in_scanner(["nmap", "-Pn", "-n", "-p25", "--script", "smtp-open-relay", "--script-args",
                               "smtp-open-relay.domain=example.org", *(h.address for h in hosts)], timeout=180)
    assert done.returncode == 0, done.stderr
    reports = dict(re.findall(r"Nmap scan report for (\S+).*?smtp-open-relay: ([^\n]+)", done.stdout, re.S))
    for host in hosts:
        nmap_says_open = "is an open relay" in reports[host.address]
        (ours,) = [r for r in _results(scan, "smtp.open_relay")
                   if _where(r) == host.address and r["target"]["port"] == 25]
        assert nmap_says_open == (ours["status"] == "fail"), (host.name, reports[host.address], ours["detail"])
    assert lab.mail_leaks() == []
