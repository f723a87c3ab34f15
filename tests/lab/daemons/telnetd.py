"""Telnet (inetutils telnetd under inetutils-inetd) on the workstation: the `cleartext.telnet` gap.

inetd runs in the foreground (-d) with a private configuration and pid file, listening on the
host's address only. telnetd's "login program" is /bin/cat (-E), so a connection gets real
Telnet option negotiation but nothing a client types can reach a shell or an account.
"""

from __future__ import annotations

from ..topology import LabHost
from . import Context, DaemonSpec, write


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "telnetd")
    port = next(s.port for s in host.services if s.daemon == "inetd")
    conf = write(d / "inetd.conf",
                 f"{listen}:{port} stream tcp nowait root /usr/sbin/telnetd telnetd -h -E /bin/cat\n")
    return [
        DaemonSpec(
            host=host.name,
            kinds=("inetd",),
            namespace=host.namespace,
            argv=("/usr/sbin/inetutils-inetd", "-d", "-R", "6000", f"--pidfile={d / 'inetd.pid'}", str(conf)),
            console=d / "console.log",
        )
    ]
