"""The SAM account policy over MS-SAMR (``\\PIPE\\samr``), read-only: Windows and Samba alike.

Calls (MS-SAMR 3.1.5): SamrConnect, SamrEnumerateDomainsInSamServer, SamrLookupDomainInSamServer,
SamrOpenDomain, SamrQueryInformationDomain2 with DomainPasswordInformation (MinPasswordLength,
MaxPasswordAge) and DomainLockoutInformation (LockoutThreshold), SamrOpenUser for RID 501 (the
built-in Guest) + SamrQueryInformationUser2 UserControlInformation (USER_ACCOUNT_DISABLED), and
the Builtin domain's alias 544 (Administrators) with SamrGetMembersInAlias, member RIDs of the
account domain named with SamrLookupIdsInDomain. Every handle is closed again.
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-samr/
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from impacket.dcerpc.v5 import samr, transport
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.smbconnection import SMBConnection

from scanner.errors import ProbeError
from scanner.models import ErrorReason

from .errors import map_error
from .logon import WindowsLogon

GUEST_RID, ADMINISTRATORS_ALIAS = 501, 544
NEVER = -(2**63)  # MaxPasswordAge "never" (MS-SAMR 2.2.3.5: 0x8000000000000000)
TICKS_PER_DAY = 864_000_000_000


@dataclass(frozen=True)
class SamrPolicy:
    """What was read (plain data, so a collection can be saved as a fixture and re-parsed)."""

    domain: str
    min_password_length: int | None = None
    lockout_threshold: int | None = None
    max_password_age_days: int | None = None  # 0: never expires
    guest_disabled: bool | None = None
    administrators: tuple[str, ...] | None = None
    errors: dict[str, str] = field(default_factory=dict)  # aspect -> why it could not be read

    def as_data(self) -> dict[str, Any]:
        return {"domain": self.domain, "min_password_length": self.min_password_length,
                "lockout_threshold": self.lockout_threshold, "max_password_age_days": self.max_password_age_days,
                "guest_disabled": self.guest_disabled,
                "administrators": None if self.administrators is None else list(self.administrators),
                "errors": dict(self.errors)}


def _age_days(large: Any) -> int:
    value = (int(large["HighPart"]) << 32) | (int(large["LowPart"]) & 0xFFFFFFFF)
    if value >= 2**63:
        value -= 2**64
    if value in (0, NEVER):
        return 0
    return round(-value / TICKS_PER_DAY)


def _why(exc: BaseException) -> str:
    text = str(exc)
    return "access denied" if "ACCESS_DENIED" in text else text[:160]


def read_policy(host: str, logon: WindowsLogon, timeout: float, port: int = 445) -> SamrPolicy:
    """The account domain's password and lockout policy, Guest, and local Administrators."""
    lm, nt = logon.hashes()
    try:
        smb = SMBConnection(host, host, sess_port=port, timeout=timeout)
        smb.login(logon.username, logon.password or "", logon.domain, lm, nt)
        guest_session = bool(smb.isGuestSession())
    except Exception as exc:
        raise map_error(exc, f"SMB logon to {host}:{port}", logon) from exc
    if guest_session:
        with contextlib.suppress(Exception):
            smb.close()
        raise ProbeError(f"SMB logon to {host}: the server mapped {logon.account} to guest", ErrorReason.AUTH_FAILED)
    handles: list[Any] = []
    try:
        try:
            pipe = transport.SMBTransport(host, port, r"\samr", smb_connection=smb)
            dce = pipe.get_dce_rpc()
            dce.connect()
            dce.bind(samr.MSRPC_UUID_SAMR)
            server = samr.hSamrConnect(dce)["ServerHandle"]
            handles.append(server)
            names = [str(d["Name"]) for d in samr.hSamrEnumerateDomainsInSamServer(dce, server)["Buffer"]["Buffer"]]
        except Exception as exc:
            raise map_error(exc, f"MS-SAMR on {host}", logon, opening_pipe=True) from exc
        account = next((n for n in names if n.lower() != "builtin"), None)
        if account is None:
            raise ProbeError(f"MS-SAMR on {host}: no account domain among {names}", ErrorReason.PROTOCOL)
        return _read_domain(dce, server, account, handles)
    finally:
        for handle in reversed(handles):
            with contextlib.suppress(Exception):
                samr.hSamrCloseHandle(dce, handle)
        with contextlib.suppress(Exception):
            smb.close()


def _read_domain(dce: Any, server: Any, account: str, handles: list[Any]) -> SamrPolicy:
    errors: dict[str, str] = {}
    sid = samr.hSamrLookupDomainInSamServer(dce, server, account)["DomainId"]
    domain = samr.hSamrOpenDomain(dce, serverHandle=server, domainId=sid)["DomainHandle"]
    handles.append(domain)
    min_length = max_age = lockout = None
    try:
        info = samr.hSamrQueryInformationDomain2(dce, domain, samr.DOMAIN_INFORMATION_CLASS.DomainPasswordInformation)
        password = info["Buffer"]["Password"]
        min_length, max_age = int(password["MinPasswordLength"]), _age_days(password["MaxPasswordAge"])
    except DCERPCException as exc:
        errors["min_length"] = _why(exc)
    try:
        info = samr.hSamrQueryInformationDomain2(dce, domain, samr.DOMAIN_INFORMATION_CLASS.DomainLockoutInformation)
        lockout = int(info["Buffer"]["Lockout"]["LockoutThreshold"])
    except DCERPCException as exc:
        errors["lockout"] = _why(exc)
    guest_disabled: bool | None = None
    try:
        user = samr.hSamrOpenUser(dce, domain, samr.MAXIMUM_ALLOWED, GUEST_RID)["UserHandle"]
        handles.append(user)
        control = samr.hSamrQueryInformationUser2(dce, user, samr.USER_INFORMATION_CLASS.UserControlInformation)
        guest_disabled = bool(int(control["Buffer"]["Control"]["UserAccountControl"]) & samr.USER_ACCOUNT_DISABLED)
    except DCERPCException as exc:
        if "STATUS_NO_SUCH_USER" in str(exc):
            guest_disabled = True  # no Guest account at all: nothing to log on as
        else:
            errors["guest"] = _why(exc)
    admins: tuple[str, ...] | None = None
    try:
        builtin_sid = samr.hSamrLookupDomainInSamServer(dce, server, "Builtin")["DomainId"]
        builtin = samr.hSamrOpenDomain(dce, serverHandle=server, domainId=builtin_sid)["DomainHandle"]
        handles.append(builtin)
        alias = samr.hSamrOpenAlias(dce, builtin, aliasId=ADMINISTRATORS_ALIAS)["AliasHandle"]
        handles.append(alias)
        listed = samr.hSamrGetMembersInAlias(dce, alias)["Members"]["Sids"]
        members = [m["SidPointer"].formatCanonical() for m in listed]
        admins = tuple(_names(dce, domain, sid.formatCanonical(), account, members))
    except DCERPCException as exc:
        errors["administrators"] = _why(exc)
    return SamrPolicy(domain=account, min_password_length=min_length, lockout_threshold=lockout,
                      max_password_age_days=max_age, guest_disabled=guest_disabled, administrators=admins,
                      errors=errors)


def _names(dce: Any, domain: Any, domain_sid: str, account: str, members: list[str]) -> list[str]:
    out = []
    for member in members[:50]:
        prefix, _, rid = member.rpartition("-")
        if prefix == domain_sid and rid.isdigit():
            with contextlib.suppress(DCERPCException):
                name = samr.hSamrLookupIdsInDomain(dce, domain, [int(rid)])["Names"]["Element"][0]["Data"]
                out.append(f"{account}\\{name}")
                continue
        out.append(member)
    return out
