"""The gapscan lab: real daemons in network namespaces on 198.18.0.0/15 (see README.md here).

from tests.lab import Lab, hosts_failing
lab = Lab(); lab.up(("practice",)); ...; lab.down()
"""

from .lab import PARTS, EndpointStatus, Lab, hosts_for, preflight
from .proc import LabError
from .topology import (
    CHECK_IDS,
    DENSE_GATEWAY,
    DENSE_HOST,
    DENSE_NET,
    DENSE_NS,
    DENSE_OPEN_PORTS,
    DENSE_PORTS,
    DOMAINS,
    HOSTS,
    NAMESERVER,
    PRACTICE_NET,
    SCANNER_ADDRESS,
    SCANNER_NS,
    LabDomain,
    LabHost,
    LabService,
    all_services,
    domain_names,
    domains_failing,
    domains_passing,
    host,
    host_by_address,
    hosts_failing,
    hosts_passing,
    markdown_table,
)

__all__ = [
    "CHECK_IDS",
    "DENSE_GATEWAY",
    "DENSE_HOST",
    "DENSE_NET",
    "DENSE_NS",
    "DENSE_OPEN_PORTS",
    "DENSE_PORTS",
    "DOMAINS",
    "HOSTS",
    "NAMESERVER",
    "PARTS",
    "PRACTICE_NET",
    "SCANNER_ADDRESS",
    "SCANNER_NS",
    "EndpointStatus",
    "Lab",
    "LabDomain",
    "LabError",
    "LabHost",
    "LabService",
    "all_services",
    "domain_names",
    "domains_failing",
    "domains_passing",
    "host",
    "host_by_address",
    "hosts_failing",
    "hosts_for",
    "hosts_passing",
    "markdown_table",
    "preflight",
]
