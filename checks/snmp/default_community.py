"""snmp.default_community — SNMP v1/v2c answers the community ``public`` or ``private``.

A community string is a shared password sent in clear; the vendor defaults are the first thing
anyone tries. The probe sends, per community, one GetRequest for sysDescr.0 (RFC 3418) in v2c
and in v1 (RFC 3416 / RFC 1157) and waits for a GetResponse with the same request id: one OID,
read only, never a SET, no other community tried. Silence is what an agent does with a wrong
community, so two unanswered rounds per community read as "refused"; a service that answers
neither community is a PASS only because discovery saw it answer SNMP (its v3 engine-ID report).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from scanner.check import Applies, Check, CheckMeta, Probe, ProbeContext
from scanner.errors import translate_os_error
from scanner.models import Evidence, Finding, Severity, Skip, Target, utcnow
from scanner.net import ber
from scanner.net.text import sanitize

COMMUNITIES = ("public", "private")
SYSDESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
ROUNDS = 2


def get_request(version: int, community: str, request_id: int) -> bytes:
    """SNMP message (version 0 = v1, 1 = v2c) with one GetRequest-PDU for sysDescr.0."""
    varbinds = ber.tlv(0x30, ber.tlv(0x30, ber.object_identifier(SYSDESCR) + b"\x05\x00"))
    pdu = ber.tlv(0xA0, ber.integer(request_id) + ber.integer(0) + ber.integer(0) + varbinds)
    return ber.tlv(0x30, ber.integer(version) + ber.tlv(0x04, community.encode()) + pdu)


def _read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, content, next position) of the TLV at ``pos``; ValueError when malformed."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, length, pos = data[pos], data[pos + 1], pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad length")
        length, pos = int.from_bytes(data[pos:pos + count], "big"), pos + count
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, data[pos:pos + length], pos + length


def parse_response(data: bytes) -> tuple[int, str, int, int, str | None]:
    """(version, community, request id, error status, sysDescr or None) of a GetResponse."""
    tag, message, _ = _read(data, 0)
    if tag != 0x30:
        raise ValueError("not an SNMP message")
    tag, version, pos = _read(message, 0)
    tag2, community, pos = _read(message, pos)
    tag3, pdu, _ = _read(message, pos)
    if tag != 0x02 or tag2 != 0x04 or tag3 != 0xA2:
        raise ValueError("not a GetResponse")
    _, rid, p = _read(pdu, 0)
    _, status, p = _read(pdu, p)
    _, _index, p = _read(pdu, p)
    _, varbinds, _ = _read(pdu, p)
    descr: str | None = None
    _, first, _ = _read(varbinds, 0)
    _, oid, q = _read(first, 0)
    vtag, value, _ = _read(first, q)
    if oid == ber.object_identifier(SYSDESCR)[2:] and vtag == 0x04:
        descr = sanitize(value.decode("utf-8", "replace"), 200)
    return (int.from_bytes(version, "big"), community.decode("latin-1"), int.from_bytes(rid, "big", signed=True),
            int.from_bytes(status, "big"), descr)


@dataclass(frozen=True)
class SnmpCommunityFacts:
    answered: tuple[tuple[str, str, str], ...]  # (community, "v1"/"v2c", sysDescr)
    refused: tuple[str, ...]  # communities met with silence or an error status
    rounds: int

    def evidence(self) -> Evidence:
        return Evidence(
            kind="snmp-get",
            summary=("answered " + ", ".join(f"{c!r} ({v})" for c, v, _ in self.answered)) if self.answered
            else f"no answer to {', '.join(repr(c) for c in self.refused)}",
            data={"answered": [{"community": c, "version": v, "sysDescr": d} for c, v, d in self.answered],
                  "no_answer": list(self.refused), "rounds": self.rounds},
            collected_at=utcnow(),
            method="SNMP v1 and v2c GetRequest for sysDescr.0 (1.3.6.1.2.1.1.1.0) per community; no SET",
        )


class SnmpDefaultCommunities(Probe[SnmpCommunityFacts]):
    name = "snmp-default-community"

    def collect(self, target: Target, ctx: ProbeContext) -> SnmpCommunityFacts:
        assert target.host is not None and target.port is not None
        answered: list[tuple[str, str, str]] = []
        refused: list[str] = []
        wait = min(ctx.timeouts.read, 1.5)
        for community in COMMUNITIES:
            hit = self._ask(target.host, target.port, community, wait)
            if hit:
                answered.append((community, hit[0], hit[1]))
            else:
                refused.append(community)
        return SnmpCommunityFacts(tuple(answered), tuple(refused), ROUNDS)

    def _ask(self, host: str, port: int, community: str, wait: float) -> tuple[str, str] | None:
        ids = {1: secrets.randbelow(2**30) + 1, 0: secrets.randbelow(2**30) + 1}
        try:
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        except OSError as exc:
            raise translate_os_error(exc, "SNMP socket") from exc
        with sock:
            try:
                sock.connect((host, port))
                for _ in range(ROUNDS):
                    for version, rid in ids.items():
                        sock.send(get_request(version, community, rid))
                    deadline = time.monotonic() + wait
                    while (remaining := deadline - time.monotonic()) > 0:
                        sock.settimeout(remaining)
                        try:
                            data = sock.recv(65535)
                        except TimeoutError:
                            break
                        with contextlib.suppress(ValueError, IndexError):
                            version, got, rid, status, descr = parse_response(data)
                            if got == community and ids.get(version) == rid and status == 0:
                                return ("v2c" if version == 1 else "v1"), descr or ""
            except ConnectionRefusedError:
                return None  # ICMP port unreachable: nothing there answers this community
            except Exception as exc:
                raise translate_os_error(exc, f"SNMP to {host}:{port}") from exc
        return None


class SnmpDefaultCommunity(Check):
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
    probes = (SnmpDefaultCommunities,)

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        snmp: SnmpCommunityFacts = facts[SnmpDefaultCommunities]
        where = f"{target.host}:{target.port}/udp"
        if snmp.answered:
            first = snmp.answered[0]
            detail = (f"{where} answers community " + ", ".join(f"{c!r} ({v})" for c, v, _ in snmp.answered)
                      + (f"; sysDescr {first[2][:80]!r}" if first[2] else ""))
            yield self.finding(target, passed=False, detail=detail, evidence=[snmp.evidence()])
        else:
            yield self.finding(target, passed=True, evidence=[snmp.evidence()],
                               detail=f"{where} answered neither 'public' nor 'private' ({snmp.rounds} rounds of "
                                      "v1 + v2c GETs each)")
