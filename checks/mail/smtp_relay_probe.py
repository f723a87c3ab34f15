"""Open-relay test: does the server accept a recipient outside its domains from an outside sender?

For each classic address form (plain, percent hack, bang path, quoted, source route) it sends
MAIL FROM an outside address, RCPT TO an outside domain, then RSET; finally QUIT. It never sends
DATA, so no message can ever be created, queued or relayed: only the RCPT replies are read.
The outside names are RFC 2606 reserved domains, which no real mailbox can ever have.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeError, ProtocolError
from scanner.models import Evidence, Target, utcnow
from scanner.net.lines import LineClient
from scanner.net.smtp import read_smtp_greeting, read_smtp_reply
from scanner.net.text import sanitize

OUTSIDE_SENDER = "gapscan-relay-probe@example.net"
OUTSIDE_DOMAIN = "example.org"
# (name, RCPT argument); {ip} is the server's own address literal, as relay tricks route via it.
RCPT_VARIANTS: tuple[tuple[str, str], ...] = (
    ("plain", f"<relay-probe@{OUTSIDE_DOMAIN}>"),
    ("percent hack", f"<relay-probe%{OUTSIDE_DOMAIN}@[{{ip}}]>"),
    ("bang path", f"<{OUTSIDE_DOMAIN}!relay-probe@[{{ip}}]>"),
    ("quoted", f'<"relay-probe@{OUTSIDE_DOMAIN}">'),
    ("quoted via server", f'<"relay-probe@{OUTSIDE_DOMAIN}"@[{{ip}}]>'),
    ("source route", f"<@[{{ip}}]:relay-probe@{OUTSIDE_DOMAIN}>"),
)


@dataclass(frozen=True)
class RelayAttempt:
    variant: str
    rcpt: str
    mail_reply: str  # "250 2.1.0 Ok"
    rcpt_reply: str  # "" when MAIL FROM was refused and RCPT not sent

    @property
    def accepted(self) -> bool:
        """RFC 5321 §4.2.1: a 2yz reply to RCPT means the server took responsibility for the recipient."""
        return self.rcpt_reply[:1] == "2"


@dataclass(frozen=True)
class SmtpRelayFacts:
    banner: str
    attempts: tuple[RelayAttempt, ...]

    @property
    def accepted(self) -> tuple[RelayAttempt, ...]:
        return tuple(a for a in self.attempts if a.accepted)

    def evidence(self) -> Evidence:
        return Evidence(
            kind="smtp-relay",
            summary=f"{len(self.accepted)} of {len(self.attempts)} outside recipients accepted",
            data={"banner": sanitize(self.banner, 200), "mail_from": OUTSIDE_SENDER,
                  "attempts": [{"variant": a.variant, "rcpt_to": a.rcpt, "mail_reply": sanitize(a.mail_reply, 200),
                                "rcpt_reply": sanitize(a.rcpt_reply, 200), "accepted": a.accepted}
                               for a in self.attempts]},
            collected_at=utcnow(),
            method="EHLO; per variant MAIL FROM, RCPT TO, RSET; QUIT (never DATA: nothing can be sent)",
        )


def _command(client: LineClient, line: str) -> str:
    client.send_line(line)
    code, text = read_smtp_reply(client)
    return f"{code} {' '.join(text)}".strip()


class SmtpRelay(Probe[SmtpRelayFacts]):
    """Tries each relay address form once; stops before DATA every time."""

    name = "smtp-relay"

    def collect(self, target: Target, ctx: ProbeContext) -> SmtpRelayFacts:
        assert target.host is not None and target.port is not None
        with LineClient(target.host, target.port, connect_timeout=ctx.timeouts.connect,
                        read_timeout=ctx.timeouts.read, what="SMTP",
                        deadline=ctx.until(ctx.timeouts.probe)) as client:
            greeting = read_smtp_greeting(client)
            helo = _command(client, f"EHLO [{client.local_address}]")
            if not helo.startswith("250"):
                helo = _command(client, f"HELO [{client.local_address}]")
                if not helo.startswith("250"):
                    raise ProtocolError(f"SMTP server refused EHLO and HELO: {sanitize(helo, 120)}")
            literal = f"IPv6:{target.host}" if ":" in target.host else target.host  # RFC 5321 §4.1.3
            attempts = []
            for variant, template in RCPT_VARIANTS:
                rcpt = template.format(ip=literal)
                mail = _command(client, f"MAIL FROM:<{OUTSIDE_SENDER}>")
                rcpt_reply = _command(client, f"RCPT TO:{rcpt}") if mail.startswith("250") else ""
                attempts.append(RelayAttempt(variant, rcpt, mail, rcpt_reply))
                if _command(client, "RSET")[:1] != "2":
                    break  # a server that will not reset gets no further transaction
            with contextlib.suppress(ProbeError):
                _command(client, "QUIT")
            return SmtpRelayFacts(" ".join(greeting), tuple(attempts))
