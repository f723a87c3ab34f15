"""Reading what a server said: greetings, HTTP heads, and the product names in them.

Pure functions over bytes that came off the network, which are hostile input: reads are capped
at ``MAX_READ`` bytes by the caller, and the banner kept for evidence is stripped of control and
format characters (terminal escapes, bidi overrides) and cut to ``BANNER_MAX`` characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

MAX_READ = 4096  # bytes read from any peer
BANNER_MAX = 256  # characters kept as evidence


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


def greeting_complete(data: bytes) -> bool:
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


_LINE_GREETING = re.compile(rb"^(SSH-|\d{3}[ -]|\+OK|-ERR|\* |@RSYNCD:)")
_FINAL_REPLY_LINE = re.compile(rb"^\d{3}(?: |\r?$)")


def greeting_part(raw: bytes) -> bytes:
    """The greeting alone, without what the server said after it (its answer to a probe we
    sent before it spoke): the first line, or a whole multi-line "220-" reply (RFC 5321
    §4.2.1). Binary greetings (Telnet negotiation, MySQL) are returned as they came."""
    if not _LINE_GREETING.match(raw):
        return raw
    lines = raw.split(b"\n")
    if not re.match(rb"^\d{3}-", raw):
        return lines[0]
    for i, line in enumerate(lines):
        if _FINAL_REPLY_LINE.match(line):
            return b"\n".join(lines[: i + 1])
    return raw


def is_http_response(raw: bytes) -> bool:
    return bool(_HTTP_STATUS.match(raw))


def looks_like_tls(raw: bytes) -> bool:
    """A TLS record header (RFC 8446 §5.1): content type 20-23 (change_cipher_spec, alert,
    handshake, application_data) and a legacy version 3.x."""
    return len(raw) >= 3 and 20 <= raw[0] <= 23 and raw[1] == 3 and raw[2] <= 4


def is_bare_220(raw: bytes) -> bool:
    """A "220" greeting that names neither SMTP nor FTP: both protocols greet so (RFC 5321 §4.2,
    RFC 959 §4.2), so the server must be asked (see ``ftp_or_smtp``)."""
    return bool(re.match(rb"^220[ -]", raw)) and classify_greeting(raw) is None


# Asked of a bare "220" greeter: FEAT is FTP's (RFC 2389: "211" and the features), EHLO is
# SMTP's (RFC 5321 §4.1.1.1: "250"); each protocol answers the other's command with an error.
FTP_OR_SMTP_QUESTIONS = b"FEAT\r\nEHLO gapscan.invalid\r\n"
_REPLY = re.compile(rb"^(\d{3})[ -]", re.M)


def ftp_or_smtp(replies: bytes) -> str | None:
    """"ftp" or "smtp" from the replies to ``FTP_OR_SMTP_QUESTIONS`` (greeting excluded)."""
    codes = [m.group(1) for m in _REPLY.finditer(replies)]
    if b"211" in codes:
        return "ftp"
    if b"250" in codes:
        return "smtp"
    return None
