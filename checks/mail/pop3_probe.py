"""POP3 capabilities before TLS (RFC 1939; CAPA per RFC 2449; STLS per RFC 2595).

Greeting, CAPA, QUIT: no USER/PASS is ever sent.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeError
from scanner.models import Evidence, Target, utcnow
from scanner.net import pop3
from scanner.net.lines import LineClient
from scanner.net.text import sanitize


@dataclass(frozen=True)
class Pop3Facts:
    greeting: str
    capa_supported: bool  # False when CAPA answered -ERR (a pre-RFC 2449 server)
    capabilities: tuple[str, ...]  # each CAPA line, upper-cased keyword first

    @property
    def keywords(self) -> dict[str, str]:
        return pop3.capa_keywords(self.capabilities)

    @property
    def stls(self) -> bool:
        return "STLS" in self.keywords

    @property
    def user_command(self) -> bool:
        return "USER" in self.keywords

    @property
    def sasl_mechanisms(self) -> tuple[str, ...]:
        return tuple(m.upper() for m in self.keywords.get("SASL", "").split())

    def evidence(self) -> Evidence:
        return Evidence(
            kind="pop3-capa",
            summary=f"greeting {sanitize(self.greeting, 100)!r}; CAPA "
                    + (f"{len(self.capabilities)} line(s)" if self.capa_supported else "not supported"),
            data={"greeting": sanitize(self.greeting, 300), "capa_supported": self.capa_supported,
                  "capabilities": [sanitize(c, 120) for c in self.capabilities]},
            collected_at=utcnow(),
            method="TCP connect, read greeting, CAPA, QUIT (no login attempted)",
        )


class Pop3Capa(Probe[Pop3Facts]):
    name = "pop3-capa"

    def collect(self, target: Target, ctx: ProbeContext) -> Pop3Facts:
        assert target.host is not None and target.port is not None
        with LineClient(target.host, target.port, connect_timeout=ctx.timeouts.connect,
                        read_timeout=ctx.timeouts.read, what="POP3",
                        deadline=ctx.until(ctx.timeouts.probe)) as client:
            greeting = pop3.read_greeting(client)
            supported, caps = pop3.capa(client)
            with contextlib.suppress(ProbeError):
                client.send_line("QUIT")
            return Pop3Facts(greeting, supported, caps)
