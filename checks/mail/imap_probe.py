"""IMAP capabilities before TLS (RFC 9051 / RFC 3501 §6.1.1, §6.2.3; STARTTLS per RFC 2595).

Greeting, CAPABILITY, LOGOUT: no login is ever attempted, so no credential (not even a fake
one) crosses the network and no lockout or ban can be triggered.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeError
from scanner.models import Evidence, Target, utcnow
from scanner.net import imap
from scanner.net.lines import LineClient
from scanner.net.text import sanitize


@dataclass(frozen=True)
class ImapFacts:
    greeting: str
    capabilities: tuple[str, ...]  # upper case, as listed before TLS
    preauth: bool  # "* PREAUTH": the connection is already logged in

    @property
    def starttls(self) -> bool:
        return "STARTTLS" in self.capabilities

    @property
    def login_disabled(self) -> bool:
        return "LOGINDISABLED" in self.capabilities

    @property
    def auth_mechanisms(self) -> tuple[str, ...]:
        return tuple(c.split("=", 1)[1] for c in self.capabilities if c.startswith("AUTH="))

    def evidence(self) -> Evidence:
        return Evidence(
            kind="imap-capability",
            summary=f"greeting {sanitize(self.greeting, 100)!r}; {len(self.capabilities)} capabilities before TLS",
            data={"greeting": sanitize(self.greeting, 300),
                  "capabilities": [sanitize(c, 80) for c in self.capabilities], "preauth": self.preauth},
            collected_at=utcnow(),
            method="TCP connect, read greeting, CAPABILITY, LOGOUT (no login attempted)",
        )


class ImapCapability(Probe[ImapFacts]):
    name = "imap-capability"

    def collect(self, target: Target, ctx: ProbeContext) -> ImapFacts:
        assert target.host is not None and target.port is not None
        with LineClient(target.host, target.port, connect_timeout=ctx.timeouts.connect,
                        read_timeout=ctx.timeouts.read, what="IMAP",
                        deadline=ctx.until(ctx.timeouts.probe)) as client:
            status, greeting = imap.read_greeting(client)
            caps = imap.capabilities(client, greeting)
            with contextlib.suppress(ProbeError):
                client.send_line("g2 LOGOUT")
            return ImapFacts(greeting, caps, status == "PREAUTH")
