"""Service identification good enough to route checks: which protocol answers on an open port.

Three sources, cheapest first:

1. the well-known port map (``PORT_SERVICES``): enough for services that wait for the client
   to speak (SMB, RDP, DNS, RPC, databases other than MySQL);
2. the greeting of services that speak first (SSH, SMTP, FTP, POP3, IMAP, VNC, MySQL, telnet):
   read with a timeout, it names the protocol even on a non-standard port and usually the
   product and version;
3. on HTTP-family and unknown ports, a TLS handshake and an HTTP ``HEAD`` tell https from http
   (a web console on 8443 may be plain, one on 8080 may be TLS).

Everything read off the network is hostile input: reads are capped at ``MAX_READ`` bytes, and
the banner kept for evidence is stripped of control and format characters (terminal escapes,
bidi overrides) and cut to ``BANNER_MAX`` characters. Every connect and read has a timeout;
timed-out connects are retried a bounded number of times, exactly like the sweep.

A port whose probe fails keeps its port-map name (``identified_by="port-map"``): identification
refines routing, it never removes an open port that the sweep established.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from scanner.discovery.tcp_sweep import run_per_host
from scanner.models import Service, Transport
from scanner.scope.guard import require_in_scope

# Routing names: what checks put in ``Applies(services=...)``. Sources: IANA service registry
# and the RFCs named. 587 is "submission" (RFC 6409), 465 "smtps" (implicit TLS, RFC 8314).
PORT_SERVICES: dict[int, str] = {
    21: "ftp",
    22: "ssh",
    23: "telnet",
    25: "smtp",
    53: "dns",
    80: "http",
    88: "kerberos",
    104: "dicom",
    110: "pop3",
    111: "rpcbind",
    135: "msrpc",
    139: "netbios-ssn",
    143: "imap",
    389: "ldap",
    443: "https",
    445: "smb",
    465: "smtps",
    515: "lpd",
    548: "afp",
    587: "submission",
    631: "ipp",
    636: "ldaps",
    873: "rsync",
    990: "ftps",
    993: "imaps",
    995: "pop3s",
    1433: "mssql",
    1521: "oracle",
    2049: "nfs",
    2575: "hl7",
    3000: "http",
    3306: "mysql",
    3389: "rdp",
    5000: "http",
    5432: "postgresql",
    5900: "vnc",
    5901: "vnc",
    5902: "vnc",
    5985: "winrm",
    5986: "winrm",
    8000: "http",
    8008: "http",
    8080: "http",
    8443: "https",
    8888: "http",
    9100: "jetdirect",
    9443: "https",
    11112: "dicom",
    17500: "dropbox",
    20048: "mountd",  # NFS MOUNT protocol (RFC 1813 App. I) on its IANA port
    22000: "syncthing",
}

UDP_PORT_SERVICES: dict[int, str] = {
    53: "dns",
    67: "dhcp",
    69: "tftp",
    111: "rpcbind",
    123: "ntp",
    137: "netbios-ns",
    161: "snmp",
    500: "isakmp",
    1900: "ssdp",
    5353: "mdns",
    17500: "dropbox",
}

# Services that greet first: wait for their banner (it may name another protocol: an SSH
# daemon moved to port 25 must not be routed to the SMTP checks).
GREETING_SERVICES = frozenset({"ftp", "ssh", "telnet", "smtp", "submission", "pop3", "imap", "vnc", "mysql"})
# Ports where http/https is the standard; anywhere else the TLS question is asked.
STANDARD_HTTP_PORTS = {80: "http", 443: "https"}
HTTP_FAMILY = frozenset({"http", "https"})
# With implicit TLS these greet only after the handshake; their names say TLS already, and the
# TLS checks do the handshake properly.
TLS_VARIANT = {"smtp": "smtps", "submission": "smtps", "imap": "imaps", "pop3": "pop3s", "ftp": "ftps"}

MAX_READ = 4096  # bytes read from any peer
BANNER_MAX = 256  # characters kept as evidence


@dataclass(frozen=True)
class IdentifyTimeouts:
    """Seconds. ``greeting`` for services that must greet (SMTP may pause, RFC 5321 §4.5.3.2
    allows 5 minutes; postscreen waits 6 s: a slower greeting keeps the port-map name),
    ``unknown_greeting`` for ports that may or may not greet, ``exchange`` for a TLS handshake
    or an HTTP response."""

    connect: float = 5.0
    greeting: float = 3.0
    unknown_greeting: float = 1.0
    exchange: float = 3.0


# ------------------------------------------------------------------------ hostile input


def clean_banner(raw: bytes | str, limit: int = BANNER_MAX) -> str:
    """A banner safe to store and show: decoded, control/format characters removed (line
    breaks and tabs become spaces), whitespace collapsed, at most ``limit`` characters."""
    text = raw[: MAX_READ * 2] if isinstance(raw, str) else raw[:MAX_READ].decode("utf-8", "replace")
    out: list[str] = []
    for ch in text:
        if ch in "\r\n\t":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())[:limit]


# ----------------------------------------------------------------------- banner parsing


@dataclass(frozen=True)
class Identification:
    service: str | None
    product: str | None = None
    version: str | None = None


_SSH = re.compile(rb"^SSH-(\d+\.\d+)-([!-~]{1,100})")
_SSH_SOFTWARE = re.compile(r"^([A-Za-z][A-Za-z0-9.]*?)[_-]v?(\d[\w.+~]*)")
_RFB = re.compile(rb"^RFB (\d{3})\.(\d{3})\n")

# (pattern, product) for greetings; group "v" is the version when the banner carries one.
_SMTP_PRODUCTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bPostfix\b", re.I), "Postfix"),
    (re.compile(r"\bExim (?P<v>\d[\w.]*)", re.I), "Exim"),
    (re.compile(r"\bExim\b", re.I), "Exim"),
    (re.compile(r"\bSendmail (?P<v>\d[\w.]*)", re.I), "Sendmail"),
    (re.compile(r"\bSendmail\b", re.I), "Sendmail"),
    (re.compile(r"Microsoft ESMTP MAIL Service(?:, Version: (?P<v>[\d.]+))?", re.I), "Microsoft ESMTP"),
    (re.compile(r"\bOpenSMTPD\b", re.I), "OpenSMTPD"),
    (re.compile(r"\bhMailServer\b", re.I), "hMailServer"),
    (re.compile(r"\bMailEnable\b", re.I), "MailEnable"),
    (re.compile(r"\bqmail\b", re.I), "qmail"),
)
_FTP_PRODUCTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\(vsFTPd (?P<v>[\d.]+)\)", re.I), "vsftpd"),
    (re.compile(r"\bProFTPD (?P<v>\d[\w.]*)", re.I), "ProFTPD"),
    (re.compile(r"\bProFTPD\b", re.I), "ProFTPD"),
    (re.compile(r"\bPure-FTPd\b", re.I), "Pure-FTPd"),
    (re.compile(r"FileZilla Server(?: version)? (?P<v>\d[\w.]*)", re.I), "FileZilla Server"),
    (re.compile(r"\bMicrosoft FTP Service\b", re.I), "Microsoft FTP"),
)
_MAILBOX_PRODUCTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bDovecot\b", re.I), "Dovecot"),
    (re.compile(r"\bCyrus (?:IMAP|POP3)\S* v?(?P<v>\d[\w.]*)", re.I), "Cyrus"),
    (re.compile(r"\bCourier-(?:IMAP|POP3)\b", re.I), "Courier"),
    (re.compile(r"Microsoft Exchange", re.I), "Microsoft Exchange"),
)
_HTTP_STATUS = re.compile(rb"^HTTP/\d(?:\.\d)? \d{3}")
_HTTP_SERVER = re.compile(rb"^server:[ \t]*([^\r\n]{1,200})", re.I | re.M)
_SERVER_PRODUCT = re.compile(r"^([^/\s()]+)(?:/([\w.+~-]+))?")
_SMTP_WORDS = re.compile(r"\b(E?SMTP|Postfix|Exim|Sendmail|mail)", re.I)


def _match_product(text: str, table: Sequence[tuple[re.Pattern[str], str]]) -> tuple[str | None, str | None]:
    for pattern, product in table:
        m = pattern.search(text)
        if m:
            version = m.groupdict().get("v")
            return product, version
    return None, None


def _first_line(raw: bytes) -> str:
    return clean_banner(raw.split(b"\n", 1)[0])


def classify_greeting(raw: bytes, port_hint: str | None = None) -> Identification | None:
    """Name the protocol (and product/version where the greeting says so) from what a server
    sent before the client spoke. None when the bytes name no known protocol."""
    if not raw:
        return None
    m = _SSH.match(raw)
    if m:
        software = m.group(2).decode("ascii", "replace")
        sm = _SSH_SOFTWARE.match(software)
        if sm:
            return Identification("ssh", sm.group(1), sm.group(2))
        return Identification("ssh", clean_banner(software, 64) or None)
    m = _RFB.match(raw)
    if m:  # RFC 6143 §7.1.1 ProtocolVersion: "RFB 003.008\n"
        return Identification("vnc", None, f"{int(m.group(1))}.{int(m.group(2))}")
    if raw[0] == 0xFF and len(raw) >= 2 and 0xFB <= raw[1] <= 0xFE:
        return Identification("telnet")  # RFC 854 IAC WILL/WONT/DO/DONT option negotiation
    mysql = _classify_mysql(raw)
    if mysql is not None:
        return mysql
    line = _first_line(raw)
    if line.startswith(("+OK", "-ERR")):  # RFC 1939 §4
        product, version = _match_product(line, _MAILBOX_PRODUCTS)
        return Identification("pop3", product, version)
    if line.startswith(("* OK", "* PREAUTH", "* BYE")):  # RFC 9051 §7.1
        product, version = _match_product(line, _MAILBOX_PRODUCTS)
        return Identification("imap", product, version)
    if line.startswith("@RSYNCD:"):
        return Identification("rsync", None, line[8:].strip() or None)
    if re.match(r"^220[ -]", line):  # RFC 5321 §4.2 / RFC 959 §4.2 both greet with 220
        if _SMTP_WORDS.search(line) and "FTP" not in line.upper():
            product, version = _match_product(line, _SMTP_PRODUCTS)
            service = "submission" if port_hint == "submission" else "smtp"
            return Identification(service, product, version)
        product, version = _match_product(line, _FTP_PRODUCTS)
        if product or "FTP" in line.upper():
            return Identification("ftp", product, version)
        if port_hint in ("smtp", "submission", "ftp"):
            return Identification(port_hint)
        return None
    return None


def _classify_mysql(raw: bytes) -> Identification | None:
    """MySQL/MariaDB protocol: the server sends a handshake packet (protocol 10) or an error
    packet (0xff) first. Packet header: 3-byte little-endian length, 1-byte sequence id."""
    if len(raw) < 6 or raw[3] != 0:
        return None
    length = int.from_bytes(raw[:3], "little")
    if not 1 < length <= 0xFFFF:
        return None
    payload = raw[4 : 4 + length]
    if payload[0] == 10:
        end = payload.find(b"\x00", 1)
        if end <= 1 or end > 80:
            return None
        version = payload[1:end].decode("ascii", "replace")
        if not re.match(r"^\d+\.\d+", version):
            return None
        product = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        if product == "MariaDB" and version.startswith("5.5.5-"):
            version = version[6:]  # MariaDB KB "Connection": a 5.5.5- prefix for old replication clients
        return Identification("mysql", product, clean_banner(version.split("-", 1)[0], 64))
    if payload[0] == 0xFF and len(payload) > 3 and b"mysql" in payload.lower():
        return Identification("mysql", "MySQL")
    return None


def parse_http_response(raw: bytes) -> tuple[bool, str | None, str | None]:
    """(is_http, product, version) from the head of an HTTP response."""
    if not _HTTP_STATUS.match(raw):
        return False, None, None
    head = raw.split(b"\r\n\r\n", 1)[0]
    m = _HTTP_SERVER.search(head)
    if not m:
        return True, None, None
    server = clean_banner(m.group(1), 100)
    sm = _SERVER_PRODUCT.match(server)
    if not sm:
        return True, server or None, None
    return True, sm.group(1), sm.group(2)


def _greeting_complete(data: bytes) -> bool:
    if data[:1] == b"\xff":  # telnet negotiation: one burst is all we need
        return True
    if len(data) >= 4 and data[3] == 0:  # a MySQL packet: complete when its length is in
        length = int.from_bytes(data[:3], "little")
        if 4 + length <= len(data):
            return True
    if not data.endswith(b"\n"):
        return False
    last = data.rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
    # A multi-line SMTP/FTP reply ("220-...") ends with a line "220 ..." (RFC 5321 §4.2.1).
    return not re.match(rb"^\d{3}-", last)


# ----------------------------------------------------------------------------- network I/O

_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE",
                              "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "UNEXPECTED_RECORD", "BAD_PACKET"})


def _tls_context() -> ssl.SSLContext:
    """Detection only: accept any certificate and the oldest protocol and ciphers OpenSSL
    still has (docs/lab-notes.md: TLS 1.0 needs @SECLEVEL=0). Judging TLS is the TLS checks' job."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 is the point here
            ctx.minimum_version = ssl.TLSVersion.TLSv1
    except (ssl.SSLError, ValueError):
        pass
    return ctx


class _Unanswered(Exception):
    """The port could not be reached again (timeouts exhausted, refused, unreachable)."""


async def _open(
    address: str, port: int, timeouts: IdentifyTimeouts, retries: int, tls: bool = False
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect (and, with ``tls``, handshake), retrying only timed-out connects. Raises
    ``ssl.SSLError`` from the handshake, ``_Unanswered`` when the port does not answer."""
    attempts = 0
    while True:
        attempts += 1
        try:
            async with asyncio.timeout(timeouts.connect):
                reader, writer = await asyncio.open_connection(address, port, limit=MAX_READ * 2)
        except TimeoutError as exc:
            if attempts > retries:
                raise _Unanswered("connect timed out") from exc
            continue
        except OSError as exc:  # refused, unreachable, reset, no descriptor to spare
            raise _Unanswered(str(exc)) from exc
        break
    if not tls:
        return reader, writer
    try:
        async with asyncio.timeout(timeouts.exchange):
            await writer.start_tls(_tls_context())
    except BaseException:
        writer.transport.abort()
        raise
    return reader, writer


async def _read_until(reader: asyncio.StreamReader, timeout: float, done: Callable[[bytes], bool]) -> bytes:
    """Read until ``done(data)``, EOF, ``MAX_READ`` bytes or the timeout; returns what came."""
    data = b""
    try:
        async with asyncio.timeout(timeout):
            while len(data) < MAX_READ:
                chunk = await reader.read(MAX_READ - len(data))
                if not chunk:
                    break
                data += chunk
                if done(data):
                    break
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        pass
    return data[:MAX_READ]


def _close(writer: asyncio.StreamWriter) -> None:
    # abort() rather than close(): no wait for a peer that never reads, nothing left behind.
    writer.transport.abort()


def _http_request(address: str) -> bytes:
    host = f"[{address}]" if ":" in address else address
    return f"HEAD / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: gapscan\r\nAccept: */*\r\n\r\n".encode()


@dataclass(frozen=True)
class _Observation:
    ident: Identification | None
    banner: str | None
    method: str


async def _greeting(address: str, port: int, hint: str | None, wait: float, tls: bool,
                    timeouts: IdentifyTimeouts, retries: int) -> _Observation | None:
    reader, writer = await _open(address, port, timeouts, retries, tls=tls)
    try:
        raw = await _read_until(reader, wait, _greeting_complete)
    finally:
        _close(writer)
    if not raw:
        return None
    return _Observation(classify_greeting(raw, hint), clean_banner(raw), "banner")


async def _http(address: str, port: int, tls: bool, timeouts: IdentifyTimeouts,
                retries: int) -> _Observation | None:
    reader, writer = await _open(address, port, timeouts, retries, tls=tls)
    try:
        writer.write(_http_request(address))
        raw = await _read_until(reader, timeouts.exchange, lambda d: b"\r\n\r\n" in d)
    finally:
        _close(writer)
    is_http, product, version = parse_http_response(raw)
    if not is_http:
        return None
    head = raw.split(b"\r\n\r\n", 1)[0]
    return _Observation(Identification("https" if tls else "http", product, version),
                        clean_banner(head), "banner")


async def _is_tls(address: str, port: int, timeouts: IdentifyTimeouts, retries: int) -> bool | None:
    """True when a TLS handshake completes or the peer answers with a TLS alert; False when
    it answers in plaintext, hangs up or waits (an HTTP server may wait for the end of a
    "request" that never comes); None when the port cannot be reached at all."""
    try:
        _reader, writer = await _open(address, port, timeouts, retries, tls=True)
    except _Unanswered:
        return None
    except ssl.SSLError as exc:
        return (exc.reason or "") not in _NOT_TLS_REASONS
    except (TimeoutError, ConnectionError, OSError):
        return False
    _close(writer)
    return True


async def _observe(address: str, port: int, hint: str | None, timeouts: IdentifyTimeouts,
                   retries: int) -> _Observation | None:
    if hint in GREETING_SERVICES:
        return await _greeting(address, port, hint, timeouts.greeting, False, timeouts, retries)
    if port in STANDARD_HTTP_PORTS:
        return await _http(address, port, STANDARD_HTTP_PORTS[port] == "https", timeouts, retries)
    if hint is not None and hint not in HTTP_FAMILY:
        return None  # the client speaks first and the port is its own: the map is enough
    # HTTP on a non-standard port, or an unknown port: a greeting first (cheap, and a
    # greet-first daemon would not answer HTTP), then TLS-or-not, then HTTP.
    if hint is None:
        seen = await _greeting(address, port, None, timeouts.unknown_greeting, False, timeouts, retries)
        if seen is not None:
            return seen
    tls = await _is_tls(address, port, timeouts, retries)
    if tls is None:
        return None
    if tls:
        seen = await _http(address, port, True, timeouts, retries)
        if seen is not None or hint == "https":
            return seen
        wrapped = await _greeting(address, port, None, timeouts.unknown_greeting, True, timeouts, retries)
        if wrapped is not None and wrapped.ident is not None and wrapped.ident.service is not None:
            ident = wrapped.ident
            name = ident.service or ""
            return _Observation(Identification(TLS_VARIANT.get(name, name), ident.product, ident.version),
                                wrapped.banner, "banner")
        return _Observation(Identification("tls"), None, "tls-handshake")
    return await _http(address, port, False, timeouts, retries)


async def identify(
    address: str,
    port: int,
    *,
    timeouts: IdentifyTimeouts | None = None,
    retries: int = 2,
) -> Service:
    """Identify what answers on an open TCP port. Never raises for network conditions: a port
    that cannot be read keeps its port-map name. Raises ``OutOfScopeError`` when the address
    is outside the active scope."""
    require_in_scope(address)
    timeouts = timeouts or IdentifyTimeouts()
    hint = PORT_SERVICES.get(port)
    mapped = Service(port=port, transport=Transport.TCP, service=hint,
                     identified_by="port-map" if hint else None)
    try:
        seen = await _observe(address, port, hint, timeouts, retries)
    except (_Unanswered, ssl.SSLError, ConnectionError, TimeoutError):
        return mapped
    except OSError:
        return mapped
    if seen is None:
        return mapped
    ident = seen.ident
    if ident is None or ident.service is None:
        return mapped.model_copy(update={"banner": seen.banner or None})
    service = ident.service
    if hint == "submission" and service == "smtp":
        service = "submission"
    return Service(port=port, transport=Transport.TCP, service=service, product=ident.product,
                   version=ident.version, banner=seen.banner or None, identified_by=seen.method)


def map_only(port: int, transport: Transport = Transport.TCP) -> Service:
    """The port-map identification alone (service_detection="none")."""
    table = PORT_SERVICES if transport is Transport.TCP else UDP_PORT_SERVICES
    name = table.get(port)
    return Service(port=port, transport=transport, service=name, identified_by="port-map" if name else None)


async def identify_all(
    open_ports: Mapping[str, Sequence[int]],
    *,
    global_limit: int,
    per_host: int,
    timeouts: IdentifyTimeouts | None = None,
    retries: int = 2,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[Service]]:
    """Identify every open port of every host, under the global and per-host limits."""
    for address in open_ports:
        require_in_scope(address)
    results: dict[str, list[Service]] = {h: [] for h in open_ports}
    total = sum(len(p) for p in open_ports.values())
    done = 0

    async def one(host: str, port: int) -> bool:
        nonlocal done
        results[host].append(await identify(host, port, timeouts=timeouts, retries=retries))
        done += 1
        if on_progress is not None:
            on_progress(done, total)
        return True

    work = [(h, list(p)) for h, p in open_ports.items()]
    await run_per_host(work, one, global_limit=global_limit, per_host=per_host)
    for services in results.values():
        services.sort(key=lambda s: s.port)
    return results
