"""The lab, declared once: hosts, addresses, roles, services and the gaps planted on each.

Everything else derives from this table: the namespaces, the daemon configurations (a daemon
module reads ``host.gaps`` to decide whether to plant a weakness), the readiness check, the
tests that ask "which hosts must fail check X", the demo's summary and the table in README.md here.

Addresses are only ever in the benchmarking range 198.18.0.0/15 (RFC 2544), inside network
namespaces the lab creates; the root namespace gets no route into the lab.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass

from scanner.engine.registry import installed_check_ids

PRACTICE_NET = "198.18.0.0/24"
PRACTICE_PREFIX = 24
SCANNER_ADDRESS = "198.18.0.100"
# GAPSCAN_LAB_ID lets a second lab run beside the first on one machine (a developer's helpers
# each testing their own change): "2" names everything gs2-*, /tmp/gslab2-*, /run/gapscan-lab2.
# The namespaces are isolated from each other, so both labs use the same lab addresses.
LAB_ID = os.environ.get("GAPSCAN_LAB_ID", "")
if not re.fullmatch(r"[0-9a-z]{0,3}", LAB_ID):
    raise SystemExit(f"GAPSCAN_LAB_ID must be up to 3 letters or digits, not {LAB_ID!r}")
NS_PREFIX = f"gs{LAB_ID}-"
# What is not per namespace must differ per lab too: X display numbers (their lock files live in
# the machine's /tmp). The default lab uses slot 0; another lab a slot derived from its id.
LAB_SLOT = int(LAB_ID, 36) % 250 + 1 if LAB_ID else 0  # ids that differ in one character never collide
SCANNER_NS = f"{NS_PREFIX}scan"
SWITCH_NS = f"{NS_PREFIX}sw"
BRIDGE = "br0"

# The dense part: one namespace owning every address of a /24, reached from the scanner through
# the dense namespace's own address on the practice bridge (a router, as in a real clinic).
DENSE_NET = "198.18.1.0/24"
DENSE_NS = f"{NS_PREFIX}dense"
DENSE_GATEWAY = "198.18.0.250"
# 20 ports a discovery sweep looks at; DENSE_OPEN_PORTS are open on every dense address.
DENSE_PORTS: tuple[int, ...] = (
    21,
    22,
    23,
    25,
    53,
    80,
    110,
    111,
    135,
    139,
    143,
    443,
    445,
    993,
    995,
    1433,
    3306,
    3389,
    5900,
    8080,
)
DENSE_OPEN_PORTS: tuple[int, ...] = (21, 22, 80, 139, 443, 445, 8080)

# Every installed check, from the registry (its entry points): a host or domain below may name
# only these, and tests/unit/test_contract.py asks of each one that the lab plants a FAIL and a
# PASS for it, or that PROVED_ELSEWHERE names the test that proves the side the lab cannot plant.
CHECK_IDS: frozenset[str] = installed_check_ids()


@dataclass(frozen=True)
class ProvedElsewhere:
    """A side of a check the lab cannot plant ("fail", "pass" or "both"), the test that proves it
    instead ("tests/path.py::test_name": a recorded fixture or a test that plants it itself), and why."""

    side: str
    test: str
    why: str


PROVED_ELSEWHERE: dict[str, ProvedElsewhere] = {
    "cleartext.telnet": ProvedElsewhere(
        "pass", "tests/test_cleartext_lab.py::test_telnet_fails_where_it_answers_and_nowhere_else",
        "Telnet has no secure mode, so the check never passes: every Telnet service is the gap. Its twin is a host "
        "without Telnet, where it must not be reported at all."),
    "rdp.nla_not_required": ProvedElsewhere(
        "pass", "tests/unit/test_rdp_checks.py::test_nla_required_passes",
        "xrdp has no CredSSP, so no lab host can require NLA; the PASS is proved on [MS-RDPBCGR] negotiation bytes."),
    "endpoint.backup_missing": ProvedElsewhere(
        "fail", "tests/unit/test_endpoint_upkeep.py::test_no_backup_configured_fails_on_a_real_collection",
        "Both lab laptops carry the real restic/borg repositories the other backup checks judge; the FAIL is proved "
        "on this machine's own recorded outputs of the same commands (no backup tool configured)."),
    "endpoint.ssh_host_key_changed": ProvedElsewhere(
        "fail", "tests/test_endpoint_lab.py::test_changed_host_key_is_a_finding_and_nothing_is_sent",
        "Both lab laptops pass (their keys are the ones recorded); the test records another real key for "
        "laptop-weak itself, so the FAIL is planted per test, not in the table."),
}


@dataclass(frozen=True)
class LabService:
    """One listening endpoint: ``daemon`` is the lab daemon kind that serves it."""

    port: int
    transport: str  # "tcp" or "udp"
    service: str  # IANA-style name, as a scanner would label it
    daemon: str  # "smbd", "vsftpd", "ganesha", "rpcbind", "postfix", "dovecot", "nsd", "nginx", "sshd"


@dataclass(frozen=True)
class LabHost:
    """One lab host: a network namespace with one address on the practice bridge.

    ``gaps`` are check ids that must FAIL on this host, ``hardened`` those that must PASS;
    a check id in neither is not asserted for the host. The daemon modules read ``gaps`` to
    decide what to plant, so this table cannot drift from what actually runs.
    """

    name: str
    address: str
    role: str
    namespace: str
    services: tuple[LabService, ...]
    gaps: frozenset[str]
    hardened: frozenset[str]
    notes: str
    dns_name: str = ""

    def daemons(self) -> tuple[str, ...]:
        """The daemon kinds this host runs, in a stable order, each once."""
        return tuple(dict.fromkeys(s.daemon for s in self.services))

    def tcp_ports(self) -> tuple[int, ...]:
        return tuple(s.port for s in self.services if s.transport == "tcp")


@dataclass(frozen=True)
class LabDomain:
    """A DNS zone served by the lab nameserver, with the mail-authentication gaps planted in it.

    ``txt`` holds (owner label relative to the zone, TXT value); ``"@"`` is the apex; ``a``
    holds (owner label, IPv4 address) for names the records point at. The zone is served
    DNSSEC-signed (with its DS in the lab's ``test.`` parent zone) exactly when
    ``dns.dnssec_missing`` is in ``hardened``. A domain below another lab domain is its own zone,
    delegated from the parent, so DMARC must fall back to the organizational domain's record.
    """

    name: str
    gaps: frozenset[str]
    hardened: frozenset[str]
    txt: tuple[tuple[str, str], ...] = ()
    mx: str = ""  # a host name (absolute, no trailing dot) or "" for none
    notes: str = ""
    a: tuple[tuple[str, str], ...] = ()

    @property
    def signed(self) -> bool:
        return "dns.dnssec_missing" in self.hardened


def _svc(port: int, service: str, daemon: str, transport: str = "tcp") -> LabService:
    return LabService(port=port, transport=transport, service=service, daemon=daemon)


def _ids(*ids: str) -> frozenset[str]:
    unknown = set(ids) - CHECK_IDS
    if unknown:  # a typo here would silently plant nothing: refuse at import time
        raise ValueError(f"unknown check ids in lab topology (not installed checks): {sorted(unknown)}")
    return frozenset(ids)


SMB_IDS = ("smb.signing_not_required", "smb.v1_enabled", "smb.guest_access", "smb.open_share")
# A host's mail daemons offer TLS unless smtp.starttls_missing is planted on it (postfix.py, dovecot.py).
MAIL_IDS = (
    "smtp.starttls_missing",
    "smtp.cleartext_auth",
    "smtp.open_relay",
    "imap.cleartext_login",
    "pop3.cleartext_login",
)
TLS_IDS = ("tls.legacy_protocol", "tls.weak_cipher", "tls.certificate_problem")
ENDPOINT_IDS = ("endpoint.disk_encryption_off", "endpoint.screen_lock_missing", "endpoint.firewall_off",
                "endpoint.antimalware_missing", "endpoint.os_unsupported")
# Issue 20: backups, patches, accounts and software, planted by tests/lab/daemons/endpoint_upkeep.py.
UPKEEP_IDS = ("endpoint.backup_stale", "endpoint.backup_unencrypted", "endpoint.patches_pending",
              "endpoint.accounts_weak", "endpoint.software_unsupported")
# The credentialed laptops' lab account (exists only inside their mount namespaces). The password is
# a canary: tests grep every artifact of a scan for it.
ENDPOINT_USER = "gslab"
ENDPOINT_UID = 64101
ENDPOINT_PASSWORD = "Canary-5f3e9a-gslab-NeverInOutput"
# The file servers' MariaDB application account: the lab's ground truth (a real login over cleartext
# works on the weak twin and is refused on the hardened one); the scanner never knows it.
DB_USER = "ehr"
DB_PASSWORD = "Canary-7c41d2-gslab-db-NeverInOutput"
FILE_SERVICES = (
    _svc(21, "ftp", "vsftpd"),
    _svc(111, "rpcbind", "rpcbind"),
    _svc(111, "rpcbind", "rpcbind", "udp"),
    _svc(139, "netbios-ssn", "smbd"),
    _svc(445, "microsoft-ds", "smbd"),
    _svc(2049, "nfs", "ganesha"),
    _svc(20048, "mountd", "ganesha"),
    _svc(161, "snmp", "snmpd", "udp"),
    _svc(5432, "postgresql", "postgres"),
    _svc(3306, "mysql", "mariadb"),
)
LAB_ZONE = "lab.test"

HOSTS: tuple[LabHost, ...] = (
    LabHost(
        name="dns",
        address="198.18.0.53",
        role="DNS (authoritative)",
        namespace=f"{NS_PREFIX}dns",
        services=(_svc(53, "domain", "nsd"), _svc(53, "domain", "nsd", "udp")),
        gaps=frozenset(),
        hardened=frozenset(),
        notes="NSD, authoritative for the lab zones (see DOMAINS); refuses recursion.",
        dns_name="ns.lab.test",
    ),
    LabHost(
        name="files-weak",
        address="198.18.0.10",
        role="file server (weak)",
        namespace=f"{NS_PREFIX}files-weak",
        services=FILE_SERVICES,
        gaps=_ids(*SMB_IDS, "ftp.anonymous_login", "cleartext.ftp", "nfs.open_export", "snmp.default_community",
                  "db.cleartext_exposed", "endpoint.accounts_weak"),
        hardened=frozenset(),
        notes="smbd: SMB1 allowed (NT1), signing disabled, guest-ok share 'scans' + user share "
        "'billing'; vsftpd: anonymous read-only, no TLS; nfs-ganesha: /srv to * with no root squash; "
        "snmpd: community 'public' (read-only); PostgreSQL: ssl = off; MariaDB: --skip-ssl (no CLIENT_SSL); "
        "guest-readable share 'images' holding WindowsImageBackup (smb.open_share: critical); SAM policy "
        "(pdbedit -P) min length 5, no lockout (endpoint.accounts_weak with a kind: windows credential).",
        dns_name="files-weak.lab.test",
    ),
    LabHost(
        name="files-good",
        address="198.18.0.11",
        role="file server (hardened)",
        namespace=f"{NS_PREFIX}files-good",
        services=(*FILE_SERVICES, _svc(5900, "vnc", "xvnc")),
        gaps=frozenset(),
        hardened=_ids(*SMB_IDS, "ftp.anonymous_login", "cleartext.ftp", "nfs.open_export", "snmp.default_community",
                      "db.cleartext_exposed", "cleartext.vnc", *TLS_IDS),
        notes="smbd: SMB2_02+, signing mandatory, user share only; vsftpd: no anonymous, AUTH "
        "TLS required (lab-CA cert, TLS 1.2+, AEAD suites); nfs-ganesha: /srv to the workstation and "
        "the scanner only, root squashed; snmpd: only a long random community; PostgreSQL: ssl = on (lab CA, "
        "TLS 1.2+), hostssl lines only; MariaDB: lab-CA cert, TLS 1.2+, require_secure_transport = ON "
        "(db.cleartext_exposed skips it: refusal shows only after a login); Xvnc 5900: X509Plain (VeNCrypt/TLS) only; "
        "SAM policy min length 12, lockout after 5 (pdbedit -P); not a twin of endpoint.accounts_weak: Samba reports "
        "its guest account (RID 501) enabled over MS-SAMR whatever 'map to guest' says.",
        dns_name="files-good.lab.test",
    ),
    LabHost(
        name="mail-weak",
        address="198.18.0.20",
        role="mail server (weak)",
        namespace=f"{NS_PREFIX}mail-weak",
        services=(
            _svc(25, "smtp", "postfix"),
            _svc(110, "pop3", "dovecot"),
            _svc(143, "imap", "dovecot"),
            _svc(587, "submission", "postfix"),
        ),
        gaps=_ids(*MAIL_IDS),
        hardened=frozenset(),
        notes="Postfix: no STARTTLS, open relay (mynetworks 0.0.0.0/0), AUTH (Dovecot SASL) "
        "offered in clear, every transport discard:; Dovecot: ssl = no, plaintext auth allowed.",
        dns_name="mail.weak-clinic.test",
    ),
    LabHost(
        name="mail-good",
        address="198.18.0.21",
        role="mail server (hardened)",
        namespace=f"{NS_PREFIX}mail-good",
        services=(
            _svc(25, "smtp", "postfix"),
            _svc(110, "pop3", "dovecot"),
            _svc(143, "imap", "dovecot"),
            _svc(587, "submission", "postfix"),
            _svc(993, "imaps", "dovecot"),
            _svc(995, "pop3s", "dovecot"),
        ),
        gaps=frozenset(),
        hardened=_ids(*MAIL_IDS, "smtp.tls_weak", *TLS_IDS),
        notes="Postfix: STARTTLS (lab-CA cert, TLS 1.2+), relays for itself only, AUTH only "
        "after STARTTLS, every transport discard:; Dovecot: ssl = required, LOGINDISABLED "
        "before STARTTLS/STLS, IMAPS/POP3S.",
        dns_name="mail.good-clinic.test",
    ),
    LabHost(
        name="mail-mixed",
        address="198.18.0.22",
        role="mail server (half-hardened)",
        namespace=f"{NS_PREFIX}mail-mixed",
        services=(
            _svc(25, "smtp", "postfix"),
            _svc(110, "pop3", "dovecot"),
            _svc(143, "imap", "dovecot"),
            _svc(587, "submission", "postfix"),
        ),
        gaps=_ids("smtp.tls_weak", "smtp.cleartext_auth", "imap.cleartext_login", "pop3.cleartext_login"),
        hardened=_ids("smtp.starttls_missing", "smtp.open_relay"),
        notes="Postfix: STARTTLS offered but TLS 1.0/1.1 only (static-RSA AES-CBC suites), AUTH (Dovecot SASL) "
        "offered before STARTTLS, relays for itself only, every transport discard:; Dovecot: STARTTLS/STLS "
        "offered but plaintext login allowed before it (no LOGINDISABLED).",
        dns_name="mail-mixed.lab.test",
    ),
    LabHost(
        name="web-weak",
        address="198.18.0.30",
        role="web portal (weak)",
        namespace=f"{NS_PREFIX}web-weak",
        services=(_svc(80, "http", "nginx"), _svc(443, "https", "nginx"), _svc(8443, "https-alt", "nginx")),
        gaps=_ids(*TLS_IDS, "cleartext.http_login"),
        hardened=frozenset(),
        notes="nginx 443: TLS 1.0/1.1 only, ALL:eNULL:@SECLEVEL=0 suites (NULL encryption, "
        "anonymous DH/ECDH, static RSA, CBC-SHA1; this OpenSSL has no 3DES or RC4 left), "
        "self-signed RSA-1024 SHA-1 certificate; 8443: TLS 1.2+, lab-CA certificate expired in "
        "2021; 80: a login form over plain HTTP.",
        dns_name="portal-weak.lab.test",
    ),
    LabHost(
        name="web-good",
        address="198.18.0.31",
        role="web portal (hardened)",
        namespace=f"{NS_PREFIX}web-good",
        services=(_svc(80, "http", "nginx"), _svc(443, "https", "nginx")),
        gaps=frozenset(),
        hardened=_ids(*TLS_IDS, "cleartext.http_login"),
        notes="nginx 443: TLS 1.2/1.3, ECDHE AEAD suites, RSA-2048 certificate from the lab CA "
        "naming the host; 80 redirects to https.",
        dns_name="portal.good-clinic.test",
    ),
    LabHost(
        name="ws",
        address="198.18.0.40",
        role="workstation (SSH, Telnet, RDP, VNC)",
        namespace=f"{NS_PREFIX}ws",
        services=(_svc(22, "ssh", "sshd"), _svc(23, "telnet", "inetd"), _svc(3389, "ms-wbt-server", "xrdp"),
                  _svc(5900, "vnc", "xvnc")),
        gaps=_ids("cleartext.vnc", "cleartext.telnet", "rdp.nla_not_required"),
        # No sync client runs here: the cloudsync checks must not name this host (tests exclude the senders).
        hardened=_ids("cloudsync.syncthing", "cloudsync.dropbox_lansync"),
        notes="OpenSSH with its own host keys; a front-desk PC with remote admin; inetutils telnetd (inetd) on 23 "
        "(cleartext.telnet always FAILs where Telnet answers: it has no hardened twin, only hosts without it); "
        "xrdp 3389 with security_layer=rdp, Standard RDP Security (rdp.nla_not_required FAILs; xrdp has no NLA, "
        "so no lab twin: see PROVED_ELSEWHERE); Xvnc 5900 with security type None.",
        dns_name="ws-frontdesk.lab.test",
    ),
    LabHost(
        name="sync",
        address="198.18.0.50",
        role="staff PC with Syncthing",
        namespace=f"{NS_PREFIX}sync",
        services=(_svc(22000, "syncthing", "syncthing"), _svc(21027, "syncthing-discovery", "syncthing", "udp")),
        gaps=_ids("cloudsync.syncthing"),
        hardened=_ids("cloudsync.resilio"),
        notes="Debian's Syncthing with a throwaway home: local discovery on UDP 21027 every 30 s (IPv4 broadcast, "
        "and IPv6 multicast to ff12::8384: the only lab host with an IPv6 link-local address), sync port 22000 "
        "(BEP over TLS); global discovery, relays, NAT traversal, usage reporting and upgrades off.",
        dns_name="pc-billing.lab.test",
    ),
    LabHost(
        name="dropbox",
        address="198.18.0.51",
        role="staff PC with Dropbox (emitter)",
        namespace=f"{NS_PREFIX}dropbox",
        services=(_svc(17500, "dropbox", "dropbox-emitter"), _svc(17500, "dropbox-lansync", "dropbox-emitter", "udp")),
        gaps=_ids("cloudsync.dropbox_lansync"),
        hardened=_ids("cloudsync.resilio"),
        notes="A Python emitter (the client cannot run here): the documented LAN sync JSON (host_int, version, "
        "displayname, port, 3 fake namespaces) broadcast to UDP 17500 every 2 s, TCP 17500 accepts.",
        dns_name="pc-reception.lab.test",
    ),
    LabHost(
        name="resilio",
        address="198.18.0.52",
        role="staff PC with Resilio Sync (emitter)",
        namespace=f"{NS_PREFIX}resilio",
        services=(_svc(3838, "resilio-discovery", "resilio-emitter", "udp"),),
        gaps=_ids("cloudsync.resilio"),
        hardened=_ids("cloudsync.syncthing", "cloudsync.dropbox_lansync"),
        notes="A Python emitter (the client is not packaged): an opaque placeholder datagram to Resilio's documented "
        "LAN discovery group 239.192.0.0:3838 every 2 s, TTL 1 (the format is unpublished: only the group is "
        "asserted).",
        dns_name="pc-nurse.lab.test",
    ),
    LabHost(
        name="laptop-weak",
        address="198.18.0.41",
        role="Linux laptop, credentialed (gaps)",
        namespace=f"{NS_PREFIX}laptop-weak",
        services=(_svc(22, "ssh", "endpoint-sshd"),),
        gaps=_ids(*ENDPOINT_IDS, *UPKEEP_IDS, "cloudsync.client_installed"),
        # its key is the one on record (the FAIL: PROVED_ELSEWHERE); its backups exist (stale/unencrypted)
        hardened=_ids("endpoint.ssh_host_key_changed", "endpoint.backup_missing"),
        notes="Real sshd, sudo, lsblk in private mount+PID namespaces (account gslab, password auth): data on a "
        "real unencrypted loop ext4 at /srv/patient-data and / on the VM's disk; empty nftables ruleset; GNOME "
        "lock off (dconf); no AV running; planted: Debian 10 os-release, ~/.dropbox-dist + autostart entry. "
        "(endpoint.ssh_host_key_changed is planted by its test: another real key recorded for this host.) Issue 20: "
        "a restic snapshot dated 10 days back (restic backup --time), a borg repository with encryption none, a "
        "pending security update from a local file: apt repository, last upgrade 45 days ago, UID 0 'toor', "
        "passwordless 'kiosk', Debian's PAM (no lockout), a PostgreSQL 11 dpkg entry.",
        dns_name="laptop-dr-lee.lab.test",
    ),
    LabHost(
        name="laptop-good",
        address="198.18.0.42",
        role="Linux laptop, credentialed (hardened)",
        namespace=f"{NS_PREFIX}laptop-good",
        services=(_svc(22, "ssh", "endpoint-sshd"),),
        gaps=frozenset(),
        hardened=_ids(*ENDPOINT_IDS, *UPKEEP_IDS, "cloudsync.client_installed", "endpoint.ssh_host_key_changed",
                      "endpoint.backup_missing"),
        notes="Same real sshd/sudo (key auth); nftables input policy drop; GNOME lock after 5 min; ClamAV clamd "
        "running with a lab signature; real Debian 12; lsblk replaced by a constructed LUKS laptop listing "
        "(no device-mapper in this kernel). Issue 20: a fresh restic snapshot, nothing pending in its apt "
        "repository and an upgrade 2 days ago, pam_faillock deny=5 and pam_unix minlen=12.",
        dns_name="laptop-front.lab.test",
    ),
)

# The dense namespace is not a practice host: it exists for the discovery benchmark. Its daemons
# listen on 0.0.0.0 and answer on every address of DENSE_NET (its bridge address rejects TCP).
DENSE_SERVICES: tuple[LabService, ...] = (
    _svc(21, "ftp", "vsftpd"),
    _svc(22, "ssh", "sshd"),
    _svc(80, "http", "nginx"),
    _svc(139, "netbios-ssn", "smbd"),
    _svc(443, "https", "nginx"),
    _svc(445, "microsoft-ds", "smbd"),
    _svc(8080, "http-proxy", "nginx"),
)
DENSE_HOST = LabHost(
    name="dense",
    address=str(next(ipaddress.ip_network(DENSE_NET).hosts())),
    role="dense /24 (discovery benchmark)",
    namespace=DENSE_NS,
    services=DENSE_SERVICES,
    gaps=frozenset(),
    hardened=frozenset(),
    notes=f"owns every address of {DENSE_NET}; reached via {DENSE_GATEWAY}",
)

NAMESERVER = next(h.address for h in HOSTS if h.role.startswith("DNS"))

# A real RSA-2048 public key (its private half was thrown away: nothing in the lab signs mail).
_DKIM_KEY = (
    "v=DKIM1; k=rsa; p="
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAs2T5Pc8N5EriQ483BUpe2ASh0G1V9mGzlAZIVgcHasWzBp"
    "/Uua8mThu2baJbhapV1Oy9FWc8gLNkXIsEURxYbmADSkT86ToSWSCSaIGUg8RAobMslirO0rhtuXl8DEZ2uFCgiCFT"
    "31Xyqf+6pnmax7P2DPHL9zjnHybYVxZK3sQ4rJnmeTi8BTmzEv1bKge3W6aI2fsDse7YpY3zAsW4cWhuHxxb2U4IE0"
    "LPAnXDxBDwpy77iYgIf1gG6NW+zbKwkaSpg/Luk8TNLQyK9+SVcLHpkp8j/L1NV4oTA8kP9baPuvRqwa8LE6T2EEqb"
    "hXRbSXXtjz6PZp7xntepIKSY/wIDAQAB"
)
# Every domain check id, so that each lab domain can say for each one whether it must FAIL or PASS.
SPF_IDS = ("dns.spf_missing", "dns.spf_weak", "dns.spf_invalid")
DMARC_IDS = ("dns.dmarc_missing", "dns.dmarc_weak")
TRANSPORT_IDS = ("dns.mta_sts_missing", "dns.tls_rpt_missing")
# Names the lookup-heavy SPF record points at (they exist: the 11 terms are not void lookups).
_OUT_HOSTS = tuple((f"out{i}", "198.18.0.21") for i in range(1, 9))
DOMAINS: tuple[LabDomain, ...] = (
    LabDomain(
        name="good-clinic.test",
        gaps=frozenset(),
        hardened=_ids(*SPF_IDS, *DMARC_IDS, "dns.dkim_missing", *TRANSPORT_IDS, "dns.dnssec_missing",
                      "mail.consumer_provider"),
        txt=(
            ("@", "v=spf1 mx -all"),
            ("_dmarc", "v=DMARC1; p=reject; rua=mailto:dmarc-reports@good-clinic.test; adkim=s; aspf=s"),
            ("default._domainkey", _DKIM_KEY),
            ("_mta-sts", "v=STSv1; id=20261122T000000"),
            ("_smtp._tls", "v=TLSRPTv1; rua=mailto:tls-reports@good-clinic.test"),
        ),
        mx="mail.good-clinic.test",
        notes="SPF -all, DMARC reject with rua, DKIM at default._domainkey, MTA-STS and TLS-RPT; "
        "DNSSEC-signed (ECDSA P-256, DS in the lab's test. zone).",
    ),
    LabDomain(
        name="weak-clinic.test",
        gaps=_ids("dns.spf_weak", "dns.dmarc_weak", "dns.dkim_missing", *TRANSPORT_IDS, "dns.dnssec_missing"),
        hardened=_ids("dns.spf_missing", "dns.spf_invalid", "dns.dmarc_missing", "mail.consumer_provider"),
        txt=(("@", "v=spf1 a mx ~all"), ("_dmarc", "v=DMARC1; p=none")),
        mx="mail.weak-clinic.test",
        notes="SPF ~all, DMARC p=none without rua, no DKIM key, unsigned.",
    ),
    LabDomain(
        name="open-clinic.test",
        gaps=_ids("dns.spf_weak", "dns.dmarc_weak", *TRANSPORT_IDS, "dns.dnssec_missing"),
        hardened=_ids("dns.spf_missing", "dns.spf_invalid", "dns.dmarc_missing", "dns.dkim_missing",
                      "mail.consumer_provider"),
        txt=(
            ("@", "v=spf1 +all"),
            ("_dmarc", "v=DMARC1; p=quarantine; pct=50; rua=mailto:dmarc@open-clinic.test"),
            ("selector1._domainkey", _DKIM_KEY),
        ),
        mx="mail.weak-clinic.test",
        notes="SPF +all (anyone may send), DMARC quarantine at pct=50, DKIM at selector1.",
    ),
    LabDomain(
        name="bare-clinic.test",
        gaps=_ids("dns.spf_missing", "dns.dmarc_missing", "dns.dkim_missing", *TRANSPORT_IDS, "dns.dnssec_missing"),
        hardened=_ids("mail.consumer_provider"),
        mx="mail.weak-clinic.test",
        notes="MX only: no SPF, no DMARC, no DKIM (SPF/DMARC policy checks skip: nothing to judge).",
    ),
    LabDomain(
        name="lookups-clinic.test",
        gaps=_ids("dns.spf_invalid", *TRANSPORT_IDS, "dns.dnssec_missing"),
        hardened=_ids("dns.spf_missing", *DMARC_IDS, "dns.dkim_missing", "mail.consumer_provider"),
        txt=(
            ("@", "v=spf1 mx include:_spf1.lookups-clinic.test include:_spf2.lookups-clinic.test -all"),
            ("_spf1", "v=spf1 " + " ".join(f"a:out{i}.lookups-clinic.test" for i in range(1, 5)) + " -all"),
            ("_spf2", "v=spf1 " + " ".join(f"a:out{i}.lookups-clinic.test" for i in range(5, 9)) + " -all"),
            ("_dmarc", "v=DMARC1; p=reject; rua=mailto:dmarc@lookups-clinic.test"),
            ("s1._domainkey", _DKIM_KEY),
        ),
        mx="mail.good-clinic.test",
        a=_OUT_HOSTS,
        notes="SPF with 11 DNS-querying terms across two includes (mx + 2 include + 8 a:), one over "
        "RFC 7208's limit of 10: a permerror; DMARC reject, DKIM at s1.",
    ),
    LabDomain(
        name="twospf-clinic.test",
        gaps=_ids("dns.spf_invalid", *TRANSPORT_IDS, "dns.dnssec_missing"),
        hardened=_ids("dns.spf_missing", *DMARC_IDS, "dns.dkim_missing", "mail.consumer_provider"),
        txt=(
            ("@", "v=spf1 mx -all"),
            ("@", "v=spf1 ip4:198.18.0.21 ~all"),
            ("_dmarc", "v=DMARC1; p=quarantine; rua=mailto:dmarc@twospf-clinic.test"),
            ("k1._domainkey", _DKIM_KEY),
        ),
        mx="mail.good-clinic.test",
        notes="Two SPF records (RFC 7208 §4.5: a permerror); DMARC quarantine, DKIM at k1.",
    ),
    LabDomain(
        name="consumer-clinic.test",
        gaps=_ids("mail.consumer_provider", *TRANSPORT_IDS, "dns.dnssec_missing"),
        hardened=_ids(*SPF_IDS, *DMARC_IDS, "dns.dkim_missing"),
        txt=(
            ("@", "v=spf1 redirect=good-clinic.test"),
            ("_dmarc", "v=DMARC1; p=reject; rua=mailto:dmarc@consumer-clinic.test"),
            ("google._domainkey", _DKIM_KEY),
        ),
        mx="gmail-smtp-in.l.google.com",
        notes="MX at Gmail's consumer name (a name only: never resolved or contacted); SPF by redirect "
        "to good-clinic.test (-all), DMARC reject, DKIM at google.",
    ),
    LabDomain(
        name="branch.good-clinic.test",
        gaps=_ids("dns.dkim_missing", *TRANSPORT_IDS, "dns.dnssec_missing"),
        hardened=_ids(*SPF_IDS, *DMARC_IDS, "mail.consumer_provider"),
        txt=(("@", "v=spf1 include:good-clinic.test -all"),),
        mx="mail.good-clinic.test",
        notes="A subdomain zone (unsigned, delegated from the signed good-clinic.test) without its own "
        "_dmarc: DMARC falls back to good-clinic.test's p=reject; SPF includes the parent's.",
    ),
)


def host(name: str) -> LabHost:
    """The host called ``name`` (practice hosts and ``dense``)."""
    for h in (*HOSTS, DENSE_HOST):
        if h.name == name:
            return h
    raise KeyError(name)


def host_by_address(address: str) -> LabHost:
    for h in HOSTS:
        if h.address == address:
            return h
    raise KeyError(address)


def hosts_failing(check_id: str) -> tuple[LabHost, ...]:
    """Practice hosts on which ``check_id`` must report FAIL."""
    _known(check_id)
    return tuple(h for h in HOSTS if check_id in h.gaps)


def hosts_passing(check_id: str) -> tuple[LabHost, ...]:
    """Practice hosts on which ``check_id`` must report PASS."""
    _known(check_id)
    return tuple(h for h in HOSTS if check_id in h.hardened)


def domains_failing(check_id: str) -> tuple[LabDomain, ...]:
    _known(check_id)
    return tuple(d for d in DOMAINS if check_id in d.gaps)


def domains_passing(check_id: str) -> tuple[LabDomain, ...]:
    _known(check_id)
    return tuple(d for d in DOMAINS if check_id in d.hardened)


def domain_names() -> tuple[str, ...]:
    return tuple(d.name for d in DOMAINS)


def all_services(include_dense: bool = False) -> tuple[tuple[LabHost, LabService], ...]:
    """Every (host, service) pair of the practice network (and the dense host if asked)."""
    hosts = (*HOSTS, DENSE_HOST) if include_dense else HOSTS
    return tuple((h, s) for h in hosts for s in h.services)


def _known(check_id: str) -> None:
    if check_id not in CHECK_IDS:
        raise KeyError(f"no installed check is called {check_id!r}; known: {sorted(CHECK_IDS)}")


def markdown_table() -> str:
    """The lab as Markdown (hosts, then domains), generated from this table for the README."""
    lines = [
        f"Practice network {PRACTICE_NET} (scanner {SCANNER_ADDRESS} in namespace `gs-scan`, "  # default lab id (docs)
        f"nameserver {NAMESERVER}); dense network {DENSE_NET} behind {DENSE_GATEWAY}.",
        "",
        "| Host | Address | Role | Services (daemon) | Planted gaps (must FAIL) | Hardened (must PASS) |",
        "|---|---|---|---|---|---|",
    ]
    for h in (*HOSTS, DENSE_HOST):
        services = ", ".join(f"{s.port}/{s.transport} {s.service} ({s.daemon})" for s in h.services)
        address = DENSE_NET if h is DENSE_HOST else h.address
        lines.append(f"| {h.name} | {address} | {h.role} | {services} | {_fmt(h.gaps)} | {_fmt(h.hardened)} |")
    lines += [
        "",
        "| Domain | MX | Records | Planted gaps (must FAIL) | Hardened (must PASS) |",
        "|---|---|---|---|---|",
    ]
    for d in DOMAINS:
        records = "<br>".join(
            [f"`{label}` TXT `{_short(value)}`" for label, value in d.txt]
            + ([f"A ({len(d.a)}): " + ", ".join(f"`{label}`" for label, _ in d.a)] if d.a else [])
        ) or "none"
        lines.append(f"| {d.name} | {d.mx or '-'} | {records} | {_fmt(d.gaps)} | {_fmt(d.hardened)} |")
    lines += ["", "Notes:", ""]
    lines += [f"- **{h.name}**: {h.notes}" for h in (*HOSTS, DENSE_HOST)]
    lines += [f"- **{d.name}**: {d.notes}" for d in DOMAINS]
    return "\n".join(lines) + "\n"


def _fmt(ids: frozenset[str]) -> str:
    return ", ".join(f"`{i}`" for i in sorted(ids)) or "-"


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."
