"""OpenSSH: its own host keys and PidFile (docs/lab-notes.md), MaxStartups raised for scan load,
no PAM and no DNS lookups (nothing outside the lab to ask)."""

from __future__ import annotations

from pathlib import Path

from ..topology import LabHost
from . import Context, DaemonSpec, write

PRIVSEP_DIR = Path("/run/sshd")  # Debian's sshd refuses to start without it


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "sshd")
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    keys = [d / "ssh_host_ed25519_key", d / "ssh_host_ecdsa_key"]
    setup = tuple((("ssh-keygen", "-q", "-N", "", "-t", key.name.split("_")[2], "-f", str(key)), "") for key in keys)
    conf = "\n".join(
        [
            "Port 22",
            f"ListenAddress {listen}",
            *(f"HostKey {k}" for k in keys),
            f"PidFile {d / 'sshd.pid'}",
            "UsePAM no",
            "UseDNS no",
            "PermitRootLogin no",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            # Scans open many connections at once: the default 10:30:100 drops them early.
            "MaxStartups 1000:30:2000",
            "LoginGraceTime 20",
        ]
    )
    cfg = write(d / "sshd_config", conf + "\n")
    return [
        DaemonSpec(
            host=host.name,
            kinds=("sshd",),
            namespace=host.namespace,
            # -D: stay in the foreground (our PID), -e: log to the console file.
            argv=("/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)),
            console=d / "console.log",
            setup=setup,
        )
    ]
