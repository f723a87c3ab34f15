"""cleartext.vnc — a VNC server offering security type None, or VNC authentication without any
encrypting type (RFB, RFC 6143 §7.1.2 and §7.2).

The probe (vnc_probe.py) reads the security types the server offers and closes the connection
without choosing one: no authentication is attempted. None (1) lets anyone take the screen; VNC
authentication (2) is a DES challenge on an 8-character password with the session itself in
clear. Types that encrypt the session: RA2/RA2ne (5, 6), TLS (18), VeNCrypt (19), RSA-AES (129,
133; 130 and 134 are its unencrypted variants). VeNCrypt subtypes are not examined.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.cleartext.vnc_probe import ENCRYPTING, RfbSecurityTypes, VncFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Target


class CleartextVnc(SingleProbeCheck[VncFacts]):
    meta = CheckMeta(
        id="cleartext.vnc",
        title="VNC offers no authentication, or only VNC password auth without encryption",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"vnc"})),
        why=(
            "The screen of this computer can be watched and controlled remotely without a password, or with only a "
            "short VNC password while everything on the screen travels unencrypted. Anyone on the network could see "
            "the patient records shown there and act as the person logged in."
        ),
        remediation=(
            "Require an encrypting security type with per-user accounts (TigerVNC: -SecurityTypes X509Plain or "
            "X509Vnc with a certificate; RealVNC: encryption always on) or tunnel VNC over SSH/VPN and bind it to "
            "localhost; never allow security type None."
        ),
        description="Reads the RFB security types offered; never authenticates.",
    )
    probe = RfbSecurityTypes

    def judge(self, target: Target, vnc: VncFacts) -> Iterator[Finding]:
        offered = set(vnc.security_types)
        where = f"VNC {target.host_port()} (RFB {vnc.server_version})"
        listed = ", ".join(vnc.names)
        if 1 in offered:
            yield self.finding(target, passed=False, evidence=[vnc.evidence()], severity=Severity.CRITICAL,
                               detail=f"{where} offers security type None: anyone can take the screen ({listed})")
        elif 2 in offered and not offered & ENCRYPTING:
            yield self.finding(target, passed=False, evidence=[vnc.evidence()],
                               detail=f"{where} offers only VNC password authentication, session unencrypted "
                                      f"({listed})")
        elif offered & ENCRYPTING:
            yield self.finding(target, passed=True, evidence=[vnc.evidence()],
                               detail=f"{where} offers a type that encrypts the session ({listed})")
        else:
            yield self.finding(target, passed=False, evidence=[vnc.evidence()],
                               detail=f"{where} offers no type known to encrypt the session ({listed})")
