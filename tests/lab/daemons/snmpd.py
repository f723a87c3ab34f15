"""net-snmp snmpd: the weak file server answers the default community `public` (read-only);
the hardened one only a long random community (snmp.default_community). Both answer SNMPv3
engine-ID discovery, which is how the scanner's UDP discovery finds them. Foreground (-f),
private config (-C -c) and persistent directory, bound to the host's address only."""

from __future__ import annotations

import secrets

from ..topology import LabHost
from . import Context, DaemonSpec, write


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "snmpd")
    port = next(s.port for s in host.services if s.daemon == "snmpd")
    community = "public" if "snmp.default_community" in host.gaps else f"lab-{secrets.token_hex(12)}"
    conf = write(d / "snmpd.conf", "\n".join([
        f"[snmp] persistentDir {d / 'persist'}",
        f"agentAddress udp:{listen}:{port}",
        f"rocommunity {community} default",
        f"sysDescr gapscan lab {host.name} (net-snmp)",
        "sysLocation gapscan lab",
        "",
    ]), mode=0o600)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("snmpd",),
            namespace=host.namespace,
            # MIBS= : no MIB files to load (the agent needs none; silences the missing-module noise).
            argv=("env", "MIBS=", "/usr/sbin/snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-p", str(d / "snmpd.pid")),
            console=d / "console.log",
        )
    ]
