"""Does an SNMP agent answer the default communities? One GetRequest for sysDescr.0 per community
in v2c and in v1, read only, never a SET, no other community tried.

Silence is what an agent does with a wrong community, so two unanswered rounds per community
read as "refused"; an ICMP port unreachable means nothing answers there: an error
(refused), never a refusal of the community.
"""

from __future__ import annotations

import secrets
import socket
import time
from dataclasses import dataclass

from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeRefused, ProtocolError, translate_os_error
from scanner.models import Evidence, Target, utcnow
from scanner.net.snmp import get_request, parse_response

COMMUNITIES = ("public", "private")
ROUNDS = 2


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
        garbage = 0
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
                        try:
                            version, got, rid, status, descr = parse_response(data)
                        except (ValueError, IndexError):
                            garbage += 1
                            continue
                        if got == community and ids.get(version) == rid and status == 0:
                            return ("v2c" if version == 1 else "v1"), descr or ""
            except ConnectionRefusedError as exc:
                # ICMP port unreachable: nothing listens there (any more), so nothing was asked
                # and nothing refused. No proof either way: an error, never a PASS.
                raise ProbeRefused(f"SNMP to {host}:{port}: ICMP port unreachable, no agent answered "
                                   f"(community {community!r} not tested)") from exc
            except Exception as exc:
                raise translate_os_error(exc, f"SNMP to {host}:{port}") from exc
        if garbage:
            # Something answered, but not SNMP: no agent refused the community (no proof either way).
            raise ProtocolError(f"SNMP to {host}:{port}: {garbage} answer(s) that are not SNMP messages "
                                f"(community {community!r} not tested)")
        return None
