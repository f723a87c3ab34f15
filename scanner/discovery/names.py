"""Names of the live hosts, learned without credentials: reverse DNS at the declared nameservers.

A report that says "Front desk PC (198.18.0.40)" is read; one that says "198.18.0.40" is not
(issue 17). The only traffic is a PTR query (RFC 1035 section 3.5, in-addr.arpa / ip6.arpa) per
live address, sent to the ``--nameserver`` the technician declared and to nothing else (the
system resolver is never used: scanner.scope.names). With no nameserver declared nothing is sent.
The whole step is bounded: a total deadline, and it stops after consecutive unanswered queries
(a nameserver that does not serve the reverse zone must not cost a second per host).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import dns.exception
import dns.resolver
import dns.reversename

from scanner.models import Host, LearnedName, NameSource
from scanner.scope import names as scope_names

TOTAL_SECONDS = 8.0  # every PTR query of a run together
QUERY_SECONDS = 1.0  # one query
GIVE_UP_AFTER = 2  # consecutive timeouts: the nameserver does not answer PTR queries


def reverse_names(hosts: Sequence[Host], nameservers: Sequence[str], *,
                  total: float = TOTAL_SECONDS) -> tuple[tuple[Host, ...], str | None]:
    """The hosts with the PTR names of their addresses added, and a note for the run (or None)."""
    if not nameservers or not hosts:
        return tuple(hosts), None
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = list(nameservers)
    resolver.port = scope_names.DNS_PORT
    deadline = time.monotonic() + total
    named, timeouts, out, asked = 0, 0, [], 0
    for host in hosts:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or timeouts >= GIVE_UP_AFTER:
            out.append(host)
            continue
        resolver.lifetime = resolver.timeout = min(QUERY_SECONDS, remaining)
        asked += 1
        try:
            answer = resolver.resolve(dns.reversename.from_address(host.address), "PTR", search=False,
                                      raise_on_no_answer=False)
            timeouts = 0
        except dns.exception.Timeout:
            timeouts += 1
            out.append(host)
            continue
        except (dns.exception.DNSException, ValueError):
            timeouts = 0
            out.append(host)
            continue
        found = tuple(dict.fromkeys(r.to_text().rstrip(".").lower() for r in answer))
        if found:
            named += 1
            learned = tuple(LearnedName(name=n, source=NameSource.REVERSE_DNS) for n in found)
            host = host.model_copy(update={"learned_names": host.learned_names + learned})
        out.append(host)
    where = ", ".join(nameservers)
    note = f"reverse DNS at {where}: {named} of {len(hosts)} live address(es) named"
    if asked < len(hosts):
        note += f"; stopped after {asked} (no answers, or the {total:.0f} s budget spent)"
    return tuple(out), note
