"""cleartext.telnet — a Telnet service: every keystroke, the password included, crosses in clear.

Telnet (RFC 854) has no encryption in the protocol, so an open Telnet service is the gap. The
probe (telnet_probe.py) confirms the port speaks Telnet (IAC option negotiation, or a printable
login prompt) from what the server sends first; it answers nothing and never logs on.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.cleartext.telnet_probe import TelnetFacts, TelnetGreeting
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Target


class CleartextTelnet(SingleProbeCheck[TelnetFacts]):
    meta = CheckMeta(
        id="cleartext.telnet",
        title="Telnet service exposed: sessions and passwords travel in clear",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"telnet"})),
        why=(
            "Telnet sends every keystroke, passwords included, unencrypted. Whoever can see the network traffic can "
            "take over the device."
        ),
        remediation="Disable Telnet and use SSH for remote administration (on devices that offer only Telnet, "
                    "isolate their management interface on a separate VLAN and plan replacement).",
        description="Confirms the port speaks Telnet from its first bytes; Telnet has no encryption.",
    )
    probe = TelnetGreeting

    def judge(self, target: Target, telnet: TelnetFacts) -> Iterator[Finding]:
        how = "option negotiation" if telnet.negotiation else "a text greeting"
        yield self.finding(target, passed=False, evidence=[telnet.evidence()],
                           detail=f"{target.host_port()} speaks Telnet ({how}"
                                  + (f", {telnet.banner[:60]!r}" if telnet.banner else "") + "): no encryption")
