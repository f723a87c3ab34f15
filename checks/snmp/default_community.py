"""snmp.default_community — SNMP v1/v2c answers the community ``public`` or ``private``.

A community string is a shared password sent in clear; the vendor defaults are the first thing
anyone tries. The probe sends, per community, one GetRequest for sysDescr.0 (RFC 3418) in v2c
and in v1 (RFC 3416 / RFC 1157) and waits for a GetResponse with the same request id: one OID,
read only, never a SET, no other community tried (probe.py). Silence is what an agent does with
a wrong community, so two unanswered rounds per community read as "refused"; a service that
answers neither community is a PASS only because discovery saw it answer SNMP (its v3 engine-ID
report).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.snmp.probe import SnmpCommunityFacts, SnmpDefaultCommunities
from scanner.check import Applies, CheckMeta, SingleProbeCheck, Undetermined
from scanner.models import ErrorReason, Finding, Severity, Target


class SnmpDefaultCommunity(SingleProbeCheck[SnmpCommunityFacts]):
    meta = CheckMeta(
        id="snmp.default_community",
        title="SNMP answers the default community 'public' or 'private'",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"snmp"})),
        why=(
            "This device answers the factory-default SNMP password that anyone on the network tries first. Whoever "
            "sends it can read how the device is set up and what it is doing, and a default write password would "
            "let them change it."
        ),
        remediation=(
            "Disable SNMP v1/v2c or replace the default communities with long random ones limited to the "
            "management station (net-snmp: rocommunity <random> <NMS address>); prefer SNMPv3 with authPriv."
        ),
        description="One GET of sysDescr.0 with 'public' and with 'private' (v1 and v2c); never a SET.",
    )
    probe = SnmpDefaultCommunities

    def judge(self, target: Target, snmp: SnmpCommunityFacts) -> Iterator[Finding | Undetermined]:
        where = f"{target.host_port()}/udp"
        if snmp.answered:
            first = snmp.answered[0]
            detail = (f"{where} answers community " + ", ".join(f"{c!r} ({v})" for c, v, _ in snmp.answered)
                      + (f"; sysDescr {first[2][:80]!r}" if first[2] else ""))
            yield self.finding(target, passed=False, detail=detail, evidence=[snmp.evidence()])
        elif snmp.rounds < 1 or not snmp.refused:
            # Nothing was asked, or no community met silence: no observation a PASS could rest on.
            yield self.undetermined(target, ErrorReason.PROTOCOL, evidence=[snmp.evidence()],
                                    detail=f"{where}: no community was tested ({snmp.rounds} rounds); not judged")
        else:
            yield self.finding(target, passed=True, evidence=[snmp.evidence()],
                               detail=f"{where} answered neither 'public' nor 'private' ({snmp.rounds} rounds of "
                                      "v1 + v2c GETs each)")
