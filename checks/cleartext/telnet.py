"""cleartext.telnet — a Telnet service: every keystroke, the password included, crosses in clear.

Telnet (RFC 854) has no encryption in the protocol, so an open Telnet service is the gap. The
probe (telnet_probe.py) confirms the port speaks Telnet from what the server sends first: well-formed
IAC option negotiation (RFC 854/855) opening the stream, or a login prompt; it answers nothing and
never logs on. Bytes that show neither (one byte, a flood of text, garbage) are no verdict: an
error, never a FAIL on the port number alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.cleartext.telnet_probe import TelnetFacts, TelnetGreeting
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Target, Undetermined


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
        description="Confirms the port speaks Telnet (option negotiation or a login prompt); Telnet has no "
                    "encryption.",
    )
    probe = TelnetGreeting

    def judge(self, target: Target, telnet: TelnetFacts) -> Iterator[Finding | Undetermined]:
        if not telnet.speaks_telnet:
            yield self.undetermined(target, ErrorReason.PROTOCOL, evidence=[telnet.evidence()],
                                    detail=f"{target.host_port()} sent neither Telnet option negotiation nor a "
                                           "login prompt: not identified as Telnet")
            return
        how = "option negotiation" if telnet.negotiation else f"a login prompt {telnet.prompt!r}"
        yield self.finding(target, passed=False, evidence=[telnet.evidence()],
                           detail=f"{target.host_port()} speaks Telnet ({how}"
                                  + (f", {telnet.banner[:60]!r}" if telnet.banner else "") + "): no encryption")
