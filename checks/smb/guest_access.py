"""smb.guest_access — a null session or a guest logon gets somewhere on the server.

"Gets somewhere" means it can enumerate the shares (srvsvc NetrShareEnum) or open a share.
A logon that the server accepts but then refuses everything (Samba with restrict anonymous = 2,
Windows' default anonymous session) is recorded in the evidence but is not a gap: nothing is
reachable through it. Access that needs no identity cannot be limited to authorised persons or
attributed to one: a gap against 164.312(a)(1), 164.312(a)(2)(i) and 164.312(d).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.smb.shares_probe import SmbAnonymousAccess, SmbAnonymousFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Skip, Target, Undetermined


class SmbGuestAccess(SingleProbeCheck[SmbAnonymousFacts]):
    meta = CheckMeta(
        id="smb.guest_access",
        title="SMB server accepts a null session or guest logon",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"smb"})),
        intrusive=False,
        why=(
            "The file server lets anyone on the network in without a password. Access to shared files cannot be "
            "tied to a person, and any device on the network can read what is shared."
        ),
        remediation=(
            "Refuse anonymous and guest access (Samba: 'map to guest = Never', 'restrict anonymous = 2', no "
            "'guest ok' shares; Windows: disable the Guest account, set 'Network access: Restrict anonymous "
            "access to Named Pipes and Shares' and 'Do not allow anonymous enumeration of SAM accounts and "
            "shares', and keep 'Enable insecure guest logons' off)."
        ),
        description="Logs on with an empty user name and with the guest account (empty password), then "
                    "tries to enumerate and open shares. No other credential is tried.",
    )
    probe = SmbAnonymousAccess

    def judge(self, target: Target, anon: SmbAnonymousFacts) -> Iterator[Finding | Skip | Undetermined]:
        missing = anon.missing_outcomes()
        if missing:
            yield self.undetermined(target, ErrorReason.PROTOCOL, f"{target.host_port()}: {missing}",
                                    evidence=[anon.evidence()])
            return
        where = target.host_port()
        usable = anon.usable_sessions
        if usable:
            what = []
            for session in usable:
                read = [s.name for s in anon.shares if session.identity in s.read_by]
                did = (["enumerated shares"] if session.enumerated else []) + (
                    [f"opened {', '.join(read)}"] if read else [])
                what.append(f"{session.identity} {' and '.join(did)}")
            detail = f"{where}: " + "; ".join(what)
        else:
            seen = [f"{s.identity} " + (f"logon accepted but enumeration refused ({s.enum_status}) and no share opened"
                                        if s.logged_on else f"logon refused ({s.logon_status})")
                    for s in anon.sessions]
            detail = f"{where}: " + "; ".join(seen)
        yield self.finding(target, passed=not usable, detail=detail, evidence=[anon.evidence()])
