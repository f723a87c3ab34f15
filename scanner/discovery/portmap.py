"""Routing names by port number: the guess discovery starts from, never the last word.

A name here is what a check's ``Applies(services=...)`` matches. Identification
(``scanner.discovery.identify``) replaces it with what the port actually speaks whenever the
port answers in a protocol it can recognise; the name stays (``identified_by="port-map"``) only
when nothing contradicts it and nothing confirms it.
"""

from __future__ import annotations

from scanner.models import Service, Transport

# Routing names: what checks put in ``Applies(services=...)``. Sources: IANA service registry
# and the RFCs named. 587 is "submission" (RFC 6409), 465 "smtps" (implicit TLS, RFC 8314).
PORT_SERVICES: dict[int, str] = {
    21: "ftp",
    22: "ssh",
    23: "telnet",
    25: "smtp",
    53: "dns",
    80: "http",
    88: "kerberos",
    104: "dicom",
    110: "pop3",
    111: "rpcbind",
    135: "msrpc",
    139: "netbios-ssn",
    199: "smux",  # SNMP multiplexing (RFC 1227): net-snmp listens here by default
    143: "imap",
    389: "ldap",
    443: "https",
    445: "smb",
    465: "smtps",
    515: "lpd",
    548: "afp",
    587: "submission",
    631: "ipp",
    636: "ldaps",
    873: "rsync",
    990: "ftps",
    993: "imaps",
    995: "pop3s",
    1433: "mssql",
    1521: "oracle",
    2049: "nfs",
    2575: "hl7",
    3000: "http",
    3306: "mysql",
    3389: "rdp",
    5000: "http",
    5432: "postgresql",
    5900: "vnc",
    5901: "vnc",
    5902: "vnc",
    5985: "winrm",
    5986: "winrm",
    8000: "http",
    8008: "http",
    8080: "http",
    8443: "https",
    8888: "http",
    9100: "jetdirect",
    9443: "https",
    11112: "dicom",
    17500: "dropbox",
    20048: "mountd",  # NFS MOUNT protocol (RFC 1813 App. I) on its IANA port
    22000: "syncthing",
}

UDP_PORT_SERVICES: dict[int, str] = {
    53: "dns",
    67: "dhcp",
    69: "tftp",
    111: "rpcbind",
    123: "ntp",
    137: "netbios-ns",
    161: "snmp",
    500: "isakmp",
    1900: "ssdp",
    5353: "mdns",
    17500: "dropbox",
}


def map_only(port: int, transport: Transport = Transport.TCP) -> Service:
    """The port-map identification alone (service_detection="none")."""
    table = PORT_SERVICES if transport is Transport.TCP else UDP_PORT_SERVICES
    name = table.get(port)
    return Service(port=port, transport=transport, service=name, identified_by="port-map" if name else None)
