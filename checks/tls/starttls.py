"""Upgrading a plaintext connection to the point where a TLS ClientHello may be sent.

STARTTLS for SMTP (RFC 3207), IMAP (RFC 3501 §6.2.1), POP3 STLS (RFC 2595 §4) and FTP AUTH TLS
(RFC 4217 §4). Each function takes a ``LineClient`` just connected, runs the dialogue and
returns ``None`` when the socket is ready for a ClientHello, or the server's refusal (the
capability missing, or the reply) as text. Bytes the server sends after its "go ahead" and
before the handshake would be plaintext injected into the TLS session (the STARTTLS
command-injection class, CVE-2011-0411): that is a ProtocolError, never read as TLS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scanner.errors import ProtocolError
from scanner.net.lines import MAX_LINES, LineClient, read_smtp_greeting, read_smtp_reply
from scanner.net.text import sanitize


def _no_pending(client: LineClient, what: str) -> None:
    if client._buffer:  # LineClient has no public accessor for its read buffer
        raise ProtocolError(f"{what}: server sent data after its go-ahead, before the TLS handshake")


@dataclass(frozen=True)
class SmtpUpgrade:
    """EHLO + STARTTLS (RFC 3207): offered in EHLO? the reply to STARTTLS; ready for a ClientHello?"""

    offered: bool
    reply: str  # "220 2.0.0 Ready to start TLS", or "" when not offered
    ready: bool


def smtp_upgrade(client: LineClient) -> SmtpUpgrade:
    """Greeting, EHLO and (when offered) STARTTLS; shared with checks/mail/smtp_tls_probe.py."""
    read_smtp_greeting(client)
    client.send_line(f"EHLO [{client.local_address}]")
    ehlo_code, ehlo = read_smtp_reply(client)
    keywords = {line.split(" ", 1)[0].upper() for line in ehlo[1:]} if ehlo_code == 250 else set()
    if "STARTTLS" not in keywords:
        return SmtpUpgrade(False, "", False)
    client.send_line("STARTTLS")
    tls_code, tls_text = read_smtp_reply(client)
    return SmtpUpgrade(True, f"{tls_code} {' '.join(tls_text)}", tls_code == 220)


def smtp(client: LineClient) -> str | None:
    upgrade = smtp_upgrade(client)
    if not upgrade.offered:
        return "STARTTLS not offered in EHLO"
    if not upgrade.ready:
        return f"STARTTLS refused: {sanitize(upgrade.reply, 120)}"
    _no_pending(client, "SMTP")
    return None


def _imap_tagged(client: LineClient, tag: str) -> tuple[str, list[str]]:
    untagged: list[str] = []
    for _ in range(MAX_LINES):
        line = client.read_line()
        if line.startswith(tag + " "):
            return line[len(tag) + 1:], untagged
        untagged.append(line)
    raise ProtocolError("IMAP: no tagged reply")


def imap(client: LineClient) -> str | None:
    greeting = client.read_line()
    if not greeting.upper().startswith("* OK"):
        raise ProtocolError(f"IMAP greeting is not '* OK': {sanitize(greeting, 120)!r}")
    client.send_line("g1 CAPABILITY")
    status, untagged = _imap_tagged(client, "g1")
    caps = " ".join([*untagged, greeting]).upper().split()
    if not status.upper().startswith("OK") or "STARTTLS" not in caps:
        return "STARTTLS not in CAPABILITY"
    client.send_line("g2 STARTTLS")
    status, _ = _imap_tagged(client, "g2")
    if not status.upper().startswith("OK"):
        return f"STARTTLS refused: {sanitize(status, 120)}"
    _no_pending(client, "IMAP")
    return None


def pop3(client: LineClient) -> str | None:
    greeting = client.read_line()
    if not greeting.startswith("+OK"):
        raise ProtocolError(f"POP3 greeting is not '+OK': {sanitize(greeting, 120)!r}")
    client.send_line("CAPA")
    first = client.read_line()
    caps: list[str] = []
    if first.startswith("+OK"):
        for _ in range(MAX_LINES):
            line = client.read_line()
            if line == ".":
                break
            caps.append(line.split(" ", 1)[0].upper())
        else:
            raise ProtocolError("POP3: CAPA list never ended")
    if "STLS" not in caps:
        return "STLS not in CAPA"
    client.send_line("STLS")
    reply = client.read_line()
    if not reply.startswith("+OK"):
        return f"STLS refused: {sanitize(reply, 120)}"
    _no_pending(client, "POP3")
    return None


def ftp(client: LineClient) -> str | None:
    from checks.ftp.probe import read_ftp_greeting, read_ftp_reply  # FTP's multi-line replies

    read_ftp_greeting(client)
    client.send_line("AUTH TLS")
    reply = read_ftp_reply(client)
    if reply.code != 234:
        return f"AUTH TLS refused: {reply.code} {reply.text()}"
    _no_pending(client, "FTP")
    return None


UPGRADES: dict[str, Callable[[LineClient], str | None]] = {
    "smtp": smtp, "submission": smtp, "imap": imap, "pop3": pop3, "ftp": ftp,
}
# "tls": discovery's name for a port that speaks TLS around a protocol it could not name
# (scanner/discovery/identify.py); its TLS is judged like any other.
IMPLICIT = frozenset({"https", "imaps", "pop3s", "smtps", "ftps", "tls"})
