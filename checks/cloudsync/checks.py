"""cloudsync.syncthing, cloudsync.dropbox_lansync and cloudsync.resilio — consumer sync clients
heard on the scanner's segment during the profile's passive listening window, and (Syncthing,
Dropbox) their TCP sync port found by discovery.

On the network-level target all three judge the same once-per-scan capture
(``listen.LanSyncAnnouncements``): one FAIL per sending host (discriminator: its address), a PASS
when nothing was heard in the window, a skip with reason ``permission`` when the scanner may not
open a raw socket and ``disabled_by_profile`` when the profile's window is 0 or, with nothing
heard, shorter than one 30 s announcement interval — never a silent PASS.

On a discovered sync port (``listener.SyncListener``) the host is reported there only when it was
*not* heard announcing: a host that did both gets one finding (the announcement's, which names the
announced port) and its port target a skip that says so, so no host is reported twice for one
client.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from scanner.check import Applies, Check, CheckMeta, Probe, Undetermined
from scanner.models import ErrorReason, Finding, Severity, Skip, SkipReason, Target, ThirdParty, ThirdPartyKind

from .listen import ANNOUNCE_INTERVAL, RESILIO_GROUP, RESILIO_PORT, LanSyncAnnouncements, LanSyncFacts
from .listener import ListenerFacts, SyncListener

FOLLOW_UP = ("Remove the client from every machine that handles PHI, or document a Business Associate "
             "Agreement with {vendor} covering this account and record it in the risk analysis.")


# Syncthing has no vendor (peer-to-peer): its risk is copies of ePHI on devices nobody controls
# (45 CFR 164.310(d)(1), 164.312(a)(1)), and no BAA can fix that.
PEER_FOLLOW_UP = ("Remove Syncthing from every machine that handles PHI, or list every peer device it syncs "
                  "with, keep each one under the practice's control (inventoried, encrypted, access-controlled) "
                  "and record it in the risk analysis.")


class _LanSyncCheck(Check):
    follow_up = FOLLOW_UP
    kind: ClassVar[str]
    label: ClassVar[str]
    vendor: ClassVar[str]
    third_party: ClassVar[ThirdParty]  # what every FAIL reveals (a PASS heard nothing, so names nobody)
    silence_note: ClassVar[str] = ""
    probes: ClassVar[tuple[type[Probe[Any]], ...]] = (LanSyncAnnouncements,)

    def describe(self, summary: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def evaluate(self, target: Target,
                 facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip | Undetermined]:
        lan: LanSyncFacts = facts[LanSyncAnnouncements]
        listener: ListenerFacts | None = facts.get(SyncListener)
        if target.host is not None:
            yield from self.judge_listener(target, lan, listener)
            return
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
                third_parties=[self.third_party],
                detail=(f"{sender.sender} announces {self.label} ({self.describe(sender.summary)}; "
                        f"{sender.count} announcement(s) in {lan.window_s:.0f} s). "
                        + self.follow_up.format(vendor=self.vendor)),
            )
        if not heard and lan.window_s < ANNOUNCE_INTERVAL:
            yield self.skip(target, SkipReason.DISABLED_BY_PROFILE,
                            f"nothing heard, but the listening window of {lan.window_s:.0f} s is shorter "
                            f"than the {ANNOUNCE_INTERVAL:.0f} s announcement interval: silence proves nothing")
        elif not heard:
            yield self.finding(target, passed=True, evidence=[lan.evidence(self.kind)],
                               detail=f"no {self.label} announcement heard from the scope in {lan.window_s:.0f} s "
                                      "of passive listening" + self.silence_note)

    def judge_listener(self, target: Target, lan: LanSyncFacts,
                       listener: ListenerFacts | None) -> Iterator[Finding | Skip | Undetermined]:
        if listener is None:  # planned only for sync ports; kept total for a re-judged run
            yield self.skip(target, SkipReason.NOT_APPLICABLE, "no TCP sync port on this target")
            return
        if self.kind == "syncthing" and not listener.verified and not listener.note:
            # No recorded answer says what the port is: neither Syncthing nor "not Syncthing".
            yield self.undetermined(target, ErrorReason.PROTOCOL, evidence=[listener.evidence()],
                                    detail=f"{target.host}:{listener.port}: no answer identifies the service")
            return
        if self.kind == "syncthing" and not listener.verified:
            yield self.finding(target, passed=True, evidence=[listener.evidence()],
                               detail=f"{target.host}:{listener.port} is not Syncthing: {listener.note}")
            return
        heard = [h for h in lan.of(self.kind) if h.sender == target.host]
        if heard:
            yield self.skip(target, SkipReason.NOT_APPLICABLE,
                            f"reported once, with the {self.label} finding for {target.host} (heard announcing "
                            f"{heard[0].count} time(s)); this port: {listener.note}")
            return
        # Port only (Dropbox): a weaker signal than a decoded announcement, said so and rated lower.
        severity = None if listener.verified else Severity.LOW
        passive = (f"not heard announcing in {lan.window_s:.0f} s" if lan.window_s > 0
                   else "no passive listening in this run")
        yield self.finding(target, passed=False, evidence=[listener.evidence()], severity=severity,
                           third_parties=[self.third_party],
                           detail=(f"{target.host}:{listener.port} {listener.note}; {passive}. "
                                   + self.follow_up.format(vendor=self.vendor)))


class SyncthingAnnounces(_LanSyncCheck):
    kind = "syncthing"
    label = "Syncthing local discovery"
    follow_up = PEER_FOLLOW_UP
    vendor = "the sync peers' operators (Syncthing has no vendor: peer-to-peer)"
    third_party = ThirdParty(vendor="Syncthing", service="Peer-to-peer file sync", kind=ThirdPartyKind.PEER_TO_PEER)
    meta = CheckMeta(
        id="cloudsync.syncthing",
        title="Syncthing runs on the network (consumer file sync)",
        severity=Severity.MEDIUM,
        applies_to=Applies(network=True, services=frozenset({"syncthing"})),
        why=(
            "Syncthing copies folders straight to other devices, with no company in between that could sign a "
            "business associate agreement. Patient files in a synced folder can end up on personal phones or home "
            "computers, outside the practice's control."
        ),
        remediation=("Uninstall Syncthing from machines that handle PHI, or document which devices it syncs "
                     "with, that they are covered by your safeguards, and record it in the risk analysis."),
        description=("Passive: Syncthing local discovery announcements on UDP 21027 (IPv4 broadcast, IPv6 "
                     "multicast); active: a TLS handshake with its sync port (BEP ALPN, certificate CN)."),
    )
    probes = (LanSyncAnnouncements, SyncListener)

    def describe(self, summary: Mapping[str, Any]) -> str:
        return f"device {summary.get('device_id_short', '?')}…"


class DropboxLanSync(_LanSyncCheck):
    kind = "dropbox"
    label = "Dropbox LAN sync"
    vendor = "Dropbox"
    third_party = ThirdParty(vendor="Dropbox", service="Cloud file sync")
    meta = CheckMeta(
        id="cloudsync.dropbox_lansync",
        title="A Dropbox client runs LAN sync on the network",
        severity=Severity.MEDIUM,
        applies_to=Applies(network=True, services=frozenset({"dropbox"})),
        why=(
            "A Dropbox client on this network can copy files to a Dropbox account. Unless it is a business account "
            "under a signed business associate agreement, patient files synced there are held by a company with no "
            "HIPAA contract."
        ),
        remediation=("Remove the Dropbox client from machines that handle PHI, or use a Dropbox business plan "
                     "under a signed BAA; disable LAN sync where it is not needed."),
        description=("Passive: Dropbox LAN sync discovery broadcasts on UDP 17500; active: a TCP connect to "
                     "its LAN sync port 17500 (port only: the protocol behind it is not identified)."),
    )
    probes = (LanSyncAnnouncements, SyncListener)

    def describe(self, summary: Mapping[str, Any]) -> str:
        name = summary.get("displayname") or "?"
        return (f"client {name!r} version {summary.get('version') or '?'}, {summary.get('namespace_count', 0)} "
                f"shared namespace(s), hash {summary.get('namespaces_hash', '?')}")


class ResilioDiscovery(_LanSyncCheck):
    kind = "resilio"
    label = "Resilio Sync local discovery"
    vendor = "Resilio"
    third_party = ThirdParty(vendor="Resilio Sync", service="Cloud / peer-to-peer file sync")
    # Resilio publishes the group and port, not how often a client sends: the PASS says so.
    silence_note = " (Resilio does not document its discovery interval)"
    meta = CheckMeta(
        id="cloudsync.resilio",
        title="Resilio Sync local peer discovery seen on the network",
        severity=Severity.MEDIUM,
        applies_to=Applies(network=True),
        why=(
            "Resilio Sync copies folders to other devices and to whoever runs the peers it syncs with. Patient "
            "files in a synced folder can leave the practice's control with no business associate agreement behind "
            "them."
        ),
        remediation=("Uninstall Resilio Sync from machines that handle PHI, or document a BAA with Resilio (or "
                     "with whoever runs the peers it syncs to) and record the flow in the risk analysis."),
        description=(f"Passive: UDP to {RESILIO_GROUP}:{RESILIO_PORT}, Resilio Sync's documented LAN discovery "
                     "group (payload not decoded: its format is not published)."),
    )

    def describe(self, summary: Mapping[str, Any]) -> str:
        return f"traffic to Resilio Sync's documented discovery group {summary.get('group', '?')}; payload not decoded"
