"""Windows Defender Firewall state per profile, from the registry.

Local settings: ``HKLM\\SYSTEM\\CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\
{DomainProfile,StandardProfile,PublicProfile}\\EnableFirewall`` (StandardProfile is the Private
profile). Group Policy writes ``HKLM\\SOFTWARE\\Policies\\Microsoft\\WindowsFirewall\\{DomainProfile,
PrivateProfile,PublicProfile}\\EnableFirewall``, which wins when present (MS-GPFAS 2.2.2,
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-gpfas/). The firewall service
itself is MpsSvc: when its Start value is 4 (disabled) no profile filters anything.
"""

from __future__ import annotations

from ..inventory import Firewall, Observation
from .records import RegistrySnapshot, as_int

LOCAL = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy"
POLICY = "HKLM\\SOFTWARE\\Policies\\Microsoft\\WindowsFirewall"
SERVICE = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\MpsSvc"
PROFILES = (("Domain", "DomainProfile", "DomainProfile"), ("Private", "StandardProfile", "PrivateProfile"),
            ("Public", "PublicProfile", "PublicProfile"))
KEYS = tuple(f"{LOCAL}\\{local}" for _, local, _ in PROFILES) + \
    tuple(f"{POLICY}\\{gpo}" for _, _, gpo in PROFILES) + (SERVICE,)


def from_registry(reg: RegistrySnapshot) -> Firewall:
    observations: list[Observation] = []
    profiles: list[tuple[str, bool]] = []
    problems: list[str] = []
    vias: list[str] = []
    for name, local, gpo in PROFILES:
        local_key, gpo_key = f"{LOCAL}\\{local}", f"{POLICY}\\{gpo}"
        observations += [reg.observe(local_key, "EnableFirewall"), reg.observe(gpo_key, "EnableFirewall")]
        if reg.error(gpo_key):
            problems.append(f"{name}: Group Policy key not readable ({reg.error(gpo_key)})")
            continue
        gpo_value = reg.value(gpo_key, "EnableFirewall")
        value, via = (gpo_value, "Group Policy") if gpo_value is not None else \
            (reg.value(local_key, "EnableFirewall"), "local setting")
        flag = as_int(value)
        if flag not in (0, 1):
            why = reg.error(local_key) or ("not set" if value is None else f"odd value {value!r}")
            problems.append(f"{name}: EnableFirewall {why}")
            continue
        profiles.append((name, flag == 1))
        vias.append(f"{name} {'on' if flag == 1 else 'off'}" + (" (Group Policy)" if via == "Group Policy" else ""))
    observations.append(reg.observe(SERVICE, "Start"))
    if problems:
        return Firewall(observations=tuple(observations), profiles=tuple(profiles), unknown="; ".join(problems))
    if as_int(reg.value(SERVICE, "Start")) == 4:
        return Firewall(observations=tuple(observations), enabled=False, profiles=tuple(profiles),
                        detail="the firewall service MpsSvc is disabled (Start=4): no profile is enforced")
    off = [name for name, on in profiles if not on]
    detail = ", ".join(vias)
    if off:
        detail += f"; off: {', '.join(off)}"
    return Firewall(observations=tuple(observations), enabled=not off, profiles=tuple(profiles), detail=detail)
