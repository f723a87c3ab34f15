"""cleartext.ftp — an FTP server that offers no TLS (RFC 4217 AUTH TLS), so logins and files cross in clear.

The probe (ftp_tls_probe.py) reads the greeting, asks FEAT (RFC 2389) and then sends AUTH TLS itself: a server may
accept AUTH TLS without listing it. It never logs on. A 234 reply is TLS available (PASS; the
TLS checks judge its quality); any other reply with AUTH missing from FEAT is a FAIL.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.cleartext.ftp_tls_probe import FtpAuthTls, FtpTlsFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Target


class CleartextFtp(SingleProbeCheck[FtpTlsFacts]):
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
    probe = FtpAuthTls

    def judge(self, target: Target, ftp: FtpTlsFacts) -> Iterator[Finding]:
        where = target.host_port()
        if ftp.tls_available:
            detail = f"{where}: AUTH TLS accepted (234){'' if ftp.feat_lists_auth_tls else ', though FEAT omits it'}"
        else:
            detail = (f"{where}: no TLS: FEAT {'lists' if ftp.feat_lists_auth_tls else 'does not list'} AUTH TLS, "
                      f"AUTH TLS answered {ftp.auth_tls.code} {ftp.auth_tls.text()}")
        yield self.finding(target, passed=ftp.tls_available, detail=detail, evidence=[ftp.evidence()])
