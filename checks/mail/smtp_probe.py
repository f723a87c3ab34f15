"""SMTP greeting and EHLO facts (RFC 5321 §4.1.1.1; STARTTLS per RFC 3207).

One probe per SMTP service, shared by every check that needs the greeting or the extension
list (STARTTLS offered, AUTH before TLS, ...). It sends EHLO and QUIT only: nothing is relayed
and no message is ever submitted.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProtocolError
from scanner.models import Evidence, Target, utcnow
from scanner.net.lines import LineClient
from scanner.net.smtp import ehlo_extensions, read_smtp_greeting, read_smtp_reply, send_ehlo
from scanner.net.text import sanitize


@dataclass(frozen=True)
class SmtpEhloFacts:
    """What the server said before any TLS."""

    banner: str
    ehlo_code: int
    ehlo_lines: tuple[str, ...]  # the lines after the greeting line, one extension each
    esmtp: bool  # False when EHLO was refused and the server only speaks HELO

    @property
    def extensions(self) -> dict[str, str]:
        """Keyword (upper-case) -> parameters, per RFC 5321 §4.1.1.1."""
        return ehlo_extensions(self.ehlo_lines)

    @property
    def starttls_offered(self) -> bool:
        return self.esmtp and "STARTTLS" in self.extensions

    @property
    def auth_mechanisms(self) -> tuple[str, ...]:
        params = self.extensions.get("AUTH", "")
        return tuple(m.upper() for m in params.split()) if self.esmtp and "AUTH" in self.extensions else ()

    def evidence(self, collected_at_method: str = "TCP connect, read greeting, EHLO, QUIT") -> Evidence:
        return Evidence(
            kind="smtp-ehlo",
            summary=f"greeting {sanitize(self.banner, 120)!r}; EHLO {self.ehlo_code}, "
                    f"{len(self.ehlo_lines)} extension(s)",
            data={"banner": sanitize(self.banner), "ehlo_code": self.ehlo_code,
                  "ehlo_lines": [sanitize(line, 200) for line in self.ehlo_lines], "esmtp": self.esmtp},
            collected_at=utcnow(),
            method=collected_at_method,
        )


class SmtpEhlo(Probe[SmtpEhloFacts]):
    """Greeting + EHLO (falling back to HELO) on a plaintext SMTP/submission port."""

    name = "smtp-ehlo"

    def collect(self, target: Target, ctx: ProbeContext) -> SmtpEhloFacts:
        assert target.host is not None and target.port is not None
        with LineClient(target.host, target.port, connect_timeout=ctx.timeouts.connect,
                        read_timeout=ctx.timeouts.read, what="SMTP",
                        deadline=ctx.until(ctx.timeouts.probe)) as client:
            greeting = read_smtp_greeting(client)
            ehlo_code, ehlo = send_ehlo(client)
            esmtp = ehlo_code == 250
            if not esmtp:
                client.send_line(f"HELO [{client.local_address}]")
                helo_code, _ = read_smtp_reply(client)
                if helo_code != 250:
                    raise ProtocolError(f"SMTP server refused both EHLO ({ehlo_code}) and HELO ({helo_code})")
            try:
                client.send_line("QUIT")
                read_smtp_reply(client)
            except ProtocolError:
                pass  # a server that drops the line on QUIT has told us all we need
            return SmtpEhloFacts(
                banner=" ".join(greeting),
                ehlo_code=ehlo_code,
                ehlo_lines=tuple(ehlo[1:]) if esmtp else (),
                esmtp=esmtp,
            )
