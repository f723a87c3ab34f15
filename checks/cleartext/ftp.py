"""cleartext.ftp — an FTP server that offers no TLS (RFC 4217 AUTH TLS), so logins and files cross in clear.

The probe reads the greeting, asks FEAT (RFC 2389) and then sends AUTH TLS itself: a server may
accept AUTH TLS without listing it. It never logs on. A 234 reply is TLS available (PASS; the
TLS checks judge its quality); any other reply with AUTH missing from FEAT is a FAIL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from checks.ftp.probe import FtpReply, read_ftp_greeting, read_ftp_reply
from scanner.check import Applies, Check, CheckMeta, Probe, ProbeContext
from scanner.errors import ProbeError, ProtocolError
from scanner.models import Evidence, Finding, Severity, Skip, Target, utcnow
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
                        read_timeout=ctx.timeouts.read, what="FTP") as client:
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


class CleartextFtp(Check):
    meta = CheckMeta(
        id="cleartext.ftp",
        title="FTP server offers no TLS (AUTH TLS): logins and files travel in clear",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"ftp"})),
        why=(
            "Files and passwords sent to this FTP server cross the network unencrypted, where anyone on the path "
            "can read them."
        ),
        remediation=(
            "Enable FTPS (vsftpd: ssl_enable=YES, force_local_logins_ssl=YES, force_local_data_ssl=YES) or replace "
            "FTP with SFTP; disable plain FTP for every account."
        ),
        description="Reads FEAT and sends AUTH TLS (RFC 4217); never logs on.",
    )
    probes = (FtpAuthTls,)

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        ftp: FtpTlsFacts = facts[FtpAuthTls]
        where = f"{target.host}:{target.port}"
        if ftp.tls_available:
            detail = f"{where}: AUTH TLS accepted (234){'' if ftp.feat_lists_auth_tls else ', though FEAT omits it'}"
        else:
            detail = (f"{where}: no TLS: FEAT {'lists' if ftp.feat_lists_auth_tls else 'does not list'} AUTH TLS, "
                      f"AUTH TLS answered {ftp.auth_tls.code} {ftp.auth_tls.text()}")
        yield self.finding(target, passed=ftp.tls_available, detail=detail, evidence=[ftp.evidence()])
