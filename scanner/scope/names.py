"""Host names in the scope are resolved only through the nameservers the technician declared.

A name a technician writes (``frontdesk.clinic.lan``) decides which machine is scanned, so how it
was resolved is part of the authorization: it is asked of the ``--nameserver`` given (A and AAAA,
no search domains, a total deadline) and recorded in the run's scope. The system resolver is never
used: it would send the query to whatever resolv.conf names (an ISP's, a public resolver) and
leave no record. With no nameserver declared a name is refused with a message.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import dns.exception
import dns.rdatatype
import dns.resolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

RESOLVE_SECONDS = 5.0  # the whole lookup of one name (A and AAAA, every nameserver)
DNS_PORT = 53  # a module constant so that a unit test can point it at its own loopback server


class NameNotResolved(ValueError):
    """The name has no address at the declared nameservers, or none of them answered."""


def resolve_name(name: str, nameservers: Sequence[str], *, seconds: float = RESOLVE_SECONDS) -> tuple[IPAddress, ...]:
    """The A and AAAA addresses of ``name`` at ``nameservers``, sorted (IPv4 first)."""
    if not nameservers:
        raise NameNotResolved(f"host name {name!r} needs a nameserver to resolve it: give --nameserver IP "
                              "(gapscan never asks the system resolver)")
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = list(nameservers)
    resolver.port = DNS_PORT
    resolver.lifetime = seconds
    resolver.timeout = min(2.0, seconds)
    found: set[IPAddress] = set()
    for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        try:
            answer = resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN as exc:
            where = ", ".join(nameservers)
            raise NameNotResolved(f"host name {name!r} does not exist (NXDOMAIN from {where})") from exc
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise NameNotResolved(f"host name {name!r}: no answer from {', '.join(nameservers)} ({exc})") from exc
        except dns.exception.DNSException as exc:
            raise NameNotResolved(f"host name {name!r}: {exc}") from exc
        found.update(ipaddress.ip_address(r.to_text()) for r in answer)
    if not found:
        raise NameNotResolved(f"host name {name!r} has no A or AAAA record at {', '.join(nameservers)}")
    return tuple(sorted(found, key=lambda a: (a.version, a)))
