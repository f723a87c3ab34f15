"""smb.open_share — a disk share that a null session or the guest account can read (or write).

One finding per disk share the unauthenticated identities could see (discriminator: the share
name), so a client decision can follow each share across rescans. READ means the share's root
could be listed; file contents are never read. WRITE is tested only when the profile allows
intrusive checks (one empty file created and removed); a writable share is reported CRITICAL.
A share open to anyone on the LAN is not limited to authorised persons: a gap against
164.312(a)(1), 164.312(a)(2)(i) and 164.312(d).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.smb.shares_probe import ShareAccess, SmbAnonymousAccess, SmbAnonymousFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Skip, Target, Undetermined
from scanner.net.text import sanitize


def _describe(share: ShareAccess, write_tested: bool) -> str:
    if share.read_by:
        text = f"READ by {', '.join(share.read_by)}"
        if share.write_by:
            text += f"; WRITE by {', '.join(share.write_by)} (test file created and removed)"
        elif write_tested:
            text += "; WRITE refused"
        else:
            text += "; WRITE not tested (intrusive checks off)"
    else:
        text = "no access (" + ", ".join(share.denied or ("not opened",)) + ")"
    if share.read_by and share.backup_evidence:
        text += f"; BACKUPS readable: {', '.join(sanitize(n, 60) for n in share.backup_evidence)}"
    return text + "".join(f"; {note}" for note in share.notes)


class SmbOpenShare(SingleProbeCheck[SmbAnonymousFacts]):
    meta = CheckMeta(
        id="smb.open_share",
        title="SMB share readable by a null session or guest",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"smb"})),
        intrusive=False,
        why=(
            "A file share can be read without a password. Anything stored there, including scanned documents or "
            "exports with patient information, is open to every device on the network."
        ),
        remediation=(
            "Remove guest access from the share (Samba: 'guest ok = no' and 'valid users = @staff'; Windows: "
            "remove Everyone/Guests/ANONYMOUS LOGON from the share and NTFS permissions) and grant access to "
            "named staff accounts or groups only."
        ),
        description="Lists the shares a null session or guest logon can see and opens each disk share's root.",
    )
    probe = SmbAnonymousAccess

    def judge(self, target: Target, anon: SmbAnonymousFacts) -> Iterator[Finding | Skip | Undetermined]:
        missing = anon.missing_outcomes()
        if missing:
            yield self.undetermined(target, ErrorReason.PROTOCOL, f"{target.host_port()}: {missing}",
                                    evidence=[anon.evidence()])
            return
        evidence = [anon.evidence()]
        disks = [s for s in anon.shares if s.disk]
        if not disks:
            yield self.finding(target, passed=True, evidence=evidence,
                               detail=f"{target.host}:{target.port}: no disk share could be enumerated or opened "
                                      "by a null session or guest logon")
            return
        for share in disks:
            unc = f"\\\\{target.host}\\{sanitize(share.name, 80)}"
            yield self.finding(
                target,
                passed=not (share.read_by or share.write_by),
                detail=f"{unc}: {_describe(share, share.write_tested)}",
                evidence=evidence,
                discriminator=share.name,
                # Writable, or readable backup images (a full copy of the practice's computers): critical.
                severity=Severity.CRITICAL if share.write_by or (share.read_by and share.backup_evidence) else None,
            )
