"""The vendor of a MAC address, from its OUI (IEEE registration authority, the first three octets).

The table is nmap's ``nmap-mac-prefixes`` (IEEE data, packaged with nmap, which the lab and most
technicians' machines have); without it the vendor is simply unknown. An address with the
locally-administered bit set (IEEE 802 clause 8.2: bit 1 of the first octet) was not assigned by
a vendor at all: a virtual machine, a container, or a phone's private Wi-Fi address.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

PREFIX_FILES = (Path("/usr/share/nmap/nmap-mac-prefixes"), Path("/usr/local/share/nmap/nmap-mac-prefixes"))
LOCALLY_ADMINISTERED = "locally administered (virtual machine, container or private address)"


@lru_cache(maxsize=1)
def _prefixes() -> dict[str, str]:
    for path in PREFIX_FILES:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        table = {}
        for line in text.splitlines():
            prefix, _, vendor = line.partition(" ")
            if len(prefix) == 6 and not prefix.startswith("#") and vendor.strip():
                table[prefix.upper()] = vendor.strip()
        return table
    return {}


def vendor_of(mac: str | None) -> str | None:
    """"Intel Corporate", the locally-administered note, or None when unknown."""
    if not mac:
        return None
    digits = mac.replace(":", "").replace("-", "").upper()
    if len(digits) != 12:
        return None
    if int(digits[:2], 16) & 0x02:
        return LOCALLY_ADMINISTERED
    return _prefixes().get(digits[:6])
