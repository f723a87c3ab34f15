"""endpoint.disk_encryption_off — a volume that stores data without full-disk encryption.

A lost or stolen laptop whose disk is encrypted to NIST SP 800-111 standards is not a breach of
*unsecured* PHI (HHS breach guidance, 74 FR 42740); one that is not, is. Encryption at rest is the
addressable specification 164.312(a)(2)(iv). One finding per volume, so the history shows, per
disk, the day it was last seen encrypted (the evidence keeps the raw listing and its time).
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.check import Applies, CheckMeta
from scanner.models import ErrorReason, Severity, Target

from .base import EndpointCheck, Item
from .inventory import DiskEncryption, EncryptionState, EndpointInventory, evidence_of
from .probe import EndpointFacts

STATE_WORDS = {
    EncryptionState.ENCRYPTED: "encrypted",
    EncryptionState.NOT_ENCRYPTED: "NOT encrypted",
    EncryptionState.SUSPENDED: "encrypted but protection SUSPENDED (key stored in the clear)",
    EncryptionState.IN_PROGRESS: "encryption or decryption in progress (not yet protected)",
}


class DiskEncryptionOff(EndpointCheck[DiskEncryption]):
    meta = CheckMeta(
        id="endpoint.disk_encryption_off",
        title="Endpoint storage is not encrypted",
        severity=Severity.HIGH,
        applies_to=Applies(hosts=True),
        why=(
            "A laptop or disk that is lost, stolen or thrown away without encryption hands over every patient "
            "record on it, and its loss is a reportable breach. Encrypted to NIST standards with the key kept "
            "elsewhere, the same loss is not a breach of unsecured patient information."
        ),
        remediation=(
            "Turn on full-disk encryption and keep the recovery key outside the device: BitLocker "
            "(manage-bde -on C: -RecoveryPassword, or Intune/Group Policy), FileVault (System Settings > "
            "Privacy & Security), LUKS on Linux (at install, or cryptsetup-reencrypt). Resume suspended "
            "BitLocker protection (manage-bde -protectors -enable C:)."
        ),
        description="Reads each volume's encryption state (lsblk/cryptsetup, fdesetup, Win32_EncryptableVolume).",
    )
    section = "disk"

    def judge_section(self, target: Target, ep: EndpointFacts, inv: EndpointInventory,
                      disk: DiskEncryption) -> Iterator[Item]:
        if not disk.volumes:  # every computer has a disk: an empty list is a collection that read none
            yield self.undetermined(target, ErrorReason.PROTOCOL, f"{ep.host}: no volume was reported",
                                    evidence=[evidence_of("endpoint-disk", "no volume", disk.observations,
                                                          inv.collected_by)])
            return
        for vol in disk.volumes:
            where = vol.mountpoint or vol.name
            ev = evidence_of("endpoint-disk", f"{where}: {vol.state.value}", disk.observations,
                             inv.collected_by)
            facts = ", ".join(x for x in (f"size {vol.size}" if vol.size else "", vol.fstype or "",
                                          f"method {vol.method}" if vol.method else "") if x)
            text = f"{ep.host} volume {vol.name} ({where}{'; ' + facts if facts else ''})"
            if vol.state is EncryptionState.UNKNOWN:
                yield self.undetermined(target, ErrorReason.PROTOCOL, f"{text}: encryption state unknown — {vol.note}",
                                        evidence=[ev], discriminator=where)
                continue
            passed = vol.state is EncryptionState.ENCRYPTED
            yield self.finding(target, passed=passed, discriminator=where, evidence=[ev],
                               detail=f"{text}: {STATE_WORDS[vol.state]}" + (f" — {vol.note}" if vol.note else ""))
