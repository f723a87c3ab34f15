"""cloudsync.syncthing and cloudsync.dropbox_lansync — consumer sync clients heard announcing
themselves on the scanner's segment during the profile's passive listening window.

Both judge the same once-per-scan capture (``listen.LanSyncAnnouncements``): one FAIL per sending
host (discriminator: its address), a PASS when nothing was heard in the window, a skip with
reason ``permission`` when the scanner may not open a raw socket and ``disabled_by_profile``
when the profile's window is 0 or, with nothing heard, shorter than one 30 s announcement
interval — never a silent PASS.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from scanner.check import Applies, Check, CheckMeta, Probe
from scanner.models import Finding, Severity, Skip, SkipReason, Target

from .listen import ANNOUNCE_INTERVAL, LanSyncAnnouncements, LanSyncFacts

FOLLOW_UP = ("Remove the client from every machine that handles PHI, or document a Business Associate "
             "Agreement with {vendor} covering this account and record it in the risk analysis.")


class _LanSyncCheck(Check):
    kind: ClassVar[str]
    label: ClassVar[str]
    vendor: ClassVar[str]
    probes = (LanSyncAnnouncements,)

    def describe(self, summary: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        lan: LanSyncFacts = facts[LanSyncAnnouncements]
        if lan.denied:
            yield self.skip(target, SkipReason.PERMISSION,
                            f"passive listening needs root or CAP_NET_RAW ({lan.denied}); nothing was judged")
            return
        if lan.window_s <= 0:
            yield self.skip(target, SkipReason.DISABLED_BY_PROFILE,
                            "no passive listening: this run's listening window (listen_seconds) is 0")
            return
        heard = lan.of(self.kind)
        for sender in heard:
            yield self.finding(
                target, passed=False, discriminator=sender.sender, evidence=[lan.evidence(self.kind, sender)],
                detail=(f"{sender.sender} announces {self.label} ({self.describe(sender.summary)}; "
                        f"{sender.count} announcement(s) in {lan.window_s:.0f} s). "
                        + FOLLOW_UP.format(vendor=self.vendor)),
            )
        if not heard and lan.window_s < ANNOUNCE_INTERVAL:
            yield self.skip(target, SkipReason.DISABLED_BY_PROFILE,
                            f"nothing heard, but the listening window of {lan.window_s:.0f} s is shorter "
                            f"than the {ANNOUNCE_INTERVAL:.0f} s announcement interval: silence proves nothing")
        elif not heard:
            yield self.finding(target, passed=True, evidence=[lan.evidence(self.kind)],
                               detail=f"no {self.label} announcement heard from the scope in {lan.window_s:.0f} s "
                                      "of passive listening")


class SyncthingAnnounces(_LanSyncCheck):
    kind = "syncthing"
    label = "Syncthing local discovery"
    vendor = "the sync peers' operators (Syncthing has no vendor: peer-to-peer)"
    meta = CheckMeta(
        id="cloudsync.syncthing",
        title="Syncthing announces itself on the network (consumer file sync)",
        severity=Severity.MEDIUM,
        applies_to=Applies(network=True),
        remediation=("Uninstall Syncthing from machines that handle PHI, or document which devices it syncs "
                     "with, that they are covered by your safeguards, and record it in the risk analysis."),
        description="Passive: Syncthing local discovery v2 announcements on UDP 21027 (nothing sent).",
    )

    def describe(self, summary: Mapping[str, Any]) -> str:
        return f"device {summary.get('device_id_short', '?')}…"


class DropboxLanSync(_LanSyncCheck):
    kind = "dropbox"
    label = "Dropbox LAN sync"
    vendor = "Dropbox"
    meta = CheckMeta(
        id="cloudsync.dropbox_lansync",
        title="A Dropbox client broadcasts LAN sync on the network",
        severity=Severity.MEDIUM,
        applies_to=Applies(network=True),
        remediation=("Remove the Dropbox client from machines that handle PHI, or use a Dropbox business plan "
                     "under a signed BAA; disable LAN sync where it is not needed."),
        description="Passive: Dropbox LAN sync discovery broadcasts on UDP 17500 (nothing sent).",
    )

    def describe(self, summary: Mapping[str, Any]) -> str:
        name = summary.get("displayname") or "?"
        return (f"client {name!r} version {summary.get('version') or '?'}, {summary.get('namespace_count', 0)} "
                f"shared namespace(s), hash {summary.get('namespaces_hash', '?')}")
