"""TigerVNC's Xvnc (an X server with a built-in VNC server, no desktop session): on the
workstation with security type None (cleartext.vnc: anyone can take the screen); on the
hardened file server with X509Plain only (VeNCrypt over TLS with a lab-CA certificate; no
account is configured, so nothing can log on). Each instance gets its own display number (the
X lock files live in the shared /tmp) and listens for RFB on the host's address only."""

from __future__ import annotations

from ..topology import LAB_SLOT, LabHost
from . import Context, DaemonSpec


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "xvnc")
    port = next(s.port for s in host.services if s.daemon == "xvnc")
    display = 100 + int(host.address.rsplit(".", 1)[1]) + 256 * LAB_SLOT
    if "cleartext.vnc" in host.gaps:
        security: tuple[str, ...] = ("-SecurityTypes", "None")
    else:
        pair = ctx.pki.issue(f"{host.name}-vnc", (host.dns_name or f"{host.name}.lab.test",), (host.address,))
        security = ("-SecurityTypes", "X509Plain", "-X509Cert", str(pair.cert), "-X509Key", str(pair.key),
                    "-PlainUsers", "")
    return [
        DaemonSpec(
            host=host.name,
            kinds=("xvnc",),
            namespace=host.namespace,
            argv=("Xvnc", f":{display}", "-interface", listen, "-rfbport", str(port), *security,
                  "-geometry", "640x480", "-depth", "16", "-nolisten", "tcp", "-nolisten", "unix",
                  # Scans connect and hang up without authenticating: TigerVNC counts each as a
                  # security failure and blacklists the scanner after 5 (default) for 10 s.
                  "-BlacklistThreshold", "1000000"),
            console=d / "console.log",
        )
    ]
