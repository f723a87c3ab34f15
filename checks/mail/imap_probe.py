"""IMAP capabilities before TLS (RFC 9051 / RFC 3501 §6.1.1, §6.2.3; STARTTLS per RFC 2595).

Greeting, CAPABILITY, LOGOUT: no login is ever attempted, so no credential (not even a fake
one) crosses the network and no lockout or ban can be triggered.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeError, ProtocolError
from scanner.models import Evidence, Target, utcnow
from scanner.net.lines import MAX_LINES, LineClient
from scanner.net.text import sanitize

_CAPS_IN_GREETING = re.compile(r"\[CAPABILITY ([^\]]*)\]", re.IGNORECASE)


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
                        read_timeout=ctx.timeouts.read, what="IMAP") as client:
            greeting = client.read_line()
            status = greeting[2:].split(" ", 1)[0].upper() if greeting.startswith("* ") else ""
            if not greeting.startswith("* ") or status not in ("OK", "PREAUTH", "BYE"):
                raise ProtocolError(f"not an IMAP greeting: {sanitize(greeting, 80)!r}")
            if status == "BYE":
                raise ProtocolError(f"IMAP server refused the connection: {sanitize(greeting, 120)!r}")
            caps: list[str] = []
            client.send_line("g1 CAPABILITY")
            for _ in range(MAX_LINES):
                line = client.read_line()
                if line.upper().startswith("* CAPABILITY "):
                    caps += line.split()[2:]
                elif line.startswith("g1 "):
                    if line[3:5].upper() != "OK" and not caps:
                        found = _CAPS_IN_GREETING.search(greeting)
                        if not found:
                            raise ProtocolError(f"CAPABILITY failed: {sanitize(line, 120)!r}")
                        caps = found.group(1).split()
                    break
                elif not line.startswith("* "):
                    raise ProtocolError(f"unexpected IMAP line: {sanitize(line, 80)!r}")
            else:
                raise ProtocolError(f"IMAP: more than {MAX_LINES} lines before the CAPABILITY result")
            with contextlib.suppress(ProbeError):
                client.send_line("g2 LOGOUT")
            return ImapFacts(greeting, tuple(c.upper() for c in caps), status == "PREAUTH")
