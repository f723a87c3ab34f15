"""smbd (Samba 4.17): the weak file server allows SMB1 without signing and has a guest share;
the hardened one requires signing, speaks SMB2_02+ only and has user shares only."""

from __future__ import annotations

from ..topology import LabHost
from . import Context, DaemonSpec, mdns_announcer, write

# The one account the lab knows (an existing system account: the lab adds no Unix users).
# Used only for the user-only share; never a credential a check would guess.
SMB_USER = "backup"
SMB_PASSWORD = "Lab-Only-2026!"
GUEST_SHARE = "scans"
USER_SHARE = "billing"
BACKUP_SHARE = "images"  # guest-readable, holding a Windows system image folder (issue 20)
# The SAM account policy (pdbedit -P; Samba's defaults are length 5, no lockout): weak vs hardened.
WEAK_POLICY = (("min password length", "5"), ("bad lockout attempt", "0"))
HARDENED_POLICY = (("min password length", "12"), ("bad lockout attempt", "5"))


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "smbd")
    for sub in ("lock", "state", "cache", "private", "run", "ncalrpc", "shares/scans", "shares/billing",
                "shares/images/WindowsImageBackup/PC-FRONTDESK"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    smb1 = "smb.v1_enabled" in host.gaps
    unsigned = "smb.signing_not_required" in host.gaps
    guest = "smb.guest_access" in host.gaps or "smb.open_share" in host.gaps
    # Dummy files (names only matter: checks list share names, never read contents).
    write(d / "shares/scans/scan-0001.pdf", "lab dummy file, no patient data\n")
    write(d / "shares/scans/README.txt", "scanner drop folder (lab)\n")
    write(d / "shares/billing/ledger.xlsx", "lab dummy file, no patient data\n")
    write(d / "shares/images/WindowsImageBackup/PC-FRONTDESK/MediaId", "lab dummy file, no image\n")
    netbios = host.name.upper().replace("-", "")[:15]
    conf = f"""[global]
    server role = standalone server
    workgroup = CLINIC
    netbios name = {netbios}
    server string = {host.role}
    # smbd without NetBIOS; nmbd runs from nmbd.conf (the same text with NetBIOS enabled).
    disable netbios = yes
    smb ports = 445 139
    interfaces = {listen}
    bind interfaces only = {"no" if listen == "0.0.0.0" else "yes"}
    server min protocol = {"NT1" if smb1 else "SMB2_02"}
    server signing = {"disabled" if unsigned else "mandatory"}
    map to guest = {"Bad User" if guest else "Never"}
    restrict anonymous = {0 if guest else 2}
    guest account = nobody
    # Every state path private to this instance so several smbd run side by side (docs/lab-notes.md).
    lock directory = {d}/lock
    state directory = {d}/state
    cache directory = {d}/cache
    private dir = {d}/private
    pid directory = {d}/run
    ncalrpc dir = {d}/ncalrpc
    passdb backend = tdbsam:{d}/private/passdb.tdb
    usershare path =
    log file = {d}/log.smbd
    max log size = 0
    log level = 1
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
"""
    if guest:
        conf += f"""
[{GUEST_SHARE}]
    comment = scanned intake forms
    path = {d}/shares/scans
    guest ok = yes
    read only = yes
    browseable = yes

[{BACKUP_SHARE}]
    comment = front desk PC images
    path = {d}/shares/images
    guest ok = yes
    read only = yes
    browseable = yes
"""
    conf += f"""
[{USER_SHARE}]
    comment = billing (staff only)
    path = {d}/shares/billing
    valid users = {SMB_USER}
    guest ok = no
    read only = no
"""
    cfg = write(d / "smb.conf", conf)
    # nmbd (NetBIOS name service, UDP 137) from its own copy of the config: smbd keeps NetBIOS
    # disabled (its ports and checks unchanged), nmbd answers node-status queries with the
    # netbios name and workgroup (discovery's NetBIOS names, scanner.discovery.netbios).
    nmbd_cfg = write(d / "nmbd.conf", conf.replace("disable netbios = yes", "disable netbios = no")
                     .replace(f"log file = {d}/log.smbd", f"log file = {d}/log.nmbd"))
    return [
        DaemonSpec(
            host=host.name,
            kinds=("smbd",),
            namespace=host.namespace,
            argv=("smbd", "--foreground", "--no-process-group", "-s", str(cfg)),
            console=d / "console.log",
            logs=(d / "log.smbd",),
            setup=((("smbpasswd", "-c", str(cfg), "-s", "-a", SMB_USER), f"{SMB_PASSWORD}\n" * 2),
                   *((("pdbedit", "-s", str(cfg), "-P", name, "-C", value), "") for name, value in
                     (WEAK_POLICY if "endpoint.accounts_weak" in host.gaps else HARDENED_POLICY))),
        ),
        DaemonSpec(
            host=host.name,
            kinds=("nmbd",),  # no LabService: UDP 137 is not a port the lab's ground truth lists
            namespace=host.namespace,
            argv=("nmbd", "--foreground", "--no-process-group", "-s", str(nmbd_cfg)),
            console=d / "console-nmbd.log",
            logs=(d / "log.nmbd",),
        ),
        *mdns_announcer.build(host, ctx, listen),  # the file server announces <name>.local (RFC 6762)
    ]
