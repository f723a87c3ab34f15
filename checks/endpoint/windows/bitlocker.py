"""BitLocker state per volume, from WMI ``Win32_EncryptableVolume`` or ``manage-bde -status`` text.

Value meanings are Microsoft's (Win32_EncryptableVolume, namespace
``root\\cimv2\\security\\microsoftvolumeencryption``):
- ProtectionStatus (GetProtectionStatus): 0 protection off (unencrypted, partially encrypted, or
  the key is in the clear = suspended), 1 protection on, 2 unknown (e.g. the volume is locked).
  https://learn.microsoft.com/en-us/windows/win32/secprov/getprotectionstatus-win32-encryptablevolume
- ConversionStatus (GetConversionStatus): 0 FullyDecrypted, 1 FullyEncrypted, 2 EncryptionInProgress,
  3 DecryptionInProgress, 4 EncryptionPaused, 5 DecryptionPaused.
  https://learn.microsoft.com/en-us/windows/win32/secprov/getconversionstatus-win32-encryptablevolume
- EncryptionMethod (GetEncryptionMethod): 0 none ... 7 XTS_AES_256, (uint32)-1 unknown.
  https://learn.microsoft.com/en-us/windows/win32/secprov/getencryptionmethod-win32-encryptablevolume
ConversionStatus, EncryptionMethod and VolumeType are instance properties on Windows 8 and later
(the class page's syntax block lists only DeviceID, PersistentVolumeID, DriveLetter and
ProtectionStatus; the same values are returned by the Get* methods named above).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..inventory import DiskEncryption, EncryptionState, Observation, Unknown, Volume
from .records import WmiResult, as_int

BITLOCKER_NAMESPACE = "root\\cimv2\\security\\microsoftvolumeencryption"
BITLOCKER_QUERY = "SELECT * FROM Win32_EncryptableVolume"
LOGICAL_DISK_QUERY = "SELECT DeviceID, Size, FileSystem FROM Win32_LogicalDisk"

PROTECTION = {0: "protection off", 1: "protection on", 2: "protection unknown (e.g. volume locked)"}
CONVERSION = {0: "FullyDecrypted", 1: "FullyEncrypted", 2: "EncryptionInProgress", 3: "DecryptionInProgress",
              4: "EncryptionPaused", 5: "DecryptionPaused"}
METHODS = {1: "AES 128 with Diffuser", 2: "AES 256 with Diffuser", 3: "AES 128", 4: "AES 256",
           5: "Hardware Encryption", 6: "XTS-AES 128", 7: "XTS-AES 256", 0xFFFFFFFF: "unknown method"}
VOLUME_TYPES = {0: "OS volume", 1: "fixed data volume", 2: "removable data volume"}
IN_PROGRESS = frozenset({2, 3, 4, 5})


def state_of(protection: int | None, conversion: int | None) -> tuple[EncryptionState, str]:
    """The one state a (ProtectionStatus, ConversionStatus) pair means, and why."""
    why = f"ProtectionStatus {protection} ({PROTECTION.get(protection or 0, 'undocumented')})" \
        if protection is not None else "ProtectionStatus missing"
    if conversion is not None:
        why += f", ConversionStatus {conversion} ({CONVERSION.get(conversion, 'undocumented')})"
    if protection not in PROTECTION or (conversion is not None and conversion not in CONVERSION):
        return EncryptionState.UNKNOWN, why
    if protection == 2:
        return EncryptionState.UNKNOWN, why
    if conversion in IN_PROGRESS:
        return EncryptionState.IN_PROGRESS, why  # not yet (or no longer) fully protected
    if protection == 1:
        if conversion == 0:
            return EncryptionState.UNKNOWN, why + ": contradictory"
        return EncryptionState.ENCRYPTED, why
    if conversion == 1:
        return EncryptionState.SUSPENDED, why + ": encrypted, key in the clear"
    if conversion is None:
        # Protection off without a conversion status: unencrypted, partial or suspended; in every
        # case the data is not protected, so the state is "not encrypted", with the ambiguity said.
        return EncryptionState.NOT_ENCRYPTED, why + "; ConversionStatus not reported, suspension not excluded"
    return EncryptionState.NOT_ENCRYPTED, why


def from_wmi(volumes: WmiResult, disks: WmiResult | None = None) -> DiskEncryption:
    """``DiskEncryption`` from Win32_EncryptableVolume rows (plus Win32_LogicalDisk rows for sizes)."""
    observations: tuple[Observation, ...] = (volumes.observe(),) + ((disks.observe(),) if disks else ())
    if not volumes.rows:
        return DiskEncryption(volumes=(), observations=observations,
                              unknown="Win32_EncryptableVolume returned no volumes (BitLocker feature absent?)")
    sizes = _disk_facts(disks.rows) if disks else {}
    return DiskEncryption(volumes=tuple(_volume(row, sizes) for row in volumes.rows), observations=observations)


def _volume(row: Mapping[str, Any], sizes: Mapping[str, tuple[str | None, str | None]]) -> Volume:
    letter = row.get("DriveLetter") or None
    name = str(letter or row.get("DeviceID") or "(unnamed volume)")
    state, why = state_of(as_int(row.get("ProtectionStatus")), as_int(row.get("ConversionStatus")))
    method_code = as_int(row.get("EncryptionMethod"))
    method = METHODS.get(method_code) if method_code else None
    vtype = as_int(row.get("VolumeType"))
    if vtype is not None:
        why = f"{VOLUME_TYPES.get(vtype, f'VolumeType {vtype}')}; {why}"
    size, fstype = sizes.get(str(letter).upper(), (None, None)) if letter else (None, None)
    return Volume(name=name, mountpoint=str(letter) if letter else None, state=state, size=size, fstype=fstype,
                  method=method, note=why)


def _disk_facts(rows: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str | None, str | None]]:
    facts: dict[str, tuple[str | None, str | None]] = {}
    for row in rows:
        size = as_int(row.get("Size"))
        facts[str(row.get("DeviceID", "")).upper()] = (
            f"{size / 1e9:.1f} GB" if size else None, str(row["FileSystem"]) if row.get("FileSystem") else None)
    return facts


# ---------------------------------------------------------------- manage-bde -status (English)
# Field names and values as manage-bde prints them in English; the field list is documented at
# https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/manage-bde-status
_CONVERSION_TEXT = {"fully decrypted": 0, "fully encrypted": 1, "used space only encrypted": 1,
                    "encryption in progress": 2, "decryption in progress": 3, "encryption paused": 4,
                    "decryption paused": 5}
_VOLUME_HEADER = re.compile(r"^Volume (?P<name>[A-Za-z]:|\\\\\?\\Volume\{[^}]+\}\\?)\s*(?:\[(?P<label>[^\]]*)\])?\s*$")
_FIELD = re.compile(r"^\s+(?P<key>[A-Za-z][A-Za-z ]+?):\s*(?P<value>.*)$")
MANAGE_BDE_SOURCE = "command: manage-bde -status"


def from_manage_bde(text: str, exit_status: int | None = None) -> DiskEncryption:
    """``DiskEncryption`` from English ``manage-bde -status`` output; any other locale raises ``Unknown``."""
    observation = Observation(source=MANAGE_BDE_SOURCE, output=text, exit_status=exit_status)
    if "BitLocker Drive Encryption" not in text:
        raise Unknown("manage-bde output is not the English tool's (header 'BitLocker Drive Encryption' missing)")
    blocks = _blocks(text)
    if not blocks:
        raise Unknown("manage-bde output lists no volume")
    volumes = []
    for name, fields in blocks:
        if "conversion status" not in fields or "protection status" not in fields:
            raise Unknown(f"manage-bde volume {name}: no English 'Conversion Status'/'Protection Status' lines")
        volumes.append(_bde_volume(name, fields))
    return DiskEncryption(volumes=tuple(volumes), observations=(observation,))


def _blocks(text: str) -> list[tuple[str, dict[str, str]]]:
    blocks: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        header = _VOLUME_HEADER.match(line.rstrip())
        if header:
            blocks.append((header["name"], {}))
            continue
        field = _FIELD.match(line.rstrip())
        if field and blocks:
            blocks[-1][1].setdefault(field["key"].strip().lower(), field["value"].strip())
    return blocks


def _bde_volume(name: str, fields: Mapping[str, str]) -> Volume:
    conversion = _CONVERSION_TEXT.get(fields["conversion status"].lower())
    protection_text = fields["protection status"].lower()
    protection = 1 if protection_text.startswith("protection on") else \
        0 if protection_text.startswith("protection off") else None
    if fields.get("lock status", "").lower() == "locked":
        protection = 2
    if conversion is None or protection is None:
        state = EncryptionState.UNKNOWN
        why = f"Conversion Status {fields['conversion status']!r}, Protection Status {fields['protection status']!r}"
    else:
        state, _ = state_of(protection, conversion)
        why = f"Conversion Status {fields['conversion status']}, Protection Status {fields['protection status']}"
    method = fields.get("encryption method") or None
    letter = name if len(name) == 2 else None
    return Volume(name=name, mountpoint=letter, state=state, size=fields.get("size") or None,
                  method=None if method in (None, "None") else method, note=why)
