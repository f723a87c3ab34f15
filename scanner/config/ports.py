"""The default TCP sweep: nmap's top 1,000 TCP ports plus the ports the checks need.

nmap ranks every port by how often it was found open in its large scans (the open-frequency
column of its ``nmap-services`` file); its default scan, ``--top-ports 1000``, takes the 1,000
most frequent TCP ports, ties broken by the lower port number (checked against the list nmap
7.93 itself prints for ``-oX`` with ``--top-ports 1000``). A practice network is not the
Internet, but the services that matter there (mail on 2525, FTP on 2121, a printer on 9100, a
web console on 8081) are in that list, and a technician comparing with nmap sees the same ports.

Where the list comes from: nmap's own ``nmap-services`` when nmap is installed (the list then
follows nmap's updates), otherwise the copy generated from it into ``nmap_top_ports.py``
(``python -m scanner.config.ports --write`` regenerates it; a unit test fails when the copy and
an installed nmap disagree). Only port numbers are taken from nmap's table, no names.

To these come ``CHECK_PORTS``: ports the checks judge or discovery names that nmap's top 1,000
leave out. A profile's own ``discovery.tcp_ports`` replaces the whole default.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from scanner.config import nmap_top_ports

TOP_PORTS = 1000
NMAP_SERVICES_PATHS: tuple[Path, ...] = (
    Path("/usr/share/nmap/nmap-services"),
    Path("/usr/local/share/nmap/nmap-services"),
)

# Outside nmap's top 1,000, but a check or discovery's port map needs them (why, per port).
CHECK_PORTS: dict[int, str] = {
    104: "DICOM (imaging devices)",
    2575: "HL7 (clinical messaging)",
    5985: "WinRM over HTTP",
    5986: "WinRM over HTTPS",
    9443: "HTTPS web consoles",
    11112: "DICOM (IANA port)",
    17500: "Dropbox LAN sync (cloudsync.dropbox_lansync)",
    20048: "NFS MOUNT (nfs.open_export)",
    22000: "Syncthing sync port (cloudsync.syncthing)",
}

_ID_LINE = re.compile(r"^#\s*\$Id:[^$]*\$", re.M)


@dataclass(frozen=True)
class DefaultPorts:
    """The default sweep and where its nmap part came from (for the run's notes)."""

    ports: tuple[int, ...]
    source: str  # "nmap-services at PATH ($Id ...)" or "gapscan's copy of nmap-services ($Id ...)"
    top: int  # how many of ``ports`` are nmap's top ports


def parse_nmap_services(text: str) -> list[tuple[int, float]]:
    """(port, open-frequency) of every TCP line of an nmap-services file.

    Lines are ``name<TAB>port/proto<TAB>frequency[<TAB># comment]``; comments and malformed
    lines are skipped (the file is read, never trusted to be well formed)."""
    rows: list[tuple[int, float]] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        port_text, _, proto = fields[1].partition("/")
        if proto != "tcp":
            continue
        try:
            port, frequency = int(port_text), float(fields[2])
        except ValueError:
            continue
        if 0 < port <= 65535 and frequency >= 0:
            rows.append((port, frequency))
    return rows


def top_tcp_ports(rows: Iterable[tuple[int, float]], count: int = TOP_PORTS) -> tuple[int, ...]:
    """The ``count`` most frequent ports (ties: lower port first, as nmap does), ascending."""
    best: dict[int, float] = {}
    for port, frequency in rows:
        best[port] = max(frequency, best.get(port, 0.0))
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return tuple(sorted(port for port, _ in ranked[:count]))


def services_id(text: str) -> str:
    """The file's ``$Id ...$`` line (its version), or "" when it has none."""
    match = _ID_LINE.search(text)
    return match.group(0).lstrip("#").strip() if match else ""


def compress(ports: Sequence[int]) -> str:
    """``1,3-4,6-7``: ascending ports as ranges (nmap's own notation)."""
    parts: list[str] = []
    ordered = sorted(set(ports))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def expand(spec: str) -> tuple[int, ...]:
    """The inverse of ``compress``."""
    ports: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        ports.extend(range(int(low), int(high or low) + 1))
    return tuple(ports)


def installed_top_ports(paths: Sequence[Path] = NMAP_SERVICES_PATHS) -> tuple[tuple[int, ...], Path, str] | None:
    """nmap's top 1,000 from an installed nmap-services: (ports, path, $Id), or None when no
    readable file holds at least 1,000 TCP ports."""
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        rows = parse_nmap_services(text)
        if len({port for port, _ in rows}) >= TOP_PORTS:
            return top_tcp_ports(rows), path, services_id(text)
    return None


def shipped_top_ports() -> tuple[int, ...]:
    return expand(nmap_top_ports.PORTS)


@lru_cache(maxsize=1)
def default_ports() -> DefaultPorts:
    """The default sweep (computed once per process)."""
    installed = installed_top_ports()
    if installed is not None:
        top, path, version = installed
        source = f"nmap's top {TOP_PORTS} from {path}" + (f" ({version})" if version else "")
    else:
        top = shipped_top_ports()
        source = (f"nmap's top {TOP_PORTS} (gapscan's copy of nmap-services, {nmap_top_ports.SOURCE}; "
                  "nmap not installed)")
    return DefaultPorts(tuple(sorted(set(top) | set(CHECK_PORTS))), source, len(top))


def default_tcp_ports() -> tuple[int, ...]:
    return default_ports().ports


def render_module(ports: Sequence[int], source: str) -> str:
    """The text of ``nmap_top_ports.py`` for ``ports`` read from a file with ``source`` ($Id)."""
    spec = compress(ports)
    lines = [spec[i : i + 96] for i in range(0, len(spec), 96)]
    body = "\n".join(f'    "{line}"' for line in lines)
    return (
        '"""nmap\'s top 1,000 TCP ports, generated from nmap-services by `python -m scanner.config.ports --write`.\n\n'
        "Used only when nmap is not installed (see scanner.config.ports). Port numbers only: nmap's table\n"
        "ranks them by open frequency; nothing else of it is copied.\n"
        '"""\n\n'
        f'SOURCE = "{source}"\n'
        f"PORTS = (\n{body}\n)\n"
    )


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scanner.config.ports",
                                     description="Print or regenerate gapscan's copy of nmap's top 1,000 TCP ports")
    parser.add_argument("--write", action="store_true", help="rewrite scanner/config/nmap_top_ports.py")
    args = parser.parse_args(argv)
    installed = installed_top_ports()
    if installed is None:
        print("error: no nmap-services found (install nmap)", file=sys.stderr)
        return 1
    top, path, version = installed
    if args.write:
        target = Path(__file__).with_name("nmap_top_ports.py")
        target.write_text(render_module(top, version or str(path)))
        print(f"wrote {target} from {path}")
    else:
        print(compress(top))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
