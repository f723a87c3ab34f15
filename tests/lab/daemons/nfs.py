"""nfs-ganesha (FSAL VFS) + rpcbind: the kernel has no NFS server, the userspace one runs.

The weak host exports /srv to * with no root squash; the hardened one exports it to two named
hosts only (the workstation and the scanner), root squashed. The scanner is in the list because
ganesha's MOUNT EXPORT reply leaves out exports the asking client may not access: with the
workstation alone the hardened server would list nothing, and a check could not tell
"restricted" from "no exports". Nothing can mount it here (no kernel client), but
the portmapper and MOUNT protocols are real (showmount -e / rpcinfo -p answer).

Why a shell wrapper: rpcbind binds the filesystem socket /run/rpcbind.sock and ganesha registers
through it, so two file servers' rpcbinds would steal each other's socket. `ip netns exec`
already runs in a private (slave) mount namespace, so the wrapper mounts a tmpfs on /run there
and starts rpcbind and ganesha in that same mount namespace. It also bind-mounts the export
directory onto /srv, so the export has a stable, realistic name.
"""

from __future__ import annotations

from ..topology import HOSTS, SCANNER_ADDRESS, LabHost
from . import Context, DaemonSpec, write

EXPORT_PATH = "/srv"
NFS_PORT = 2049
MOUNTD_PORT = 20048


def trusted_clients() -> tuple[str, ...]:
    """The addresses the hardened export is restricted to (front-desk workstation, scanner)."""
    return (next(h.address for h in HOSTS if h.name == "ws"), SCANNER_ADDRESS)


def build_none(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    """rpcbind is started by the ganesha wrapper below: nothing of its own."""
    return []


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "ganesha")
    (d / "export" / "scans").mkdir(parents=True, exist_ok=True)
    (d / "recovery").mkdir(exist_ok=True)
    write(d / "export" / "scans" / "intake-0001.tif", "lab dummy file, no patient data\n")
    if "nfs.open_export" in host.gaps:
        clients = "CLIENT { Clients = *; Access_Type = RW; Squash = No_Root_Squash; }"
    else:
        allowed = ", ".join(trusted_clients())
        clients = f"CLIENT {{ Clients = {allowed}; Access_Type = RW; Squash = Root_Squash; }}"
    conf = f"""NFS_CORE_PARAM {{
    Bind_addr = {listen};
    NFS_Port = {NFS_PORT};
    MNT_Port = {MOUNTD_PORT};
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Protocols = 3, 4;
}}
NFSV4 {{
    # No 90 s grace period at start: the lab wants the server ready at once.
    Graceless = true;
    RecoveryBackend = fs;
    RecoveryRoot = {d / "recovery"};
}}
NFS_KRB5 {{ Active_krb5 = false; }}
EXPORT {{
    Export_Id = 1;
    Path = {EXPORT_PATH};
    Pseudo = {EXPORT_PATH};
    Access_Type = None;
    Protocols = 3, 4;
    Transports = TCP, UDP;
    SecType = sys;
    {clients}
    FSAL {{ Name = VFS; }}
}}
LOG {{ Default_Log_Level = EVENT; }}
"""
    cfg = write(d / "ganesha.conf", conf)
    rpcbind_pid = d / "rpcbind.pid"
    script = f"""set -e
mount -t tmpfs -o mode=0755,size=16m gslab-run /run
mkdir -p /run/rpcbind
mount --bind {d / "export"} {EXPORT_PATH}
rpcbind -f &
echo $! > {rpcbind_pid}
i=0
while [ ! -S /run/rpcbind.sock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
exec ganesha.nfsd -F -f {cfg} -L {d / "ganesha.log"} -p {d / "ganesha.pid"}
"""
    wrapper = write(d / "start.sh", script, mode=0o755)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("ganesha", "rpcbind"),
            namespace=host.namespace,
            argv=("sh", str(wrapper)),
            console=d / "console.log",
            logs=(d / "ganesha.log",),
            extra_pidfiles=(rpcbind_pid,),
        )
    ]
