"""ftp.anonymous_login — an FTP server that lets anyone log on as ``anonymous`` or ``ftp``.

Whatever the server holds is open to anyone on the network without an identity (and FTP sends
everything in clear text). HICP 7.M.D names exactly this, "an FTP server that allows anonymous
login", as an insecure configuration; it is a gap against 164.312(a)(1), 164.312(a)(2)(i) and
164.312(d) (mapping in profiles/frameworks). An upload that succeeds (tested only when the
profile allows intrusive checks) makes it CRITICAL: anyone can also plant files.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.ftp.probe import FtpAnonymous, FtpAnonymousFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Skip, Target, Undetermined
from scanner.net.text import sanitize


class FtpAnonymousLogin(SingleProbeCheck[FtpAnonymousFacts]):
    meta = CheckMeta(
        id="ftp.anonymous_login",
        title="FTP server accepts anonymous logon",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"ftp"})),
        intrusive=False,
        why=(
            "The file server accepts anonymous logins over unencrypted FTP. Files there can be read without a "
            "password, and any real passwords used with it cross the network readable."
        ),
        remediation=(
            "Turn anonymous FTP off (vsftpd: 'anonymous_enable=NO'; IIS: disable Anonymous Authentication on "
            "the FTP site; NAS: disable guest/anonymous FTP) and move file exchange to SFTP or FTPS with "
            "per-user accounts."
        ),
        description="Logs on as 'anonymous' (then 'ftp') with a fixed placeholder e-mail password and, if "
                    "accepted, tries a directory listing; uploads one empty file only when intrusive checks are on.",
    )
    probe = FtpAnonymous

    def judge(self, target: Target, ftp: FtpAnonymousFacts) -> Iterator[Finding | Skip | Undetermined]:
        where = target.host_port()
        if not ftp.logged_in:
            logon = [(sent, reply) for sent, reply in ftp.dialogue if sent.startswith(("USER", "PASS"))]
            replies = "; ".join(f"{sent} -> {reply.code} {reply.text()}" for sent, reply in logon)
            if not any(400 <= reply.code < 600 for _, reply in logon):
                # "Refused" needs the server's own refusal (RFC 959 §4.2: a 4yz or 5yz reply).
                yield self.undetermined(target, ErrorReason.PROTOCOL,
                                        f"{where}: no refusal of the anonymous logon was recorded "
                                        f"({replies or 'no USER/PASS reply'})",
                                        evidence=[ftp.evidence()])
                return
            yield self.finding(target, passed=True, detail=f"{where}: anonymous logon refused ({replies})",
                               evidence=[ftp.evidence()])
            return
        detail = f"{where}: anonymous logon accepted as {ftp.user!r}; listing " + (
            f"works ({ftp.listing_note})" if ftp.listing_works else f"refused ({ftp.listing_note})")
        if ftp.upload_allowed is None:
            detail += "; upload not tested (intrusive checks off)"
        else:
            detail += f"; upload {'ALLOWED' if ftp.upload_allowed else 'refused'} ({ftp.upload_note})"
        if ftp.backup_names:
            detail += f"; BACKUPS listed: {', '.join(sanitize(n, 60) for n in ftp.backup_names)}"
        yield self.finding(target, passed=False, detail=detail, evidence=[ftp.evidence()],
                           severity=Severity.CRITICAL if ftp.upload_allowed or ftp.backup_names else None)
