"""The sensor's own limit: a job may scan only inside the networks its local config allows.

A compromised centre must not be able to turn a sensor on a neighbour's network, so the check
is the sensor's, made on its own configuration, before any packet: every target of the job must
be an address, CIDR or range that lies wholly inside one allowed network (a host name is refused:
what it resolves to is not known before the scan), and every domain must be allowed by name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from scanner.scope.targets import parse_entry

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def outside_allowed(targets: Sequence[str], domains: Sequence[str], allowed: Sequence[Network],
                    allowed_domains: Sequence[str]) -> list[str]:
    """Why the job may not run (empty: it may)."""
    problems: list[str] = []
    if not targets and not domains:
        problems.append("the job has no target")
    for text in targets:
        try:
            entry = parse_entry(str(text))
        except ValueError as exc:
            problems.append(f"target {text!r}: {exc}")
            continue
        if entry.hostname is not None:
            problems.append(f"target {text!r} is a host name: a sensor scans only addresses of its allowed networks")
            continue
        for net in entry.networks:
            if not any(net.version == a.version and net.subnet_of(a) for a in allowed):  # type: ignore[arg-type]
                problems.append(f"target {text!r} ({net}) is outside the allowed networks "
                                f"{', '.join(str(a) for a in allowed)}")
                break
    names = {d.lower().rstrip(".") for d in allowed_domains}
    problems += [f"domain {d!r} is not an allowed domain of this sensor" for d in domains
                 if str(d).lower().rstrip(".") not in names]
    return problems
