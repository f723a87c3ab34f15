"""nmap through python-nmap: the sweep engine on request, and service/version detection (-sV).

nmap is a separate process the scope audit hook cannot see, so every address is checked with
``require_in_scope`` and handed over explicitly in an ``-iL`` file (never a CIDR or a name
nmap would expand or resolve itself); ``-n`` keeps nmap from sending DNS queries. Failures
are translated into the scanner's errors: nmap missing is ``MissingDependency`` (the caller
falls back to the built-in scanner), anything else a ``ProbeError`` with nmap's message.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from scanner.discovery.banners import clean_banner
from scanner.discovery.portmap import PORT_SERVICES, UDP_PORT_SERVICES
from scanner.errors import MissingDependency, ProbeError, ProbeTimeout
from scanner.models import Host, Service, Transport
from scanner.scope.guard import require_in_scope

# nmap's service names (nmap-services / -sV) to gapscan's routing names where they differ.
_NMAP_NAMES: dict[str, str] = {
    "microsoft-ds": "smb",
    "ms-wbt-server": "rdp",
    "domain": "dns",
    "ms-sql-s": "mssql",
    "ms-sql-m": "mssql",
    "http-proxy": "http",
    "http-alt": "http",
    "https-alt": "https",
    "kerberos-sec": "kerberos",
    "nfs_acl": "nfs",
    "mountd": "nfs",
    "pop3pw": "pop3",
    "imap2": "imap",
    "printer": "lpd",
    "postgres": "postgresql",
    "mysqlx": "mysql",
    "vnc-http": "http",
    "ssl": "tls",
    "db-lsp": "dropbox",
    "rtsp": "rtsp",
    "msrpc": "msrpc",
}
_TLS_NAMES = {"http": "https", "smtp": "smtps", "imap": "imaps", "pop3": "pop3s", "ftp": "ftps",
              "ldap": "ldaps"}


def nmap_path() -> str | None:
    """The nmap executable on PATH, or None. PATH alone decides (tests rely on it)."""
    return shutil.which("nmap")


def routing_name(name: str | None, port: int, tunnel: str | None, transport: Transport) -> str | None:
    """gapscan's routing name for what nmap reported on a port."""
    table = PORT_SERVICES if transport is Transport.TCP else UDP_PORT_SERVICES
    if not name or name in ("unknown", "tcpwrapped"):
        return table.get(port)
    base = _NMAP_NAMES.get(name, name)
    if tunnel == "ssl":
        base = _TLS_NAMES.get(base, base)
    if base == "smtp" and table.get(port) == "submission":
        base = "submission"
    if base == "smtp" and port == 465:
        base = "smtps"
    return base


@dataclass
class NmapScan:
    hosts: list[Host] = field(default_factory=list)
    command: str = ""
    warnings: list[str] = field(default_factory=list)
    up: int = 0


def build_arguments(
    *,
    service_detection: bool,
    host_discovery: str,
    retries: int,
    udp: bool,
    input_file: str,
    ping_ports: Sequence[int] = (),
) -> str:
    """nmap arguments (python-nmap adds ``-oX -`` and ``-p``)."""
    args = ["-sT", "-n", "-T4", "--max-retries", str(retries), "-iL", input_file]
    if udp:
        args.insert(1, "-sU")
    if service_detection:
        args.append("-sV")
    if host_discovery == "none":
        args.append("-Pn")
    elif host_discovery == "tcp" and ping_ports:
        args.append("-PS" + ",".join(str(p) for p in ping_ports))
    elif host_discovery == "arp":
        args.append("-PR")
    return " ".join(args)


def port_spec(tcp_ports: Sequence[int], udp_ports: Sequence[int]) -> str:
    parts = []
    if tcp_ports:
        parts.append("T:" + ",".join(str(p) for p in sorted(set(tcp_ports))))
    if udp_ports:
        parts.append("U:" + ",".join(str(p) for p in sorted(set(udp_ports))))
    return ",".join(parts)


def tunnels_from_xml(xml_text: str | bytes) -> dict[tuple[str, str, int], str]:
    """{(address, proto, port): tunnel} from nmap's XML: python-nmap's dict drops the
    ``tunnel="ssl"`` attribute that tells ``ssl/http`` (https) from plain http."""
    found: dict[tuple[str, str, int], str] = {}
    try:
        root = ElementTree.fromstring(xml_text)
    except ElementTree.ParseError:
        return found
    for host in root.iter("host"):
        address = next((a.get("addr") for a in host.iter("address") if a.get("addrtype") in ("ipv4", "ipv6")),
                       None)
        if address is None:
            continue
        for port in host.iter("port"):
            service = port.find("service")
            tunnel = service.get("tunnel") if service is not None else None
            portid = port.get("portid") or ""
            if tunnel and portid.isdigit():
                found[(address, port.get("protocol") or "tcp", int(portid))] = tunnel
    return found


def parse_result(
    data: Mapping[str, Any],
    tunnels: Mapping[tuple[str, str, int], str] | None = None,
    discovered_by: str = "nmap",
) -> list[Host]:
    """Hosts that nmap found up, with their open ports, from python-nmap's result dict."""
    tunnels = tunnels or {}
    hosts: list[Host] = []
    for address, info in sorted(data.get("scan", {}).items()):
        status = info.get("status", {}).get("state")
        if status not in (None, "up"):
            continue
        services: list[Service] = []
        for proto, transport in (("tcp", Transport.TCP), ("udp", Transport.UDP)):
            for port, pinfo in sorted(info.get(proto, {}).items()):
                if pinfo.get("state") != "open":
                    continue
                product = clean_banner(pinfo.get("product") or "", 100) or None
                version = clean_banner(pinfo.get("version") or "", 64) or None
                extra = clean_banner(pinfo.get("extrainfo") or "", 100) or None
                services.append(Service(
                    port=int(port),
                    transport=transport,
                    service=routing_name(pinfo.get("name"), int(port),
                                         tunnels.get((address, proto, int(port))), transport),
                    product=product,
                    version=version,
                    banner=extra,
                    identified_by="nmap",
                ))
        hosts.append(Host(address=address, services=tuple(services), discovered_by=discovered_by))
    return hosts


def run_nmap(
    addresses: Sequence[str],
    tcp_ports: Sequence[int],
    *,
    udp_ports: Sequence[int] = (),
    service_detection: bool = False,
    host_discovery: str = "auto",
    retries: int = 2,
    ping_ports: Sequence[int] = (),
    timeout_s: int = 3600,
) -> NmapScan:
    """Run one nmap connect scan (optionally -sV) over exactly ``addresses``.

    Raises ``OutOfScopeError`` before starting nmap if any address is out of scope,
    ``MissingDependency`` when nmap or python-nmap is absent, ``ProbeTimeout`` after
    ``timeout_s``, ``ProbeError`` for any other nmap failure.
    """
    targets = list(dict.fromkeys(addresses))
    for address in targets:
        require_in_scope(address)  # nmap is a subprocess: the audit hook cannot see it
    path = nmap_path()
    if path is None:
        raise MissingDependency("nmap is not installed (not found on PATH)")
    try:
        import nmap
    except ImportError as exc:
        raise MissingDependency("python-nmap is not installed") from exc
    scan = NmapScan()
    if not targets or not (tcp_ports or udp_ports):
        return scan
    udp = bool(udp_ports) and hasattr(os, "geteuid") and os.geteuid() == 0
    if udp_ports and not udp:
        scan.warnings.append("UDP ports skipped: nmap -sU needs root")
    with tempfile.NamedTemporaryFile("w", prefix="gapscan-targets-", suffix=".txt") as target_file:
        target_file.write("\n".join(targets) + "\n")
        target_file.flush()
        arguments = build_arguments(service_detection=service_detection, host_discovery=host_discovery,
                                    retries=retries, udp=udp, input_file=target_file.name,
                                    ping_ports=ping_ports)
        ports = port_spec(tcp_ports, udp_ports if udp else ())
        scan.command = f"nmap -oX - -p {ports} {arguments}"
        try:
            scanner = nmap.PortScanner(nmap_search_path=(path,))
            data = scanner.scan(hosts="", ports=ports, arguments=arguments, timeout=timeout_s)
        except nmap.PortScannerTimeout as exc:
            raise ProbeTimeout(f"nmap did not finish within {timeout_s} s") from exc
        except nmap.PortScannerError as exc:
            message = clean_banner(str(exc), 300)
            if "not found" in message:
                raise MissingDependency(f"nmap could not be started: {message}") from exc
            raise ProbeError(f"nmap failed: {message}") from exc
        except OSError as exc:
            raise ProbeError(f"nmap could not be started: {exc.strerror or exc}") from exc
    info = data.get("nmap", {}).get("scaninfo", {})
    errors = info.get("error") or []
    if errors and not data.get("scan"):
        raise ProbeError("nmap failed: " + clean_banner(" ".join(map(str, errors)), 300))
    scan.warnings.extend(clean_banner(str(w), 200) for w in (info.get("warning") or []))
    scan.hosts = parse_result(data, tunnels_from_xml(scanner.get_nmap_last_output()))
    stats = data.get("nmap", {}).get("scanstats", {})
    try:
        scan.up = int(stats.get("uphosts", len(scan.hosts)))
    except (TypeError, ValueError):
        scan.up = len(scan.hosts)
    return scan
