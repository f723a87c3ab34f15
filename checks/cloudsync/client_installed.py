"""cloudsync.client_installed — a consumer sync client found on an endpoint by the credentialed
collectors (process, install path, autostart entry, uninstall entry, personal OneDrive account).

A consumer sync account is a place ePHI can go with no business associate contract behind it
(164.308(b)(1), 164.314(a)(1)). One FAIL per client, naming how it was seen; a PASS when the
collector looked and found none.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.endpoint import sync_clients
from checks.endpoint.base import EndpointCheck, Item
from checks.endpoint.inventory import EndpointInventory, SyncClients, evidence_of
from checks.endpoint.probe import EndpointFacts
from scanner.check import Applies, CheckMeta
from scanner.models import Severity, Target, ThirdParty, ThirdPartyKind

FOLLOW_UP = ("Remove it from every machine that handles PHI, or document a Business Associate Agreement with "
             "{vendor} covering the account it syncs to and record it in the risk analysis.")


PEER_TO_PEER = ("Remove it from every machine that handles PHI: it copies files straight to other devices, so there "
                "is no vendor to sign a BAA; at the least, document every peer device as practice-controlled.")


def _follow_up(client: str) -> str:
    spec = next((c for c in sync_clients.CLIENTS if c.name == client), None)
    vendor = spec.vendor if spec is not None else client
    return PEER_TO_PEER if "no BAA" in vendor else FOLLOW_UP.format(vendor=vendor)


def _third_party(client: str) -> ThirdParty:
    spec = next((c for c in sync_clients.CLIENTS if c.name == client), None)
    if spec is not None and spec.peer_to_peer:
        return ThirdParty(vendor=client, service="Peer-to-peer file sync (installed on an endpoint)",
                          kind=ThirdPartyKind.PEER_TO_PEER)
    return ThirdParty(vendor=client, service="Cloud file sync (installed on an endpoint)")


class SyncClientInstalled(EndpointCheck[SyncClients]):
    meta = CheckMeta(
        id="cloudsync.client_installed",
        title="Consumer cloud-sync client installed on an endpoint",
        severity=Severity.MEDIUM,
        applies_to=Applies(hosts=True),
        why=(
            "A consumer file-sync program on this machine can copy patient files to a personal cloud account. That "
            "company has signed no business associate agreement, so the files would be outside the practice's "
            "control and its HIPAA contracts."
        ),
        remediation=(
            "Uninstall consumer sync clients (Dropbox, Google Drive, personal OneDrive, iCloud, Box, pCloud, MEGA, "
            "Syncthing, Resilio) from machines that handle PHI, or sign and record a BAA with the vendor for a "
            "business account; block reinstallation with application control."
        ),
        description="Lists consumer sync clients seen on the endpoint by the SSH or Windows collector.",
    )
    section = "sync_clients"

    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      found: SyncClients) -> Iterator[Item]:
        by_client: dict[str, list[str]] = {}
        for seen in found.seen:
            by_client.setdefault(seen.client, []).append(f"{seen.how}: {seen.where}")
        for client, hows in sorted(by_client.items()):
            ev = evidence_of("endpoint-sync-client", f"{client}: " + "; ".join(hows), found.observations,
                             inv.collected_by)
            yield self.finding(target, passed=False, discriminator=client, evidence=[ev],
                               third_parties=[_third_party(client)],
                               detail=f"{ep.host}: {client} found ({'; '.join(hows)}). "
                                      + _follow_up(client))
        if not by_client:
            ev = evidence_of("endpoint-sync-client", "none found", found.observations,
                             inv.collected_by)
            yield self.finding(target, passed=True, evidence=[ev],
                               detail=f"{ep.host}: no consumer sync client found (processes, install paths, "
                                      "autostart entries)")
