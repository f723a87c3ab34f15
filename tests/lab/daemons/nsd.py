"""NSD 4.6, authoritative for the lab zones: lab.test (host names), the practice domains with
their SPF/DMARC/DKIM TXT records, and the reverse zone of the practice network.

LAB-NOTES: `username: ""`, `chroot: ""`, `database: ""` let it run from a temp dir;
`rrl-ratelimit: 0`, or a scanner's burst of TXT lookups gets rate-limited. NSD answers REFUSED
for names outside its zones, so nothing in the lab resolves the outside world.
"""

from __future__ import annotations

import ipaddress

from ..topology import DOMAINS, HOSTS, LAB_ZONE, NAMESERVER, PRACTICE_NET, LabDomain, LabHost
from . import Context, DaemonSpec, write

SERIAL = 2026112201
NS_NAME = f"ns.{LAB_ZONE}."


def _soa(zone: str) -> str:
    return (
        f"$ORIGIN {zone}.\n$TTL 300\n"
        f"@ IN SOA {NS_NAME} hostmaster.{LAB_ZONE}. ({SERIAL} 3600 600 86400 300)\n"
        f"@ IN NS {NS_NAME}\n"
    )


def _txt(value: str) -> str:
    """A TXT rdata: quoted character-strings of at most 255 bytes each (RFC 1035 §3.3.14)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    chunks = [escaped[i : i + 255] for i in range(0, len(escaped), 255)]
    return "( " + " ".join(f'"{c}"' for c in chunks) + " )"


def lab_names() -> list[tuple[str, str]]:
    """(address, name) for every lab host: its lab.test name and its role name, if different."""
    pairs = []
    for h in HOSTS:
        pairs.append((h.address, f"{h.name}.{LAB_ZONE}"))
        if h.dns_name and h.dns_name != f"{h.name}.{LAB_ZONE}":
            pairs.append((h.address, h.dns_name))
    return pairs


def _zone_text(zone: str, names: list[tuple[str, str]], domain: LabDomain | None) -> str:
    text = _soa(zone)
    for address, name in names:
        if name.endswith("." + zone):
            text += f"{name}. IN A {address}\n"
    if zone == LAB_ZONE:
        text += f"{NS_NAME} IN A {NAMESERVER}\n"
    if domain is not None:
        if domain.mx:
            text += f"@ IN MX 10 {domain.mx}.\n"
        for label, value in domain.txt:
            text += f"{label} IN TXT {_txt(value)}\n"
    return text


def _reverse_zone() -> tuple[str, str]:
    net = ipaddress.ip_network(PRACTICE_NET)
    zone = ".".join(reversed(str(net.network_address).split(".")[:3])) + ".in-addr.arpa"
    text = _soa(zone)
    seen = set()
    for address, name in lab_names():
        if address not in seen:  # one PTR per address: the lab.test name
            seen.add(address)
            text += f"{address.rsplit('.', 1)[1]} IN PTR {name}.\n"
    return zone, text


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "nsd")
    names = lab_names()
    zones: dict[str, str] = {LAB_ZONE: _zone_text(LAB_ZONE, names, None)}
    for dom in DOMAINS:
        zones[dom.name] = _zone_text(dom.name, names, dom)
    rzone, rtext = _reverse_zone()
    zones[rzone] = rtext
    conf = f"""server:
    ip-address: {listen}
    port: 53
    do-ip6: no
    username: ""
    chroot: ""
    database: ""
    zonesdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    zonelistfile: "{d}/zone.list"
    server-count: 1
    tcp-count: 256
    verbosity: 1
    rrl-ratelimit: 0
    refuse-any: yes
remote-control:
    control-enable: no
"""
    for zone, text in zones.items():
        write(d / f"{zone}.zone", text)
        conf += f'zone:\n    name: "{zone}"\n    zonefile: "{zone}.zone"\n'
    cfg = write(d / "nsd.conf", conf)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("nsd",),
            namespace=host.namespace,
            argv=("nsd", "-d", "-c", str(cfg)),
            console=d / "console.log",
            logs=(d / "nsd.log",),
            setup=((("nsd-checkconf", str(cfg)), ""),),
        )
    ]
