"""endpoint.screen_lock_missing — no inactivity lock, or one slower than the profile's limit.

Automatic logoff (164.312(a)(2)(iii), addressable) and workstation security (164.310(c)): an
unattended, unlocked session shows and changes ePHI under someone else's name. The limit is the
profile's ``settings: {endpoint.screen_lock_missing: {max_minutes: N}}`` (default 15).
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from scanner.check import Applies, CheckMeta, CheckSettings
from scanner.models import ErrorReason, Severity, SkipReason, Target

from .base import EndpointCheck, Item
from .inventory import EndpointInventory, ScreenLock, evidence_of
from .probe import EndpointFacts


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 else "")


class ScreenLockSettings(CheckSettings):
    """``settings: {endpoint.screen_lock_missing: {max_minutes: N}}``."""

    # 15 minutes: the common reading of automatic logoff for a workstation in a clinic.
    max_minutes: float = Field(default=15.0, gt=0, le=24 * 60)


class ScreenLockMissing(EndpointCheck[ScreenLock]):
    meta = CheckMeta(
        id="endpoint.screen_lock_missing",
        title="No screen lock after inactivity",
        severity=Severity.MEDIUM,
        applies_to=Applies(hosts=True),
        why=(
            "A workstation left unlocked shows patient information to anyone passing, and lets them act under the "
            "signed-in employee's name. An automatic lock after a short idle time closes that door."
        ),
        remediation=(
            "Lock the screen after at most 15 minutes of inactivity and require the password to unlock, "
            "enforced centrally: Windows Group Policy 'Interactive logon: Machine inactivity limit' "
            "(InactivityTimeoutSecs), macOS configuration profile (screensaver idleTime + askForPassword), "
            "GNOME dconf lock (org/gnome/desktop/session idle-delay, org/gnome/desktop/screensaver lock-enabled)."
        ),
        description="Reads the lock setting and idle timeout (gsettings, sysadminctl, registry policy).",
        settings_model=ScreenLockSettings,
    )
    section = "screen_lock"

    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      lock: ScreenLock) -> Iterator[Item]:
        if lock.not_applicable:
            yield self.skip(target, SkipReason.NOT_APPLICABLE, f"{ep.host}: {lock.not_applicable}")
            return
        limit = int(self.settings_as(ScreenLockSettings).max_minutes * 60)
        ev = evidence_of("endpoint-screen-lock", f"lock_enabled={lock.lock_enabled} idle_seconds={lock.idle_seconds}",
                         lock.observations, inv.collected_by)
        source = f" (source: {lock.source})" if lock.source else ""
        if lock.lock_enabled is None:
            yield self.undetermined(target, ErrorReason.PROTOCOL,
                                    f"{ep.host}: whether the screen locks was not reported{source}", evidence=[ev])
        elif not lock.lock_enabled:
            yield self.finding(target, passed=False, evidence=[ev],
                               detail=f"{ep.host}: the screen does not lock when idle{source}")
        elif lock.idle_seconds is None:
            yield self.finding(target, passed=False, evidence=[ev],
                               detail=f"{ep.host}: screen lock is on but no idle timeout triggers it{source}")
        else:
            passed = lock.idle_seconds <= limit
            yield self.finding(
                target, passed=passed, evidence=[ev],
                detail=f"{ep.host}: screen locks after {_minutes(lock.idle_seconds)} idle "
                       f"({'within' if passed else 'longer than'} the {_minutes(limit)} limit){source}")
