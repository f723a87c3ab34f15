"""Linux: the read-only commands the SSH collector runs, and pure parsers of their output.

Disk encryption (45 CFR 164.312(a)(2)(iv)): a mounted filesystem or swap counts as encrypted
when it sits, anywhere below it in the block-device tree, on a dm-crypt mapping (``lsblk``
TYPE ``crypt``; the kernel names every dm-crypt device with a ``CRYPT-`` uuid, so this does
not depend on udev having probed FSTYPE). /boot and the EFI partition are left out (they hold
no ePHI and usually cannot be encrypted); read-only squashfs images (snaps) likewise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from . import accounts_linux, av_products, backup_linux, patches_linux, software, sync_clients
from .accounts_linux import parse_accounts
from .backup_linux import parse_backup
from .commands import Command, CommandResult, Results, need
from .inventory import (
    AntiMalware,
    AntiMalwareProduct,
    DiskEncryption,
    EncryptionState,
    Firewall,
    Observation,
    OsFamily,
    OsInfo,
    ScreenLock,
    Software,
    SyncClients,
    SyncClientSeen,
    Unknown,
    Volume,
)

LSBLK = Command("lsblk", ("lsblk", "-J", "-o", "NAME,KNAME,TYPE,FSTYPE,MOUNTPOINT,SIZE,RO"))
FINDMNT = Command("findmnt", ("findmnt", "-J", "-n", "-o", "TARGET,SOURCE,FSTYPE", "/"))
OS_RELEASE = Command("os_release", ("cat", "/etc/os-release"))
PS = Command("ps", ("ps", "-eo", "comm="))
NFT = Command("nft", ("nft", "list", "ruleset"), root=True)
UFW = Command("ufw", ("ufw", "status"), root=True)
FIREWALLD = Command("firewalld", ("firewall-cmd", "--state"))
SESSIONS = Command("sessions", ("ls", "-1", "/usr/share/xsessions", "/usr/share/wayland-sessions"))
GNOME_LOCK = Command("gnome_lock", ("gsettings", "get", "org.gnome.desktop.screensaver", "lock-enabled"))
GNOME_IDLE = Command("gnome_idle", ("gsettings", "get", "org.gnome.desktop.session", "idle-delay"))
GNOME_DELAY = Command("gnome_delay", ("gsettings", "get", "org.gnome.desktop.screensaver", "lock-delay"))
HOMES = Command("homes", ("ls", "-1", "/home"))
CLAMAV_DB = Command("clamav_db", ("ls", "-l", "--time-style=+%Y-%m-%d", "/var/lib/clamav"))
# The endpoint's clock and UTC offset: logs (apt history, borg archives) are in local time.
CLOCK = Command("clock", ("date", "+%Y-%m-%dT%H:%M:%S%z"))

COMMANDS: tuple[Command, ...] = (LSBLK, FINDMNT, OS_RELEASE, PS, NFT, UFW, FIREWALLD, SESSIONS, GNOME_LOCK,
                                 GNOME_IDLE, GNOME_DELAY, HOMES, CLAMAV_DB, CLOCK, *backup_linux.COMMANDS,
                                 *patches_linux.COMMANDS, *accounts_linux.COMMANDS, software.DPKG)
parse_patches = patches_linux.parse_patches
__all__ = ["COMMANDS", "followups", "parse_accounts", "parse_antimalware", "parse_backup", "parse_disk",
           "parse_firewall", "parse_os", "parse_patches", "parse_screen_lock", "parse_software",
           "parse_sync_clients"]

KDE_SYSTEM_FILE = "/etc/xdg/kscreenlockerrc"
SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
NOT_DATA = ("/boot", "/boot/efi", "/efi")


def parse_software(results: Results) -> Software:
    return software.parse_dpkg(results)


def followups(results: Results, login_home: str | None,
              restic_passwords: tuple[tuple[str, str], ...] = ()) -> tuple[Command, ...]:
    """Commands that depend on the first round: crypt status per mapping, sync paths per home,
    one listing per backup repository (``restic_passwords``: (repository, password file) pairs the
    credentials file names)."""
    out: list[Command] = list(backup_linux.followups(results, restic_passwords))
    lsblk = results.get("lsblk")
    if lsblk is not None and lsblk.ok:
        try:
            devices = json.loads(lsblk.stdout).get("blockdevices", [])
        except (ValueError, AttributeError):
            devices = []
        for node in _walk(devices):
            name = str(node.get("name") or "")
            if node.get("type") == "crypt" and SAFE_NAME.match(name):
                out.append(Command(f"cryptsetup:{name}", ("cryptsetup", "status", name), root=True))
    homes = []
    home_list = results.get("homes")
    if home_list is not None and home_list.ok:
        homes = [f"/home/{h}" for h in home_list.stdout.splitlines() if SAFE_NAME.match(h)][:50]
    if login_home and re.fullmatch(r"/[A-Za-z0-9._/-]{1,200}", login_home) and login_home not in homes:
        homes.append(login_home)
    paths = list(sync_clients.PROBE_PATHS.get(OsFamily.LINUX, ()))
    concrete = [p for p in paths if not p.startswith("~")]
    for home in homes:
        concrete += [home + p[1:] for p in paths if p.startswith("~")]
        concrete.append(f"{home}/.config/autostart")
    concrete.append("/etc/xdg/autostart")
    # Other users' homes are private (Debian 12 creates them 0700): list them as root when allowed.
    out.append(Command("sync_paths", ("ls", "-1d", *concrete), prefer_root=True))
    if login_home and re.fullmatch(r"/[A-Za-z0-9._/-]{1,200}", login_home):
        # KDE Plasma's screen locker settings: the system default, then the account's own file.
        out.append(Command("kde_lock", ("cat", KDE_SYSTEM_FILE, f"{login_home}/.config/kscreenlockerrc")))
    autostart_dirs = [f"{h}/.config/autostart" for h in homes] + ["/etc/xdg/autostart"]
    out.append(Command("autostart", ("ls", "-1", *autostart_dirs)))
    return tuple(out)


def _walk(nodes: Any, parents: tuple[dict[str, Any], ...] = ()) -> Iterator[dict[str, Any]]:
    if not isinstance(nodes, list):
        return
    for node in nodes:
        if isinstance(node, dict):
            yield node
            yield from _walk(node.get("children"), (*parents, node))


def _chains(nodes: Any, parents: tuple[dict[str, Any], ...] = ()) -> Iterator[tuple[dict[str, Any], ...]]:
    """Every node with the devices it sits on (outermost disk first)."""
    if not isinstance(nodes, list):
        return
    for node in nodes:
        if isinstance(node, dict):
            yield (*parents, node)
            yield from _chains(node.get("children"), (*parents, node))


def _crypt_method(results: Results, name: str) -> str:
    status = results.get(f"cryptsetup:{name}")
    if status is None or not status.ok:
        return "dm-crypt"
    fields = dict(re.findall(r"^\s*(type|cipher|keysize):\s*(.+?)\s*$", status.stdout, re.M))
    parts = [fields.get("type", "dm-crypt"), fields.get("cipher", ""), fields.get("keysize", "")]
    return " ".join(p for p in parts if p)


def parse_disk(results: Results) -> DiskEncryption:
    lsblk = need(results, "lsblk")
    observations = [lsblk.observation()]
    try:
        devices = json.loads(lsblk.stdout)["blockdevices"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Unknown(f"lsblk -J output is not the expected JSON ({exc.__class__.__name__})") from exc
    volumes: list[Volume] = []
    mounted: set[str] = set()
    for chain in _chains(devices):
        node = chain[-1]
        mount = node.get("mountpoint")
        if not mount or mount in NOT_DATA or str(node.get("name", "")).startswith("zram"):
            continue
        if node.get("fstype") == "squashfs" or (node.get("type") == "loop" and str(mount).startswith("/snap/")):
            continue
        mounted.add(str(mount))
        crypt = next((n for n in reversed(chain) if n.get("type") == "crypt"), None)
        under = " → ".join(str(n.get("name")) for n in chain)
        if crypt is not None:
            name = str(crypt.get("name"))
            volumes.append(Volume(name=str(node.get("name")), mountpoint=str(mount), state=EncryptionState.ENCRYPTED,
                                  size=node.get("size"), fstype=node.get("fstype"),
                                  method=_crypt_method(results, name), note=f"on dm-crypt mapping {name} ({under})"))
        else:
            volumes.append(Volume(name=str(node.get("name")), mountpoint=str(mount),
                                  state=EncryptionState.NOT_ENCRYPTED, size=node.get("size"),
                                  fstype=node.get("fstype"), note=f"no dm-crypt layer ({under})"))
    for key, result in results.items():
        if key.startswith("cryptsetup:"):
            observations.append(result.observation())
    if "/" not in mounted:
        # The root filesystem is not on a block device lsblk shows (ZFS, btrfs subvolume,
        # overlay, a container): say what it is and that it was not judged.
        root = results.get("findmnt")
        if root is not None:
            observations.append(root.observation())
        what = _findmnt_root(root)
        volumes.append(Volume(name=what or "?", mountpoint="/", state=EncryptionState.UNKNOWN,
                              note=f"root filesystem {what or 'unknown'} is not on a block device lsblk lists; "
                                   "its encryption was not judged"))
    if not volumes:
        raise Unknown("lsblk lists no mounted filesystem")
    return DiskEncryption(volumes=tuple(volumes), observations=tuple(observations))


def _findmnt_root(result: CommandResult | None) -> str | None:
    if result is None or not result.ok:
        return None
    try:
        fs = json.loads(result.stdout)["filesystems"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return f"{fs.get('source')} ({fs.get('fstype')})"


def parse_os(results: Results) -> OsInfo:
    release = need(results, "os_release")
    values: dict[str, str] = {}
    for line in release.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Z_]+", key):
            values[key] = value.strip().strip('"').strip("'")
    if "ID" not in values:
        raise Unknown("/etc/os-release has no ID= line")
    return OsInfo(family=OsFamily.LINUX, name=values.get("PRETTY_NAME") or values["ID"], product_id=values["ID"],
                  version=values.get("VERSION_ID", ""), build=values.get("VERSION_CODENAME"),
                  observations=(release.observation(),))


def _processes(results: Results) -> list[str]:
    return [line.strip() for line in need(results, "ps").stdout.splitlines() if line.strip()]


def parse_antimalware(results: Results) -> AntiMalware:
    ps = need(results, "ps")
    products: dict[str, AntiMalwareProduct] = {}
    for name in _processes(results):
        product = av_products.match_av_process(name, OsFamily.LINUX)
        if product and product not in products:
            products[product] = AntiMalwareProduct(name=product, running=True, how=f"process {name}")
    observations = [ps.observation()]
    clam = results.get("clamav_db")
    if "ClamAV" in products and clam is not None:
        observations.append(clam.observation())
        newest = sorted(re.findall(r"(\d{4}-\d{2}-\d{2}) (?:daily|main|bytecode)\.c[lv]d", clam.stdout))
        if newest:
            products["ClamAV"] = AntiMalwareProduct(name="ClamAV", running=True, how=products["ClamAV"].how +
                                                    f"; newest official signature file dated {newest[-1]}")
    return AntiMalware(products=tuple(products.values()), observations=tuple(observations))


def parse_firewall(results: Results) -> Firewall:
    """Inbound filtering is on when an input-hook base chain drops by policy or by rule."""
    observations = []
    reasons = []
    for key in ("nft", "ufw", "firewalld"):
        result = results.get(key)
        if result is not None:
            observations.append(result.observation())
    ufw = results.get("ufw")
    if ufw is not None and ufw.ok and re.search(r"^Status: active", ufw.stdout, re.M):
        return Firewall(tuple(observations), enabled=True, detail="ufw: Status: active")
    firewalld = results.get("firewalld")
    if firewalld is not None and firewalld.ok and firewalld.stdout.strip() == "running":
        return Firewall(tuple(observations), enabled=True, detail="firewalld: running")
    nft = results.get("nft")
    if nft is None or not nft.ok:
        reasons.append(nft.why_failed() if nft is not None else "nft: not collected")
        raise Unknown("cannot read the packet filter: " + "; ".join(reasons))
    chains = _input_chains(nft.stdout)
    filtering = [c for c in chains if c[1] == "drop" or c[2]]
    if filtering:
        desc = "; ".join(f"{name} policy {policy}" + (", drop/reject rules" if rules else "")
                         for name, policy, rules in filtering)
        return Firewall(tuple(observations), enabled=True, detail=f"nftables input filtering: {desc}")
    if chains:
        desc = "; ".join(f"{name} policy {policy}" for name, policy, _ in chains)
        return Firewall(tuple(observations), enabled=False,
                        detail=f"nftables input chains accept everything ({desc})")
    return Firewall(tuple(observations), enabled=False, detail="nftables: no input filter chain (empty ruleset)")


def _input_chains(ruleset: str) -> list[tuple[str, str, bool]]:
    """(table/chain, policy, has drop/reject rules) for each base chain on the input hook."""
    found: list[tuple[str, str, bool]] = []
    table = ""
    chain: str | None = None
    body: list[str] = []
    depth = 0
    for raw in ruleset.splitlines():
        line = raw.strip()
        if depth == 0 and line.startswith("table "):
            table = " ".join(line.split()[1:3]).rstrip(" {")
        if line.startswith("chain ") and line.endswith("{"):
            chain = line.split()[1]
            body = []
        elif chain is not None and line == "}":
            text = "\n".join(body)
            hook = re.search(r"type filter hook input\b.*?(?:policy (\w+))?;", text)
            if hook:
                policy = re.search(r"policy (\w+);", text)
                rules = bool(re.search(r"^\s*(?!type ).*\b(drop|reject)\b", text, re.M))
                found.append((f"{table} {chain}", policy.group(1) if policy else "accept", rules))
            chain = None
        elif chain is not None:
            body.append(line)
        depth += line.count("{") - line.count("}")
    return found


def parse_screen_lock(results: Results) -> ScreenLock:
    sessions = results.get("sessions")
    observations = [r.observation() for k, r in results.items() if k in ("sessions", "gnome_lock", "gnome_idle",
                                                                          "gnome_delay")]
    listed = sessions.stdout.split() if sessions is not None else []
    desktops = [s for s in listed if s.endswith(".desktop")]
    if not desktops:
        return ScreenLock(tuple(observations), not_applicable="no graphical session type installed "
                          "(/usr/share/xsessions, /usr/share/wayland-sessions empty or absent): no screen to lock")
    if not any("gnome" in d or "ubuntu" in d or "pop" in d for d in desktops):
        if any("plasma" in d or "kde" in d for d in desktops):
            return _kde_screen_lock(results, tuple(observations))
        raise Unknown(f"desktop sessions {', '.join(desktops)}: only GNOME and KDE Plasma settings are read")
    lock_result, idle_result = need(results, "gnome_lock"), need(results, "gnome_idle")
    if any("memory' GSettings backend" in r.stderr for r in (lock_result, idle_result)):
        # Without the dconf backend gsettings prints the schema defaults (lock on, 5 min), not
        # anybody's settings: reading them as the machine's state would be a false PASS.
        raise Unknown("gsettings fell back to its 'memory' backend (dconf backend not installed): "
                      "it shows schema defaults, not the account's settings")
    lock = lock_result.stdout.strip()
    idle = idle_result.stdout.strip()
    delay_result = results.get("gnome_delay")
    if lock not in ("true", "false"):
        raise Unknown(f"gsettings lock-enabled printed {lock[:60]!r}")
    match = re.fullmatch(r"(?:uint32 )?(\d+)", idle)
    if not match:
        raise Unknown(f"gsettings idle-delay printed {idle[:60]!r}")
    idle_s = int(match.group(1))
    delay = 0
    if delay_result is not None and delay_result.ok:
        found = re.fullmatch(r"(?:uint32 )?(\d+)", delay_result.stdout.strip())
        delay = int(found.group(1)) if found else 0
    return ScreenLock(tuple(observations), lock_enabled=lock == "true",
                      idle_seconds=None if idle_s == 0 else idle_s + delay,
                      source="GNOME settings of the collecting account (gsettings: screensaver lock-enabled, "
                             "session idle-delay + screensaver lock-delay)")


def _kde_screen_lock(results: Results, observations: tuple[Observation, ...]) -> ScreenLock:
    """KDE Plasma: ``kscreenlockerrc`` [Daemon] Autolock (default true), Timeout in minutes
    (default 5) and LockGrace in seconds (default 5: unlocking without a password until then), per
    the kscreenlocker configuration schema (kscreenlockersettings.kcfg). A missing file means the
    defaults; the account's file overrides the system one (KConfig cascading)."""
    conf = results.get("kde_lock")
    if conf is None or conf.not_run or conf.exit_status not in (0, 1):
        raise Unknown(conf.why_failed() if conf is not None else "kscreenlockerrc not collected")
    values: dict[str, str] = {}
    group = ""
    for raw in conf.stdout.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
        elif group == "Daemon" and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip().split("[", 1)[0]] = value.strip()
    try:
        autolock = values.get("Autolock", "true").lower()
        timeout_min = int(values.get("Timeout", "5"))
        grace = int(values.get("LockGrace", "5"))
    except ValueError as exc:
        raise Unknown(f"kscreenlockerrc has a value this parser does not read ({exc})") from exc
    if autolock not in ("true", "false"):
        raise Unknown(f"kscreenlockerrc Autolock={autolock[:20]!r}")
    return ScreenLock((*observations, conf.observation()), lock_enabled=autolock == "true",
                      idle_seconds=None if timeout_min <= 0 else timeout_min * 60 + max(grace, 0),
                      source="KDE Plasma kscreenlockerrc of the collecting account (Autolock, Timeout + LockGrace)")


def parse_sync_clients(results: Results) -> SyncClients:
    seen: dict[tuple[str, str], SyncClientSeen] = {}
    observations = []
    ps = results.get("ps")
    if ps is not None and ps.ok:
        observations.append(ps.observation())
        for name in _processes(results):
            spec = sync_clients.match_process(name, OsFamily.LINUX)
            if spec is not None:
                seen.setdefault((spec.name, "process"), SyncClientSeen(spec.name, "process", name))
    paths = results.get("sync_paths")
    if paths is None or paths.exit_status not in (0, 1, 2):
        why = paths.why_failed() if paths is not None else "sync paths not collected"
        raise Unknown(why)
    observations.append(paths.observation())
    hidden = re.findall(r"cannot access '([^']+)': Permission denied", paths.stderr)
    if hidden:
        # Not seeing inside a home is not "no client there": no verdict rather than a false PASS.
        raise Unknown(f"permission denied listing {', '.join(hidden[:5])}{' …' if len(hidden) > 5 else ''}: "
                      "allow sudo for `ls -1d` in this credential, or use an administrator account")
    for line in paths.stdout.splitlines():
        spec = sync_clients.match_path(line.strip(), OsFamily.LINUX)
        if spec is not None:
            seen.setdefault((spec.name, "install path"), SyncClientSeen(spec.name, "install path", line.strip()))
    autostart = results.get("autostart")
    if autostart is not None and autostart.exit_status in (0, 1, 2):
        observations.append(autostart.observation())
        for line in autostart.stdout.splitlines():
            spec = sync_clients.match_autostart(line.strip(), OsFamily.LINUX)
            if spec is not None:
                seen.setdefault((spec.name, "autostart entry"),
                                SyncClientSeen(spec.name, "autostart entry", line.strip()))
    return SyncClients(seen=tuple(seen.values()), observations=tuple(observations))

