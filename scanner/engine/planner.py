"""Which (check, target) pairs a run owes a result for, and which probes they need.

Planning is pure: hosts from discovery + domains + the profile's enabled checks in, a list of
planned pairs out. A probe appears once per target however many checks need it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scanner.check import Probe
from scanner.engine.registry import RegisteredCheck, Registry
from scanner.models import Host, Target


@dataclass(frozen=True)
class PlannedCheck:
    check: RegisteredCheck
    target: Target


@dataclass(frozen=True)
class Plan:
    checks: tuple[PlannedCheck, ...]

    def probe_keys(self) -> set[tuple[type[Probe[Any]], str]]:
        """Distinct (probe, target) pairs: what the runner actually executes."""
        return {(probe, item.target.key()) for item in self.checks for probe in item.check.cls.probes}


def service_targets(hosts: Iterable[Host]) -> list[Target]:
    return [
        Target(host=host.address, port=svc.port, transport=svc.transport, service=svc.service)
        for host in hosts
        for svc in host.services
        if svc.service
    ]


NETWORK_TARGET = Target(service="network")


def plan_checks(registry: Registry, enabled: Iterable[str], hosts: Iterable[Host],
                domains: Iterable[str]) -> Plan:
    hosts = list(hosts)
    services = service_targets(hosts)
    domain_targets = [Target(domain=d.lower().rstrip(".")) for d in dict.fromkeys(domains)]
    host_targets = [Target(host=h.address) for h in hosts]
    enabled = set(enabled)
    planned: list[PlannedCheck] = []
    for check in registry:
        if check.id not in enabled:
            continue
        applies = check.meta.applies_to
        if applies.services:
            planned.extend(PlannedCheck(check, t) for t in services if t.service in applies.services)
        if applies.domains:
            planned.extend(PlannedCheck(check, t) for t in domain_targets)
        if applies.hosts:
            planned.extend(PlannedCheck(check, t) for t in host_targets)
        if applies.network and hosts:
            planned.append(PlannedCheck(check, NETWORK_TARGET))
    return Plan(tuple(planned))
