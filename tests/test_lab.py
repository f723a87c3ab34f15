"""Tests of the lab itself: the topology table is coherent, every listed daemon answers from the
scanner namespace, nothing in the lab can reach outside 198.18.0.0/15, Postfix delivers nothing,
and independent tools (smbclient, openssl, dig, showmount) see the planted gaps."""

from __future__ import annotations

import errno
import ipaddress
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lab import Lab
from tests.lab.topology import (
    DENSE_GATEWAY,
    DENSE_HOST,
    DENSE_NET,
    DENSE_NS,
    DENSE_OPEN_PORTS,
    DENSE_PORTS,
    DOMAINS,
    HOSTS,
    NAMESERVER,
    NS_PREFIX,
    PRACTICE_NET,
    SCANNER_ADDRESS,
    SCANNER_NS,
    LabDomain,
    LabHost,
    all_services,
    host,
    hosts_failing,
    hosts_passing,
    markdown_table,
)

PY = sys.executable
OUTSIDE = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never routed; the lab must have no route to it
LAB_RANGE = ipaddress.ip_network("198.18.0.0/15")

# --------------------------------------------------------------------- the table (no lab needed)


# Every check's FAIL and PASS twin (or the test that proves a side elsewhere): tests/unit/test_contract.py.


def test_gaps_and_hardened_never_overlap() -> None:
    items: list[LabHost | LabDomain] = [*HOSTS, *DOMAINS]
    for item in items:
        assert not item.gaps & item.hardened, item.name


def test_addresses_are_lab_only_and_unique() -> None:
    practice = ipaddress.ip_network(PRACTICE_NET)
    addresses = [h.address for h in HOSTS] + [SCANNER_ADDRESS, DENSE_GATEWAY]
    assert len(set(addresses)) == len(addresses)
    for a in addresses:
        assert ipaddress.ip_address(a) in practice
    assert ipaddress.ip_network(DENSE_NET).subnet_of(LAB_RANGE)  # type: ignore[arg-type]
    assert NAMESERVER in {h.address for h in HOSTS}
    assert all(h.namespace.startswith(NS_PREFIX) for h in (*HOSTS, DENSE_HOST))
    assert set(DENSE_OPEN_PORTS) < set(DENSE_PORTS) and len(DENSE_PORTS) == 20


def test_unknown_check_id_is_refused() -> None:
    with pytest.raises(KeyError):
        hosts_failing("smb.signing_required_typo")


def test_readme_table_is_generated_from_the_topology() -> None:
    # The one copy of the table (docs/lab.md links to it; tests/unit/test_docs.py refuses others).
    readme = (Path(__file__).parent / "lab" / "README.md").read_text()
    assert markdown_table() in readme, "tests/lab/README.md is stale: run `python -m tests.lab table --write`"


# --------------------------------------------------------------------- reachability


def test_every_listed_service_accepts_from_the_scanner_namespace(lab: Lab) -> None:
    statuses = lab.probe(deadline=5.0)
    down = [f"{s.host} {s.address}:{s.port} {s.daemon}: {s.reason}" for s in statuses if not s.accepting]
    assert not down, "\n".join(down)
    expected = {(h.address, s.port) for h, s in all_services() if s.transport == "tcp"}
    assert expected <= {(s.address, s.port) for s in statuses}


def _connect_errno(lab: Lab, namespace: str, address: str, port: int) -> tuple[str, float]:
    one_liner = (
        "import errno,socket,time;s=socket.socket();s.settimeout(5);t=time.monotonic();"
        f"e=s.connect_ex(({address!r},{port}));"
        "print(errno.errorcode.get(e,'OK' if e==0 else e),round(time.monotonic()-t,3))"
    )
    done = lab.run_in(namespace, [PY, "-I", "-S", "-c", one_liner], timeout=15)
    assert done.returncode == 0, done.stderr
    name, seconds = done.stdout.split()
    return name, float(seconds)


def test_scanner_namespace_has_no_route_out(lab: Lab) -> None:
    name, seconds = _connect_errno(lab, SCANNER_NS, OUTSIDE, 80)
    assert name == errno.errorcode[errno.ENETUNREACH]
    assert seconds < 0.5, "no route must fail at once, not after a timeout"


@pytest.mark.parametrize("namespace", [host("files-weak").namespace, DENSE_NS])
def test_lab_hosts_have_no_route_out(lab: Lab, namespace: str) -> None:
    if namespace == DENSE_NS and "dense" not in lab.parts:
        pytest.skip("dense part not up (GAPSCAN_LAB_PARTS)")
    name, seconds = _connect_errno(lab, namespace, OUTSIDE, 80)
    assert name == errno.errorcode[errno.ENETUNREACH]
    assert seconds < 0.5


def test_root_namespace_has_no_route_or_address_in_the_lab(lab: Lab) -> None:
    for argv in (["ip", "-4", "-o", "addr"], ["ip", "-4", "route", "show", "table", "all"]):
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout
        assert "198.18." not in out and "198.19." not in out, out


def test_dense_router_address_rejects_tcp_but_dense_addresses_answer(lab: Lab) -> None:
    if "dense" not in lab.parts:
        pytest.skip("dense part not up (GAPSCAN_LAB_PARTS)")
    name, _ = _connect_errno(lab, SCANNER_NS, DENSE_GATEWAY, 22)
    assert name == errno.errorcode[errno.ECONNREFUSED]
    closed = next(p for p in DENSE_PORTS if p not in DENSE_OPEN_PORTS)
    for address in ("198.18.1.2", "198.18.1.200"):
        for port in DENSE_OPEN_PORTS:
            assert _connect_errno(lab, SCANNER_NS, address, port)[0] == "OK", (address, port)
        assert _connect_errno(lab, SCANNER_NS, address, closed)[0] == errno.errorcode[errno.ECONNREFUSED]


# --------------------------------------------------------------------- mail: nothing leaves

RELAY_SCRIPT = """
import json, smtplib, sys
host = sys.argv[1]
s = smtplib.SMTP(host, 25, timeout=10)
s.ehlo("scanner.lab.test")
replies = {"mail": s.mail("probe@outside.example")[0], "rcpt": s.rcpt("patient-data@elsewhere.example")[0]}
if replies["rcpt"] == 250:
    replies["data"] = s.data(b"Subject: lab relay test\\r\\n\\r\\nno content\\r\\n")[0]
s.quit()
print(json.dumps(replies))
"""


def _postqueue(lab: Lab, name: str) -> str:
    # In the host's namespace: postqueue checks inet_interfaces against local addresses.
    ns = host(name).namespace
    done = lab.run_in(ns, ["postqueue", "-c", str(lab.postfix_config_dir(name)), "-p"], timeout=15)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_open_relay_accepts_but_discards_and_queues_stay_empty(lab: Lab) -> None:
    weak = hosts_failing("smtp.open_relay")[0]
    good = hosts_passing("smtp.open_relay")[0]
    replies = {}
    for h in (weak, good):
        done = lab.run_in_scanner([PY, "-I", "-c", RELAY_SCRIPT, h.address], timeout=30)
        assert done.returncode == 0, done.stderr
        replies[h.name] = json.loads(done.stdout)
    assert replies[weak.name] == {"mail": 250, "rcpt": 250, "data": 250}, "weak host must relay"
    assert replies[good.name]["rcpt"] >= 500, "hardened host must refuse to relay"

    maillog = lab.postfix_config_dir(weak.name) / "maillog"
    deadline = time.monotonic() + 15
    while "patient-data@elsewhere.example>, relay=none" not in maillog.read_text():
        assert time.monotonic() < deadline, "the discard transport never handled the relayed message"
        time.sleep(0.2)
    assert lab.mail_leaks() == []
    for h in (weak, good):
        assert "Mail queue is empty" in _postqueue(lab, h.name)


# --------------------------------------------------------------------- DNS


def _dig(lab: Lab, qtype: str, name: str) -> list[str]:
    done = lab.run_in_scanner(["dig", "+short", "+time=2", "+tries=2", f"@{NAMESERVER}", qtype, name], timeout=15)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.strip()]


def _txt_values(lines: list[str]) -> set[str]:
    # dig prints a TXT record as its quoted character-strings; a long value comes in chunks.
    return {"".join(re.findall(r'"((?:[^"\\]|\\.)*)"', line)) for line in lines}


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda d: d.name)
def test_nameserver_serves_the_planted_records(lab: Lab, domain: LabDomain) -> None:
    expected: dict[str, set[str]] = {"@": set(), "_dmarc": set(), "default._domainkey": set()}
    for label, value in domain.txt:
        expected.setdefault(label, set()).add(value)
    for label, values in expected.items():
        name = domain.name if label == "@" else f"{label}.{domain.name}"
        assert _txt_values(_dig(lab, "TXT", name)) == values, name
    if domain.mx:
        assert _dig(lab, "MX", domain.name) == [f"10 {domain.mx}."]


def test_nameserver_is_authoritative_only(lab: Lab) -> None:
    done = lab.run_in_scanner(["dig", "+time=2", "+tries=1", f"@{NAMESERVER}", "A", "example.com"], timeout=15)
    assert "status: REFUSED" in done.stdout
    assert _dig(lab, "A", "mail.weak-clinic.test") == [host("mail-weak").address]
    assert _dig(lab, "PTR", "10.0.18.198.in-addr.arpa") == ["files-weak.lab.test."]


# --------------------------------------------------------------------- independent tools


def test_smbclient_lists_the_guest_share_only_on_the_weak_server(lab: Lab) -> None:
    weak, good = hosts_failing("smb.open_share")[0], hosts_passing("smb.open_share")[0]
    listing = lab.run_in_scanner(["smbclient", "-N", "-L", f"//{weak.address}"], timeout=30)
    assert listing.returncode == 0, listing.stderr
    assert re.search(r"^\s+scans\s+Disk", listing.stdout, re.M), listing.stdout
    refused = lab.run_in_scanner(["smbclient", "-N", "-L", f"//{good.address}"], timeout=30)
    assert refused.returncode != 0
    assert "scans" not in refused.stdout and "NT_STATUS_ACCESS_DENIED" in refused.stdout + refused.stderr


def test_smbclient_speaks_smb1_only_to_the_weak_server(lab: Lab) -> None:
    smb1 = ["smbclient", "-N", "-m", "NT1", "--option=client min protocol=NT1", "-L"]
    weak, good = hosts_failing("smb.v1_enabled")[0], hosts_passing("smb.v1_enabled")[0]
    accepted = lab.run_in_scanner([*smb1, f"//{weak.address}"], timeout=30)
    assert accepted.returncode == 0 and "scans" in accepted.stdout, accepted.stdout + accepted.stderr
    refused = lab.run_in_scanner([*smb1, f"//{good.address}"], timeout=30)
    assert refused.returncode != 0
    assert "No compatible protocol" in refused.stdout + refused.stderr


def _tls_handshake(lab: Lab, target: str, *extra: str) -> str:
    """The protocol openssl s_client negotiated, or "" when the handshake failed."""
    argv = ["openssl", "s_client", "-connect", target, "-cipher", "ALL:@SECLEVEL=0", *extra]
    done = subprocess.run(lab.scanner_cmd(argv), input="", capture_output=True, text=True, timeout=20)
    match = re.search(r"^\s*Protocol\s*:\s*(\S+)", done.stdout, re.M)
    cipher = re.search(r"^\s*Cipher\s*:\s*(\S+)", done.stdout, re.M)
    ok = done.returncode == 0 and match and cipher and cipher.group(1) != "0000"
    return match.group(1) if ok and match else ""


def test_openssl_tls1_succeeds_on_weak_portal_and_fails_on_hardened(lab: Lab) -> None:
    weak, good = hosts_failing("tls.legacy_protocol")[0], hosts_passing("tls.legacy_protocol")
    assert _tls_handshake(lab, f"{weak.address}:443", "-tls1") == "TLSv1"
    for h in good:
        for svc in h.services:
            if svc.service in ("https", "imaps", "pop3s"):
                assert _tls_handshake(lab, f"{h.address}:{svc.port}", "-tls1") == "", (h.name, svc.port)
                assert _tls_handshake(lab, f"{h.address}:{svc.port}", "-tls1_2") == "TLSv1.2"


def test_starttls_services_refuse_tls1_on_hardened_hosts(lab: Lab) -> None:
    starttls = {"smtp": "smtp", "submission": "smtp", "imap": "imap", "pop3": "pop3", "ftp": "ftp"}
    for h in hosts_passing("tls.legacy_protocol"):
        for svc in h.services:
            if svc.service in starttls:
                target, proto = f"{h.address}:{svc.port}", starttls[svc.service]
                assert _tls_handshake(lab, target, "-starttls", proto, "-tls1") == "", target
                assert _tls_handshake(lab, target, "-starttls", proto, "-tls1_2") == "TLSv1.2", target


def test_hardened_certificates_verify_against_the_lab_ca(lab: Lab) -> None:
    for h in hosts_passing("tls.certificate_problem"):
        port = next(s.port for s in h.services if s.service in ("https", "imaps", "ftp"))
        extra = ["-starttls", "ftp"] if port == 21 else []
        argv = [
            "openssl",
            "s_client",
            "-connect",
            f"{h.address}:{port}",
            "-verify_return_error",
            "-CAfile",
            str(lab.ca_file),
            "-verify_ip",
            h.address,
            *extra,
        ]
        done = subprocess.run(lab.scanner_cmd(argv), input="", capture_output=True, text=True, timeout=20)
        assert "Verify return code: 0 (ok)" in done.stdout, (h.name, done.stdout[-500:])
    weak = hosts_failing("tls.certificate_problem")[0]
    for port, problem in ((443, "self-signed certificate"), (8443, "certificate has expired")):
        argv = [
            "openssl",
            "s_client",
            "-connect",
            f"{weak.address}:{port}",
            "-CAfile",
            str(lab.ca_file),
            "-cipher",
            "ALL:@SECLEVEL=0",
        ]
        done = subprocess.run(lab.scanner_cmd(argv), input="", capture_output=True, text=True, timeout=20)
        assert problem in done.stdout, (port, done.stdout[-500:])


def test_showmount_sees_the_open_export_only_on_the_weak_server(lab: Lab) -> None:
    weak, good = hosts_failing("nfs.open_export")[0], hosts_passing("nfs.open_export")[0]
    open_list = lab.run_in_scanner(["showmount", "--no-headers", "-e", weak.address], timeout=20)
    assert open_list.returncode == 0, open_list.stderr
    assert open_list.stdout.split() == ["/srv", "*"]
    restricted = lab.run_in_scanner(["showmount", "--no-headers", "-e", good.address], timeout=20)
    assert restricted.returncode == 0, restricted.stderr
    path, clients = restricted.stdout.split()
    assert path == "/srv" and "*" not in clients and f"{SCANNER_ADDRESS}/32" in clients.split(",")
    for h in (weak, good):  # the portmapper answers over UDP too (the table lists 111/udp)
        done = lab.run_in_scanner(["rpcinfo", "-u", h.address, "portmapper"], timeout=20)
        assert "version 2 ready and waiting" in done.stdout, done.stdout + done.stderr


def test_daemons_run_only_inside_lab_namespaces(lab: Lab) -> None:
    root = subprocess.run(["ss", "-H", "-ltn"], capture_output=True, text=True, timeout=10, check=True).stdout
    lab_ports = {s.port for _, s in all_services(include_dense=True) if s.transport == "tcp"}
    listening = {int(line.split()[3].rsplit(":", 1)[1]) for line in root.splitlines() if line.strip()}
    assert not listening & lab_ports, f"lab ports open in the root namespace: {listening & lab_ports}"
