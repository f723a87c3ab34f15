"""NSD 4.6, authoritative for the lab zones: lab.test (host names), the practice domains with
their SPF/DMARC/DKIM TXT records, the reverse zone of the practice network, and ``test.``, the
lab's TLD, which delegates every lab zone and holds the DS records of the signed ones.

docs/lab-notes.md: `username: ""`, `chroot: ""`, `database: ""` let it run from a temp dir;
`rrl-ratelimit: 0`, or a scanner's burst of TXT lookups gets rate-limited. NSD answers REFUSED
for names outside its zones, so nothing in the lab resolves the outside world.

DNSSEC: a domain hardened against dns.dnssec_missing is signed at every `up` (NSD serves
pre-signed zones) with ldns-keygen/ldns-signzone from Debian's ldnsutils: a KSK and a ZSK
(ECDSA P-256), signatures valid from now for four weeks, and the KSK's DS appended to the
parent zone before that is loaded. Children are signed before parents.
"""

from __future__ import annotations

import ipaddress

from ..topology import DOMAINS, HOSTS, LAB_ZONE, NAMESERVER, PRACTICE_NET, LabDomain, LabHost
from . import Context, DaemonSpec, write

SERIAL = 2026112201
NS_NAME = f"ns.{LAB_ZONE}."
PARENT_ZONE = "test"
KEY_ALGORITHM = "ECDSAP256SHA256"


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


def _parent(zone: str, zones: list[str]) -> str | None:
    """The closest enclosing lab zone (``test`` for a clinic domain, the clinic for a branch)."""
    enclosing = [z for z in zones if zone.endswith("." + z)]
    return max(enclosing, key=len) if enclosing else None


def _in_zone(name: str, zone: str, zones: list[str]) -> bool:
    """True when ``name`` belongs to ``zone`` itself, not to a lab zone delegated below it."""
    inside = name == zone or name.endswith("." + zone)
    below = any(name == z or name.endswith("." + z) for z in zones if z != zone and z.endswith("." + zone))
    return inside and not below


def _zone_text(zone: str, names: list[tuple[str, str]], domain: LabDomain | None, zones: list[str]) -> str:
    text = _soa(zone)
    for address, name in names:
        if _in_zone(name, zone, zones) and name != zone:
            text += f"{name}. IN A {address}\n"
    if zone == LAB_ZONE:
        text += f"{NS_NAME} IN A {NAMESERVER}\n"
    if domain is not None:
        if domain.mx:
            text += f"@ IN MX 10 {domain.mx}.\n"
        for label, value in domain.txt:
            text += f"{label} IN TXT {_txt(value)}\n"
        for label, address in domain.a:
            text += f"{label} IN A {address}\n"
    for child in zones:  # delegations (NS, and glue when the server's name lies below the child)
        if _parent(child, zones) == zone:
            text += f"{child}. IN NS {NS_NAME}\n"
            if NS_NAME.rstrip(".").endswith("." + child):
                text += f"{NS_NAME} IN A {NAMESERVER}\n"
    return text


def _signing_script(d: str, signed: list[str], zones: list[str]) -> str:
    """Shell commands that sign each zone (deepest first) and append its DS to the parent."""
    lines = [
        "set -eu",
        f"cd {d}",
        "command -v ldns-signzone >/dev/null || { echo 'ldns-signzone missing: apt-get install ldnsutils "
        "(tests/lab/apt-packages.txt)' >&2; exit 1; }",
    ]
    for zone in sorted(signed, key=lambda z: -z.count(".")):
        parent = _parent(zone, zones)
        lines += [
            f"ksk=$(ldns-keygen -a {KEY_ALGORITHM} -k -r /dev/urandom {zone})",
            f"zsk=$(ldns-keygen -a {KEY_ALGORITHM} -r /dev/urandom {zone})",
            f"ldns-signzone -f {zone}.zone.signed {zone}.zone $ksk $zsk",
        ]
        if parent is not None:
            lines.append(f'cat "$ksk.ds" >> {parent}.zone')
    return "\n".join(lines) + "\n"


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
    forward = [PARENT_ZONE, LAB_ZONE, *(dom.name for dom in DOMAINS)]
    zones: dict[str, str] = {PARENT_ZONE: _zone_text(PARENT_ZONE, names, None, forward)}
    zones[LAB_ZONE] = _zone_text(LAB_ZONE, names, None, forward)
    for dom in DOMAINS:
        zones[dom.name] = _zone_text(dom.name, names, dom, forward)
    signed = [dom.name for dom in DOMAINS if dom.signed]
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
        zonefile = f"{zone}.zone.signed" if zone in signed else f"{zone}.zone"
        conf += f'zone:\n    name: "{zone}"\n    zonefile: "{zonefile}"\n'
    cfg = write(d / "nsd.conf", conf)
    sign = write(d / "sign-zones.sh", _signing_script(str(d), signed, forward), mode=0o755)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("nsd",),
            namespace=host.namespace,
            argv=("nsd", "-d", "-c", str(cfg)),
            console=d / "console.log",
            logs=(d / "nsd.log",),
            setup=((("sh", str(sign)), ""), (("nsd-checkconf", str(cfg)), "")),
        )
    ]
