"""Whether an FTP server offers TLS (RFC 4217 AUTH TLS): greeting, FEAT (RFC 2389), AUTH TLS.

AUTH TLS is sent even when FEAT omits it (a server may accept it without listing it); the probe
never logs on and closes after the reply.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeError, ProtocolError
from scanner.models import Evidence, Target, utcnow
from scanner.net.ftp import FtpReply, read_ftp_greeting, read_ftp_reply
from scanner.net.lines import LineClient
from scanner.net.text import sanitize


@dataclass(frozen=True)
class FtpTlsFacts:
    greeting: FtpReply
    feat: FtpReply
    auth_tls: FtpReply

    @property
    def feat_lists_auth_tls(self) -> bool:
        return self.feat.code == 211 and any(
            line.strip().upper().startswith("AUTH") and "TLS" in line.upper() for line in self.feat.lines)

    @property
    def tls_available(self) -> bool:
        return self.auth_tls.code == 234

    def evidence(self) -> Evidence:
        return Evidence(
            kind="ftp-auth-tls",
            summary=f"FEAT {'lists' if self.feat_lists_auth_tls else 'does not list'} AUTH TLS; AUTH TLS answered "
                    f"{self.auth_tls.code}",
            data={"greeting": [sanitize(x, 200) for x in self.greeting.lines], "feat_code": self.feat.code,
                  "feat": [sanitize(x, 120) for x in self.feat.lines[:60]], "auth_tls_code": self.auth_tls.code,
                  "auth_tls_reply": self.auth_tls.text()},
            collected_at=utcnow(),
            method="FTP greeting, FEAT, AUTH TLS (no logon; connection closed after the reply)",
        )


class FtpAuthTls(Probe[FtpTlsFacts]):
    name = "ftp-auth-tls"

    def collect(self, target: Target, ctx: ProbeContext) -> FtpTlsFacts:
        assert target.host is not None and target.port is not None
        with LineClient(target.host, target.port, connect_timeout=ctx.timeouts.connect,
                        read_timeout=ctx.timeouts.read, what="FTP",
                        deadline=ctx.until(ctx.timeouts.probe)) as client:
            greeting = read_ftp_greeting(client)
            client.send_line("FEAT")
            feat = read_ftp_reply(client)
            client.send_line("AUTH TLS")
            auth = read_ftp_reply(client)
            if auth.code // 100 == 4:  # 421 busy etc.: says nothing about TLS support
                raise ProtocolError(f"FTP AUTH TLS answered {auth.code}: {auth.text()}")
            if auth.code != 234:
                with contextlib.suppress(ProbeError):
                    client.send_line("QUIT")
            return FtpTlsFacts(greeting, feat, auth)
