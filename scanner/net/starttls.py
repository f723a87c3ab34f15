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
from scanner.net import imap as imap_replies
from scanner.net import pop3 as pop3_replies
from scanner.net.ftp import read_ftp_greeting, read_ftp_reply
from scanner.net.lines import LineClient
from scanner.net.smtp import ehlo_extensions, read_smtp_greeting, read_smtp_reply, send_ehlo
from scanner.net.text import sanitize


def refuse_pending(client: LineClient, what: str) -> None:
    if client.pending():
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
    ehlo_code, ehlo = send_ehlo(client)
    if ehlo_code != 250 or "STARTTLS" not in ehlo_extensions(ehlo[1:]):
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
    refuse_pending(client, "SMTP")
    return None


def imap(client: LineClient) -> str | None:
    status, greeting = imap_replies.read_greeting(client)
    if status != "OK":  # PREAUTH: STARTTLS is valid only before authentication (RFC 3501 §6.2.1)
        raise ProtocolError(f"IMAP greeting is not '* OK': {sanitize(greeting, 120)!r}")
    if "STARTTLS" not in imap_replies.capabilities(client, greeting):
        return "STARTTLS not in CAPABILITY"
    client.send_line("g2 STARTTLS")
    answer, _ = imap_replies.read_tagged(client, "g2")
    if not answer.upper().startswith("OK"):
        return f"STARTTLS refused: {sanitize(answer, 120)}"
    refuse_pending(client, "IMAP")
    return None


def pop3(client: LineClient) -> str | None:
    pop3_replies.read_greeting(client)
    _, lines = pop3_replies.capa(client)
    if "STLS" not in pop3_replies.capa_keywords(lines):
        return "STLS not in CAPA"
    client.send_line("STLS")
    reply = client.read_line()
    if not reply.startswith("+OK"):
        return f"STLS refused: {sanitize(reply, 120)}"
    refuse_pending(client, "POP3")
    return None


def ftp(client: LineClient) -> str | None:
    read_ftp_greeting(client)
    client.send_line("AUTH TLS")
    reply = read_ftp_reply(client)
    if reply.code != 234:
        return f"AUTH TLS refused: {reply.code} {reply.text()}"
    refuse_pending(client, "FTP")
    return None


UPGRADES: dict[str, Callable[[LineClient], str | None]] = {
    "smtp": smtp, "submission": smtp, "imap": imap, "pop3": pop3, "ftp": ftp,
}
IMPLICIT = frozenset({"https", "imaps", "pop3s", "smtps", "ftps"})
