"""endpoint.accounts_weak — accounts that undo unique user identification and authentication.

One finding per aspect (discriminator), so history follows each: a second UID 0 account or an
account without a password (Linux), the built-in Guest enabled (Windows/Samba), no lockout after
repeated failed logons, and a minimum password length below the profile's
(``settings: {endpoint.accounts_weak: {min_password_length: 8, max_failed_logons: 10}}``).
Unique user identification is required (164.312(a)(2)(i)), so is person or entity authentication
(164.312(d)); password management is addressable (164.308(a)(5)(ii)(D)). Maximum password age
and the members of local Administrators are reported, not judged: NIST SP 800-63B no longer
recommends periodic expiry, and who should be an administrator is the practice's decision.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from scanner.check import Applies, CheckMeta, CheckSettings
from scanner.models import Severity, Skip, SkipReason, Target

from .base import EndpointCheck, Item, reason_for
from .inventory import Accounts, EndpointInventory, evidence_of
from .probe import EndpointFacts


class AccountSettings(CheckSettings):
    """``settings: {endpoint.accounts_weak: {min_password_length: N, max_failed_logons: N}}``."""

    min_password_length: int = Field(default=8, ge=1, le=256)
    max_failed_logons: int = Field(default=10, ge=1, le=1000)


class AccountsWeak(EndpointCheck[Accounts]):
    meta = CheckMeta(
        id="endpoint.accounts_weak",
        title="Weak local accounts or password policy",
        severity=Severity.HIGH,
        applies_to=Applies(hosts=True),
        why=(
            "Shared, passwordless or guest accounts, short passwords and unlimited password guessing let someone "
            "get in without being identified. The practice then cannot tell who looked at which patient records."
        ),
        remediation=(
            "Remove extra UID 0 and passwordless accounts (usermod -L, or give them a password), disable Guest "
            "(net user Guest /active:no), and set a lockout and a minimum length: Linux pam_faillock deny=5 and "
            "pam_pwquality minlen=12; Windows/Samba account policy (net accounts /lockoutthreshold:5 "
            "/minpwlen:12; samba-tool domain passwordsettings set, or pdbedit -P)."
        ),
        description="Reads UID 0 and passwordless accounts, PAM lockout/length (Linux) or the SAM policy over "
                    "MS-SAMR (Windows, Samba).",
        settings_model=AccountSettings,
    )
    section = "accounts"

    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      acc: Accounts) -> Iterator[Item]:
        if acc.not_applicable:
            yield Skip(target=target, reason=SkipReason.NOT_APPLICABLE, detail=f"{ep.host}: {acc.not_applicable}")
            return
        ev = [evidence_of("endpoint-accounts", acc.source, acc.observations, inv.collected_by)]
        admins = (f"; local Administrators: {', '.join(acc.administrators) or '(none)'}"
                  if acc.administrators is not None else "")
        age = "" if acc.max_age_days is None else \
            f"; maximum password age {'never' if acc.max_age_days == 0 else f'{acc.max_age_days} days'} (not judged)"
        host = ep.host
        limits = self.settings_as(AccountSettings)
        unread = dict(acc.unread)
        if acc.uid0 is not None:
            extra = [a for a in acc.uid0 if a != "root"]
            yield self.finding(target, passed=not extra, evidence=ev, discriminator="uid0",
                               detail=f"{host}: UID 0 accounts: {', '.join(acc.uid0) or '(none)'}"
                                      + (f" — {', '.join(extra)} has root's powers under another name"
                                         if extra else ""))
        if acc.no_password is not None:
            yield self.finding(target, passed=not acc.no_password, evidence=ev, discriminator="no_password",
                               detail=f"{host}: accounts with a login shell and no password: "
                                      f"{', '.join(acc.no_password) or 'none'}")
        elif "no_password" in unread:
            yield self.undetermined(target, reason_for(unread["no_password"]),
                                    f"{host}: accounts without a password not read: {unread['no_password']}",
                                    evidence=ev, discriminator="no_password")
        if acc.guest_enabled is not None:
            yield self.finding(target, passed=not acc.guest_enabled, evidence=ev, discriminator="guest",
                               detail=f"{host}: built-in Guest account {'ENABLED' if acc.guest_enabled else 'disabled'}"
                                      f"{admins}")
        elif "guest" in unread:
            yield self.undetermined(target, reason_for(unread["guest"]), f"{host}: Guest account not read: "
                                    f"{unread['guest']}", evidence=ev, discriminator="guest")
        if acc.lockout_threshold is not None:
            ok = 0 < acc.lockout_threshold <= limits.max_failed_logons
            words = ("never locks" if acc.lockout_threshold == 0
                     else f"locks after {acc.lockout_threshold} failed logons")
            yield self.finding(target, passed=ok, evidence=ev, discriminator="lockout",
                               detail=f"{host}: {words} ({acc.lockout_where}; limit {limits.max_failed_logons})")
        elif "lockout" in unread:
            yield self.undetermined(target, reason_for(unread["lockout"]), f"{host}: lockout policy not read: "
                                    f"{unread['lockout']}", evidence=ev, discriminator="lockout")
        if acc.min_length is not None:
            ok = acc.min_length >= limits.min_password_length
            yield self.finding(target, passed=ok, evidence=ev, discriminator="min_length",
                               detail=f"{host}: minimum password length {acc.min_length} ({acc.min_length_where}; "
                                      f"required {limits.min_password_length}){age}")
        elif "min_length" in unread:
            yield self.undetermined(target, reason_for(unread["min_length"]), f"{host}: password length policy not "
                                    f"read: {unread['min_length']}", evidence=ev, discriminator="min_length")
