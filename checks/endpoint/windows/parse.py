"""Pure parsers: recorded registry values and WMI rows -> ``EndpointInventory`` sections.

No I/O here: ``collect`` reads a ``RegistrySnapshot`` and ``WmiResult``s, these functions judge
them, and the unit tests feed them the fixtures in ``tests/fixtures/endpoint/windows``. A parser
that cannot decide either raises ``Unknown`` (OS, manage-bde in another locale) or returns the
section with ``unknown`` set and its observations kept, so a check can say ``error`` with the
evidence of what was read — never a PASS.
"""

from __future__ import annotations

from .antimalware import (
    SECURITY_CENTER_NAMESPACE,
    SECURITY_CENTER_QUERY,
    decode_product_state,
    from_defender_registry,
    from_security_center,
)
from .bitlocker import BITLOCKER_NAMESPACE, BITLOCKER_QUERY, LOGICAL_DISK_QUERY, from_manage_bde, from_wmi, state_of
from .firewall import from_registry as firewall_from_registry
from .osinfo import from_registry as os_from_registry
from .records import RegistrySnapshot, WmiResult
from .screenlock import from_registry as screen_lock_from_registry
from .syncclients import from_registry as sync_clients_from_registry

bitlocker_from_wmi = from_wmi
bitlocker_from_manage_bde = from_manage_bde
antimalware_from_security_center = from_security_center
antimalware_from_defender_registry = from_defender_registry

__all__ = [
    "BITLOCKER_NAMESPACE", "BITLOCKER_QUERY", "LOGICAL_DISK_QUERY", "SECURITY_CENTER_NAMESPACE",
    "SECURITY_CENTER_QUERY", "RegistrySnapshot", "WmiResult", "antimalware_from_defender_registry",
    "antimalware_from_security_center", "bitlocker_from_manage_bde", "bitlocker_from_wmi", "decode_product_state",
    "firewall_from_registry", "os_from_registry", "screen_lock_from_registry", "state_of",
    "sync_clients_from_registry",
]
