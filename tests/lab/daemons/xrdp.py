"""xrdp 0.9 on the workstation with `security_layer=rdp`: Standard RDP Security, no TLS and no
NLA (rdp.nla_not_required). xrdp has no CredSSP, so it cannot be the hardened twin; the PASS
path is unit-tested on the negotiation bytes Windows sends. Foreground (-n), private ini, bound
to the host's address; no session manager runs, so nothing can log on."""

from __future__ import annotations

from pathlib import Path

from ..topology import LabHost
from . import Context, DaemonSpec, write

RUN_DIR = Path("/run/xrdp")  # xrdp's compiled-in socket directory parent


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "xrdp")
    RUN_DIR.mkdir(mode=0o755, exist_ok=True)
    port = next(s.port for s in host.services if s.daemon == "xrdp")
    layer = "rdp" if "rdp.nla_not_required" in host.gaps else "negotiate"
    ini = write(d / "xrdp.ini", "\n".join([
        "[Globals]", "ini_version=1", "fork=true", f"port=tcp://{listen}:{port}", "use_vsock=false",
        f"security_layer={layer}", "crypt_level=high", "certificate=", "key_file=", "allow_channels=false",
        "max_bpp=16", "", "[Logging]", f"LogFile={d / 'xrdp.log'}", "LogLevel=WARNING", "EnableSyslog=false",
        "EnableConsole=false", "", "[Xvnc]", "name=Xvnc", "lib=libvnc.so", "username=ask", "password=ask",
        "ip=127.0.0.1", "port=-1", "",
    ]))
    return [
        DaemonSpec(
            host=host.name,
            kinds=("xrdp",),
            namespace=host.namespace,
            argv=("xrdp", "-n", "-c", str(ini)),
            console=d / "console.log",
            logs=(d / "xrdp.log",),
        )
    ]
