"""Credentialed-endpoint hosts: a real OpenSSH server in private mount and PID namespaces.

Each endpoint is ``unshare --mount --pid --fork --mount-proc`` inside its network namespace, so
it has its own process table (``ps`` shows only its processes), its own mounts, and its own
nftables ruleset. The lab account ``gslab`` exists only there: copies of /etc/passwd, shadow,
group and sudoers with that account are bind-mounted over the real files inside the namespace
(the machine's own files are never touched). Real: SSH transport, host keys, password and key
authentication, sudo (least privilege: only the allow-listed read-only commands), lsblk over the
machine's real block devices, a real loop-device ext4 filesystem, the nftables ruleset, ClamAV's
clamd scanning with a lab signature, GNOME settings read through dconf by gsettings.

Planted (tests/lab/README.md says so): a GNOME session file (these hosts have no desktop); on the
weak host an /etc/os-release of Debian 10 and an empty ~/.dropbox-dist plus its autostart entry; on
the hardened host a constructed ``lsblk -J`` listing of a LUKS laptop served by a script in place
of lsblk, because this kernel has no device-mapper (docs/lab-notes.md: no dm-crypt).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from ..topology import ENDPOINT_PASSWORD, ENDPOINT_UID, ENDPOINT_USER, LabHost
from . import Context, DaemonSpec, endpoint_upkeep, write

PRIVSEP_DIR = Path("/run/sshd")
SUDO_COMMANDS = ("/usr/sbin/nft list ruleset", "/usr/sbin/ufw status", "/usr/sbin/cryptsetup status *",
                 "/usr/bin/ls -1d *", "/usr/bin/ls -1 *", "/usr/bin/grep -rIn *", "/usr/bin/passwd -S -a",
                 "/usr/bin/restic -r * --password-file * --no-lock --no-cache --json snapshots",
                 "/usr/bin/borg list --json --last 1 --bypass-lock *")

# A LUKS laptop as `lsblk -J -o NAME,KNAME,TYPE,FSTYPE,MOUNTPOINT,SIZE,RO` prints it (util-linux
# 2.38 format, constructed for the lab: this kernel cannot open a dm-crypt mapping).
LUKS_LAPTOP = {"blockdevices": [{
    "name": "nvme0n1", "kname": "nvme0n1", "type": "disk", "fstype": None, "mountpoint": None,
    "size": "476.9G", "ro": False, "children": [
        {"name": "nvme0n1p1", "kname": "nvme0n1p1", "type": "part", "fstype": "vfat", "mountpoint": "/boot/efi",
         "size": "512M", "ro": False},
        {"name": "nvme0n1p2", "kname": "nvme0n1p2", "type": "part", "fstype": "ext4", "mountpoint": "/boot",
         "size": "1.7G", "ro": False},
        {"name": "nvme0n1p3", "kname": "nvme0n1p3", "type": "part", "fstype": "crypto_LUKS", "mountpoint": None,
         "size": "474.7G", "ro": False, "children": [
             {"name": "luks-3f6c2a1e", "kname": "dm-0", "type": "crypt", "fstype": "LVM2_member",
              "mountpoint": None, "size": "474.7G", "ro": False, "children": [
                  {"name": "vg0-root", "kname": "dm-1", "type": "lvm", "fstype": "ext4", "mountpoint": "/",
                   "size": "466.7G", "ro": False},
                  {"name": "vg0-swap", "kname": "dm-2", "type": "lvm", "fstype": "swap", "mountpoint": "[SWAP]",
                   "size": "8G", "ro": False}]}]}]}]}

DEBIAN_10_RELEASE = (
    'PRETTY_NAME="Debian GNU/Linux 10 (buster)"\nNAME="Debian GNU/Linux"\nVERSION_ID="10"\n'
    'VERSION="10 (buster)"\nVERSION_CODENAME=buster\nID=debian\n'
)

GOOD_RULESET = """\
table inet filter {
    chain input {
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        iifname "lo" accept
        tcp dport 22 accept
        meta l4proto icmp accept
    }
}
"""


def _hash(password: str) -> str:
    done = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True,
                          text=True, check=True, timeout=10)
    return done.stdout.strip()


def _account_files(d: Path, weak: bool) -> None:
    uid = ENDPOINT_UID
    etc = d / "etc"
    extra_passwd, extra_shadow = endpoint_upkeep.accounts(weak)
    write(etc / "passwd", Path("/etc/passwd").read_text()
          + f"{ENDPOINT_USER}:x:{uid}:{uid}:gapscan lab:/home/{ENDPOINT_USER}:/bin/bash\n" + extra_passwd)
    write(etc / "group", Path("/etc/group").read_text() + f"{ENDPOINT_USER}:x:{uid}:\n")
    write(etc / "shadow", Path("/etc/shadow").read_text()
          + f"{ENDPOINT_USER}:{_hash(ENDPOINT_PASSWORD)}:20000:0:99999:7:::\n" + extra_shadow, mode=0o640)
    write(etc / "sudoers", "Defaults env_reset\nDefaults !lecture\nroot ALL=(ALL:ALL) ALL\n"
          f"{ENDPOINT_USER} ALL=(root) NOPASSWD: {', '.join(SUDO_COMMANDS)}\n", mode=0o440)


def _home(d: Path, weak: bool) -> Path:
    home = d / "home" / ENDPOINT_USER
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    keyfile = d / "client_ed25519"
    if not keyfile.exists():
        subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-C", "gapscan-lab", "-f", str(keyfile)],
                       check=True, timeout=20)
    write(home / ".ssh" / "authorized_keys", (d / "client_ed25519.pub").read_text(), mode=0o600)
    # GNOME settings for the account, compiled into the dconf database gsettings reads.
    keyfiles = d / "dconf.d"
    lock = "false" if weak else "true"
    idle = 0 if weak else 300
    write(keyfiles / "00-lab", f"[org/gnome/desktop/screensaver]\nlock-enabled={lock}\nlock-delay=uint32 0\n\n"
          f"[org/gnome/desktop/session]\nidle-delay=uint32 {idle}\n")
    (home / ".config" / "dconf").mkdir(parents=True, exist_ok=True)
    subprocess.run(["dconf", "compile", str(home / ".config" / "dconf" / "user"), str(keyfiles)], check=True,
                   timeout=20)
    # A chatty login script (bash reads ~/.bashrc even for `ssh host command`): the collector must
    # cut it off, or lsblk's JSON would not parse.
    write(home / ".bashrc", 'echo "Welcome to the practice laptop - managed by Example MSP"\n'
          'echo "unauthorised use prohibited" >&2\n')
    if weak:
        (home / ".dropbox-dist").mkdir(exist_ok=True)
        write(home / ".config" / "autostart" / "dropbox.desktop",
              "[Desktop Entry]\nType=Application\nName=Dropbox\nExec=dropbox start -i\n")
    for root, dirs, files in os.walk(d / "home"):
        for name in [*dirs, *files]:
            os.chown(Path(root) / name, ENDPOINT_UID, ENDPOINT_UID)
    os.chown(d / "home" / ENDPOINT_USER, ENDPOINT_UID, ENDPOINT_UID)
    os.chmod(home, 0o750)
    return home


def build(host: LabHost, ctx: Context, listen: str) -> list[DaemonSpec]:
    d = ctx.dir(host, "endpoint")
    weak = "endpoint.disk_encryption_off" in host.gaps
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    _account_files(d, weak)
    _home(d, weak)
    write(d / "share" / "xsessions" / "gnome.desktop", "[Desktop Entry]\nName=GNOME\nExec=gnome-session\n")
    keys = [d / "ssh_host_ed25519_key", d / "ssh_host_ecdsa_key"]
    setup: list[tuple[tuple[str, ...], str]] = [
        (("ssh-keygen", "-q", "-N", "", "-t", key.name.split("_")[2], "-f", str(key)), "") for key in keys
        if not key.exists()]
    write(d / "sshd_config", "\n".join([
        "Port 22", f"ListenAddress {listen}", *(f"HostKey {k}" for k in keys), f"PidFile {d / 'sshd.pid'}",
        "UsePAM no", "UseDNS no", "PermitRootLogin no", "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no", "PubkeyAuthentication yes", "MaxStartups 100:30:200",
        "LoginGraceTime 20", f"AllowUsers {ENDPOINT_USER}",
    ]) + "\n")
    mounts = [
        f"mount --bind {d}/etc/passwd /etc/passwd", f"mount --bind {d}/etc/group /etc/group",
        f"mount --bind {d}/etc/shadow /etc/shadow", f"mount --bind {d}/etc/sudoers /etc/sudoers",
        f"mount --bind {d}/home /home",
        f"mount -t overlay overlay -o lowerdir={d}/share:/usr/share /usr/share",
        *endpoint_upkeep.plant(d, weak),
    ]
    extra: list[str] = []
    if weak:
        setup.append((("truncate", "-s", "16M", str(d / "patient-data.img")), ""))
        setup.append((("mkfs.ext4", "-q", "-F", "-L", "patient-data", str(d / "patient-data.img")), ""))
        write(d / "os-release", DEBIAN_10_RELEASE)
        mounts += ["mount -t tmpfs -o size=1m,mode=0755 tmpfs /srv", "mkdir /srv/patient-data",
                   f"mount -o loop {d}/patient-data.img /srv/patient-data",
                   f"mount --bind {d}/os-release /usr/lib/os-release"]
    else:
        write(d / "lsblk.json", json.dumps(LUKS_LAPTOP, indent=3) + "\n")
        write(d / "lsblk", f"#!/bin/sh\n# lab stand-in: this kernel has no device-mapper\nexec cat {d}/lsblk.json\n",
              mode=0o755)
        write(d / "rules.nft", GOOD_RULESET)
        setup.append((("nft", "-f", str(d / "rules.nft")), ""))
        (d / "clamdb").mkdir(exist_ok=True)
        write(d / "clamdb" / "lab.hdb", "56f91293d300465a81b3eb296d6578a4:22:gapscan-lab-sample\n")
        write(d / "clamd.conf", f"DatabaseDirectory {d}/clamdb\nLocalSocket {d}/clamd.sock\nForeground yes\n"
              f"User root\nLogFile {d}/clamd.log\n")
        # /usr/bin of this laptop: the lab machine's, with lsblk replaced and the machine's own
        # syncthing (installed for the sync host) hidden by an overlayfs whiteout (a 0/0 char device).
        (d / "usrbin").mkdir(exist_ok=True)
        write(d / "usrbin" / "lsblk", (d / "lsblk").read_text(), mode=0o755)
        if not (d / "usrbin" / "syncthing").exists():
            os.mknod(d / "usrbin" / "syncthing", 0o600 | stat.S_IFCHR, os.makedev(0, 0))
        mounts.append(f"mount -t overlay overlay -o lowerdir={d}/usrbin:/usr/bin /usr/bin")
        extra.append(f"clamd -c {d}/clamd.conf &")
    init = write(d / "init.sh", "#!/bin/sh\nset -eu\n" + "\n".join(mounts + extra)
                 + f"\nexec /usr/sbin/sshd -D -e -f {d}/sshd_config\n", mode=0o755)
    return [
        DaemonSpec(
            host=host.name,
            kinds=("endpoint-sshd",),
            namespace=host.namespace,
            # Own mount and PID namespaces; --kill-child: stopping our PID ends the whole endpoint.
            argv=("unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--", "/bin/sh", str(init)),
            console=d / "console.log",
            setup=tuple(setup),
        )
    ]
