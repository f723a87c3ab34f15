"""What an unauthenticated visitor gets from an SMB server: null session and guest logon.

For each of the two identities (a null session: empty user and password; the guest account with
an empty password — no other name or password is ever tried) the probe records whether the
logon succeeds, whether it can enumerate shares (srvsvc NetrShareEnum, MS-SRVS 3.1.4.8), and for
every disk share whether it can open the share's root directory (READ: names are listed, never
a file opened or read). Only when the profile allows intrusive checks does it test WRITE, by
creating one uniquely named empty file and deleting it again.

Dialect: 3.0 first, then older ones, 3.1.1 last. impacket signs every 3.1.1 session, and a guest
session cannot sign, so a guest-readable share would be missed over 3.1.1 (docs/lab-notes.md); an
attacker simply negotiates 3.0.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from impacket import smb
from impacket.smb3structs import (
    DELETE,
    FILE_CREATE,
    FILE_NON_DIRECTORY_FILE,
    FILE_READ_ATTRIBUTES,
    FILE_WRITE_DATA,
    SMB2_DIALECT_002,
    SMB2_DIALECT_21,
    SMB2_DIALECT_30,
    SMB2_DIALECT_311,
)
from impacket.smbconnection import SMBConnection

from checks.smb.impacket_errors import denial_status, translate
from checks.smb.transport import Deadline
from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeTimeout, ProtocolError
from scanner.models import Evidence, Target, utcnow
from scanner.net.backups import backup_names
from scanner.net.text import sanitize

IDENTITIES = (("null session", ""), ("guest", "guest"))
SESSION_DIALECTS = ((SMB2_DIALECT_30, "3.0"), (SMB2_DIALECT_21, "2.1"), (SMB2_DIALECT_002, "2.0.2"),
                    (SMB2_DIALECT_311, "3.1.1"), (smb.SMB_DIALECT, "NT LM 0.12"))
MAX_SHARES = 64  # bound the work on a server that lists thousands of shares
MAX_LISTED = 500  # top-level names looked at per share for backup evidence
STYPE_DISKTREE, STYPE_MASK = 0, 0x0FFFFFFF  # MS-SRVS 2.2.2.4: base type, high bits are flags
SHARE_TYPES = {0: "disk", 1: "printer", 2: "device", 3: "ipc"}


@dataclass(frozen=True)
class SessionOutcome:
    """One identity's logon. ``enumerated`` is None when the logon failed."""

    identity: str
    dialect: str
    logged_on: bool
    mapped_to_guest: bool = False
    logon_status: str = ""
    enumerated: bool | None = None
    enum_status: str = ""


@dataclass(frozen=True)
class ShareAccess:
    """One share as seen by the unauthenticated identities. Names only, never contents."""

    name: str
    share_type: str
    remark: str
    read_by: tuple[str, ...] = ()
    write_by: tuple[str, ...] = ()
    write_tested: bool = False
    denied: tuple[str, ...] = ()  # "guest: STATUS_ACCESS_DENIED", ...
    notes: tuple[str, ...] = ()  # e.g. a write-test file that could not be removed
    backup_evidence: tuple[str, ...] = ()  # the share name or top-level names that look like backups

    @property
    def disk(self) -> bool:
        return self.share_type == "disk"


@dataclass(frozen=True)
class SmbAnonymousFacts:
    sessions: tuple[SessionOutcome, ...]
    shares: tuple[ShareAccess, ...]
    write_tested: bool

    @property
    def usable_sessions(self) -> tuple[SessionOutcome, ...]:
        """Logons that got somewhere: enumerated shares or read one."""
        readers = {who for s in self.shares for who in s.read_by}
        return tuple(s for s in self.sessions if s.logged_on and (s.enumerated or s.identity in readers))

    def missing_outcomes(self) -> str:
        """What a PASS would lack, or "": a PASS says the null session and guest logons were refused,
        which needs each attempt's outcome (a logon, or the server's status), not an empty record."""
        unproven = [s.identity for s in self.sessions if not s.logged_on and not s.logon_status]
        if self.sessions and not unproven:
            return ""
        return "no outcome recorded for the " + ("anonymous logons" if not self.sessions else ", ".join(unproven))

    def evidence(self) -> Evidence:
        return Evidence(
            kind="smb-anonymous-access",
            summary="; ".join(
                f"{s.identity}: " + (("logon accepted" + (" (as guest)" if s.mapped_to_guest else "")
                                      + (", shares enumerated" if s.enumerated else
                                         f", enumeration refused ({s.enum_status})"))
                                     if s.logged_on else f"logon refused ({s.logon_status})")
                for s in self.sessions),
            data={
                "sessions": [asdict(s) for s in self.sessions],
                "shares": [{"name": sanitize(s.name, 80), "type": s.share_type, "remark": sanitize(s.remark, 120),
                            "read_by": list(s.read_by), "write_by": list(s.write_by),
                            "write_tested": s.write_tested, "denied": list(s.denied), "notes": list(s.notes),
                            "backup_evidence": [sanitize(n, 80) for n in s.backup_evidence]}
                           for s in self.shares],
                "write_tested": self.write_tested,
            },
            collected_at=utcnow(),
            method="impacket SMB: null session and guest logon, NetrShareEnum, tree connect + directory "
                   "listing of each share root" + (", create+delete of one empty file" if self.write_tested else ""),
        )


@dataclass
class _Share:
    name: str
    type_code: int
    remark: str
    read_by: list[str] = field(default_factory=list)
    write_by: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    backup_evidence: list[str] = field(default_factory=list)


class SmbAnonymousAccess(Probe[SmbAnonymousFacts]):
    """Null session + guest logon, share enumeration, READ (and, if intrusive, WRITE) per share."""

    name = "smb-anonymous-access"

    def collect(self, target: Target, ctx: ProbeContext) -> SmbAnonymousFacts:
        assert target.host is not None and target.port is not None
        deadline = Deadline(ctx.remaining(ctx.timeouts.probe))
        shares: dict[str, _Share] = {}
        sessions: list[SessionOutcome] = []
        connections: list[tuple[str, SMBConnection]] = []
        try:
            for identity, user in IDENTITIES:
                conn, dialect = _connect(target.host, target.port, ctx, deadline)
                try:
                    _call(deadline, f"SMB {identity} logon", conn.login, user, "")
                except _Denied as denied:
                    sessions.append(SessionOutcome(identity, dialect, False, logon_status=str(denied)))
                    _close(conn)
                    continue
                connections.append((identity, conn))
                guest = bool(_call(deadline, "SMB session flags", conn.isGuestSession))
                try:
                    for entry in _call(deadline, f"SMB {identity} share enumeration", conn.listShares)[:MAX_SHARES]:
                        name = str(entry["shi1_netname"]).rstrip("\x00")
                        shares.setdefault(name, _Share(name, int(entry["shi1_type"]),
                                                       str(entry["shi1_remark"]).rstrip("\x00")))
                    sessions.append(SessionOutcome(identity, dialect, True, guest, enumerated=True))
                except _Denied as denied:
                    sessions.append(SessionOutcome(identity, dialect, True, guest, enumerated=False,
                                                   enum_status=str(denied)))
            for identity, conn in connections:
                for share in shares.values():
                    if share.type_code & STYPE_MASK == STYPE_DISKTREE:
                        _test_share(conn, identity, share, ctx.intrusive_allowed, deadline)
        finally:
            for _, conn in connections:
                _close(conn)
        return SmbAnonymousFacts(
            sessions=tuple(sessions),
            shares=tuple(ShareAccess(
                name=s.name, share_type=SHARE_TYPES.get(s.type_code & STYPE_MASK, "other"), remark=s.remark,
                read_by=tuple(s.read_by), write_by=tuple(s.write_by),
                write_tested=ctx.intrusive_allowed and bool(s.read_by), denied=tuple(s.denied), notes=tuple(s.notes),
                backup_evidence=tuple(s.backup_evidence),
            ) for s in shares.values()),
            write_tested=ctx.intrusive_allowed,
        )


class _Denied(Exception):
    """The server refused with a status from DENIALS (the message is the status name)."""


def _call(deadline: Deadline, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one impacket call: a denial becomes ``_Denied``, anything else a ProbeError."""
    deadline.wait(1.0, what)  # raises ProbeTimeout once the probe's time is used up
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        status = denial_status(exc)
        if status is not None:
            raise _Denied(status) from exc
        raise translate(exc, what) from exc


def _connect(host: str, port: int, ctx: ProbeContext, deadline: Deadline) -> tuple[SMBConnection, str]:
    """Negotiate the first dialect the server accepts from SESSION_DIALECTS."""
    refusals = []
    for code, label in SESSION_DIALECTS:
        timeout = deadline.wait(ctx.timeouts.read, "SMB connect")
        try:
            return SMBConnection(host, host, sess_port=port, timeout=timeout, preferredDialect=code), label
        except Exception as exc:
            error = translate(exc, f"SMB negotiate {label}")
            if isinstance(error, ProbeTimeout) or error.reason.value in ("refused", "unreachable", "out_of_scope"):
                raise error from exc
            refusals.append(f"{label}: {error}")
    raise ProtocolError(f"SMB server at {host}:{port} accepted no dialect for a session: {'; '.join(refusals)}")


def _test_share(conn: SMBConnection, identity: str, share: _Share, intrusive: bool, deadline: Deadline) -> None:
    """READ = the share's root can be listed; WRITE (intrusive only) = an empty file can be created."""
    try:
        tid = _call(deadline, f"SMB tree connect {share.name!r}", conn.connectTree, share.name)
        listed = _call(deadline, f"SMB list {share.name!r}", conn.listPath, share.name, "*")
    except _Denied as denied:
        share.denied.append(f"{identity}: {denied}")
        return
    share.read_by.append(identity)
    # Names only, and only those that look like backups (never the other file names: they may be PHI).
    top = [share.name] + [str(f.get_longname()) for f in listed[:MAX_LISTED] if f.get_longname() not in (".", "..")]
    for name in backup_names(top):
        if name not in share.backup_evidence:
            share.backup_evidence.append(f"share name {name}" if name == share.name else name)
    if intrusive:
        _write_test(conn, identity, share, tid, deadline)
    with contextlib.suppress(Exception):
        conn.disconnectTree(tid)


def _write_test(conn: SMBConnection, identity: str, share: _Share, tid: int, deadline: Deadline) -> None:
    name = f"gapscan-write-test-{uuid.uuid4().hex}.tmp"
    try:
        fid = _call(deadline, f"SMB create in {share.name!r}", conn.createFile, tid, name,
                    desiredAccess=FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | DELETE, shareMode=0,
                    creationOption=FILE_NON_DIRECTORY_FILE, creationDisposition=FILE_CREATE)
    except _Denied as denied:
        share.denied.append(f"{identity} write: {denied}")
        return
    share.write_by.append(identity)
    with contextlib.suppress(Exception):
        conn.closeFile(tid, fid)
    try:
        _call(deadline, f"SMB delete in {share.name!r}", conn.deleteFile, share.name, name)
    except Exception as exc:
        share.notes.append(f"write-test file {name} could not be removed ({exc}); delete it by hand")


def _close(conn: SMBConnection) -> None:
    with contextlib.suppress(Exception):
        conn.close()
