"""macOS: the read-only commands the SSH collector runs, and pure parsers of their output.

Every parser takes the ``CommandResult`` mapping (keyed by ``Command.key``) and returns one
inventory section, or raises ``Unknown`` when the output is missing, failed or not in a format
documented below. Output formats are the ones Apple's tools print in English; the collector
runs them under ``LC_ALL=C``, but a tool that still prints a localised or otherwise unrecognised
line makes the parser raise ``Unknown`` — never a guessed "on" or "off". Where each format comes
from is written down in ``tests/fixtures/endpoint/macos/README.md``.
"""

from __future__ import annotations

import re

from . import macos_more
from .av_products import match_av_process
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
    SyncClients,
    SyncClientSeen,
    Unknown,
    Volume,
)
from .sync_clients import PROBE_PATHS, match_path, match_process

XPROTECT_INFO = "/Library/Apple/System/Library/CoreServices/XProtect.bundle/Contents/Info"
SOCKETFILTERFW = "/usr/libexec/ApplicationFirewall/socketfilterfw"

# Absolute probe paths only: "~" is not an allowed command word, and the macOS probe list has
# nothing under the home directory that /Applications and the process list do not already show.
_ABSOLUTE_PROBES = tuple(p for p in PROBE_PATHS[OsFamily.MACOS] if p.startswith("/"))

COMMANDS: tuple[Command, ...] = (
    Command("sw_vers", ("sw_vers",)),
    # fdesetup(8): "Some status related commands can be run from a non-root session."
    Command("fdesetup", ("fdesetup", "status")),
    # sysadminctl(8), macOS 13+: prints the password-after-sleep/screen-saver delay (to stderr).
    Command("screenlock", ("sysadminctl", "-screenLock", "status")),
    Command("idletime", ("defaults", "-currentHost", "read", "com.apple.screensaver", "idleTime")),
    # pmset(1) -g: the active power profile, including "displaysleep <minutes>".
    Command("pmset", ("pmset", "-g")),
    Command("firewall", (SOCKETFILTERFW, "--getglobalstate")),
    Command("xprotect", ("defaults", "read", XPROTECT_INFO, "CFBundleShortVersionString")),
    Command("ps", ("ps", "-axco", "comm")),
    Command("applications", ("ls", "-1", "/Applications")),
    Command("sync_paths", ("ls", "-d", *_ABSOLUTE_PROBES)),
    *macos_more.COMMANDS,
)
parse_backup = macos_more.parse_backup
parse_patches = macos_more.parse_patches
parse_accounts = macos_more.parse_accounts
parse_software = macos_more.parse_software
followups = macos_more.followups


def _obs(*results: CommandResult | None) -> tuple[Observation, ...]:
    return tuple(r.observation() for r in results if r is not None)


# --- OS -------------------------------------------------------------------------------------


def parse_os(results: Results) -> OsInfo:
    """``sw_vers``: "ProductName: macOS", "ProductVersion: 14.6.1", "BuildVersion: 23G93"."""
    res = need(results, "sw_vers")
    fields: dict[str, str] = {}
    for line in res.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    product, version = fields.get("ProductName", ""), fields.get("ProductVersion", "")
    if not version or not re.fullmatch(r"\d+(?:\.\d+)*", version):
        raise Unknown(f"sw_vers: no ProductVersion in the output ({res.stdout.strip()[:80]!r})")
    if "mac" not in product.lower():  # "macOS", older "Mac OS X"
        raise Unknown(f"sw_vers: ProductName {product!r} is not macOS")
    extra = fields.get("ProductVersionExtra")  # Rapid Security Response suffix, e.g. "(a)"
    name = f"{product} {version}" + (f" {extra}" if extra else "")
    return OsInfo(family=OsFamily.MACOS, name=name, product_id="macos", version=version,
                  build=fields.get("BuildVersion") or None, observations=_obs(res))


# --- FileVault ------------------------------------------------------------------------------

_PROGRESS = re.compile(r"^(Encryption|Decryption) in progress:?\s*(?:Percent completed = ([\d.]+)|(Pending))?",
                       re.MULTILINE | re.IGNORECASE)


def parse_disk(results: Results) -> DiskEncryption:
    """``fdesetup status`` for the boot volume.

    "FileVault is On." / "FileVault is Off." decide; an "Encryption in progress: Percent
    completed = N" (or "...: Pending" on battery) or "Decryption in progress: ..." line means the
    volume is not yet (or no longer) fully protected; "FileVault is Off, but will be enabled after
    the next restart." and "Deferred enablement appears to be active for user ..." are deferred
    enablements: still not encrypted. Anything else (another wording, another language, "FileVault
    is On" without the exact sentence) is ``Unknown``.
    """
    res = need(results, "fdesetup")
    text = res.stdout.strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    progress = _PROGRESS.search(text)
    if progress:
        direction, percent, pending = progress.group(1), progress.group(2), progress.group(3)
        state = EncryptionState.IN_PROGRESS
        note = f"{direction.lower()} in progress" + (f", {percent}% completed" if percent else "")
        note += " (pending: waits for AC power)" if pending else ""
    elif "FileVault is On." in lines:
        state, note = EncryptionState.ENCRYPTED, "fdesetup: FileVault is On"
    elif "FileVault is Off." in lines:
        state, note = EncryptionState.NOT_ENCRYPTED, "fdesetup: FileVault is Off"
        if any(line.startswith("Deferred enablement appears to be active") for line in lines):
            note += "; deferred enablement pending for a user's next login"
    elif any(line.startswith("FileVault is Off, but will be enabled after the next restart") for line in lines):
        state, note = EncryptionState.NOT_ENCRYPTED, "FileVault enablement deferred until the next restart"
    else:
        raise Unknown(f"fdesetup status: unrecognised output {text[:120]!r}")
    volume = Volume(name="boot volume", mountpoint="/", state=state, method="FileVault", note=note)
    return DiskEncryption(volumes=(volume,), observations=_obs(res))


# --- Screen lock ----------------------------------------------------------------------------

_LOCK_OFF = re.compile(r"\bscreenLock is off\b")
_LOCK_IMMEDIATE = re.compile(r"\bscreenLock (?:delay )?is immediate\b")
_LOCK_DELAY = re.compile(r"\bscreenLock delay is (\d+) seconds?\b")
_DISPLAYSLEEP = re.compile(r"^\s*displaysleep\s+(\d+)\b", re.MULTILINE)


def _idle_time(res: CommandResult | None) -> int | None:
    """Screen-saver idle seconds; 0 means never. ``None``: the key is not set (default unknown)."""
    if res is None:
        raise Unknown("idletime: not collected")
    if res.ok:
        value = res.stdout.strip()
        if not value.isdigit():
            raise Unknown(f"defaults read com.apple.screensaver idleTime: not a number ({value[:40]!r})")
        return int(value)
    # defaults(1) exits 1 with "The domain/default pair of (...) does not exist" for an unset key.
    if res.not_run is None and res.exit_status == 1 and "does not exist" in (res.stderr + res.stdout):
        return None
    raise Unknown(res.why_failed())


def _display_sleep(res: CommandResult | None) -> int | None:
    """Display sleep in seconds from ``pmset -g`` (0 = never); ``None`` when not read."""
    if res is None or not res.ok:
        return None
    match = _DISPLAYSLEEP.search(res.stdout)
    return int(match.group(1)) * 60 if match else None


def parse_screen_lock(results: Results) -> ScreenLock:
    """Inactivity lock from ``sysadminctl -screenLock status`` plus the idle triggers.

    The session locks ``delay`` seconds after the screen saver starts or the display sleeps
    (System Settings > Lock Screen, "Require password after screen saver begins or display is
    turned off"). So the lock takes effect after min(screen-saver idleTime, displaysleep) +
    delay. An unset idleTime has no default Apple documents (the CIS benchmark's "20 minutes for
    new accounts" is not Apple's word), so it is not assumed: with display sleep known the value
    reported is an upper bound (the display sleep path locks by then), otherwise ``Unknown``.

    These are the settings of the account the collector logs on as (``-currentHost`` preferences
    and sysadminctl's report are per user); when that is not the person using the Mac, the
    check's evidence says whose settings were read (``EndpointInventory.account``).
    """
    res = need(results, "screenlock")
    text = res.stdout + "\n" + res.stderr  # sysadminctl logs to stderr
    idle_res, pm_res = results.get("idletime"), results.get("pmset")
    observations = _obs(res, idle_res, pm_res)
    if _LOCK_OFF.search(text):
        return ScreenLock(observations=observations, lock_enabled=False, idle_seconds=None,
                          source="macOS sysadminctl -screenLock: off (no password after sleep/screen saver)")
    if _LOCK_IMMEDIATE.search(text):
        delay = 0
    elif match := _LOCK_DELAY.search(text):
        delay = int(match.group(1))
    else:
        raise Unknown(f"sysadminctl -screenLock status: unrecognised output {text.strip()[:120]!r}")

    idle = _idle_time(idle_res)
    display = _display_sleep(pm_res)
    triggers = [t for t in (idle, display) if t]  # 0 means "never" for both
    parts = [f"password {delay} s after screen saver/display sleep",
             "screen saver never" if idle == 0 else ("screen saver idleTime not set" if idle is None
                                                     else f"screen saver after {idle} s"),
             "display sleep not read" if display is None else ("display never sleeps" if display == 0
                                                               else f"display sleep after {display} s")]
    source = "macOS screen saver / display sleep (" + "; ".join(parts) + ")"
    if not triggers:
        if idle is None or display is None:
            raise Unknown("macOS screen lock: " + "; ".join(parts[1:]) + " — when the lock starts cannot be decided")
        return ScreenLock(observations=observations, lock_enabled=True, idle_seconds=None, source=source)
    if idle is None:
        source += "; upper bound: the display-sleep lock applies by then"
    return ScreenLock(observations=observations, lock_enabled=True, idle_seconds=min(triggers) + delay,
                      source=source)


# --- Firewall -------------------------------------------------------------------------------

_FW_WORD = re.compile(r"\bFirewall is (enabled|disabled)\b")
_FW_STATE = re.compile(r"\(State = (\d)\)")
_FW_BLOCK_ALL = re.compile(r"\bFirewall is blocking all non-essential incoming connections\b")


def parse_firewall(results: Results) -> Firewall:
    """``socketfilterfw --getglobalstate``: "Firewall is enabled. (State = 1)", "Firewall is
    disabled. (State = 0)", state 2 = block all incoming; newer releases may omit "(State = n)".
    """
    res = need(results, "firewall")
    text = res.stdout.strip()
    word, state = _FW_WORD.search(text), _FW_STATE.search(text)
    by_state = {"0": False, "1": True, "2": True}.get(state.group(1)) if state else None
    if state and by_state is None:
        raise Unknown(f"socketfilterfw: unknown global state {state.group(1)}")
    by_word: bool | None = None
    if word:
        by_word = word.group(1) == "enabled"
    elif _FW_BLOCK_ALL.search(text):
        by_word = True
    if by_word is None and by_state is None:
        raise Unknown(f"socketfilterfw --getglobalstate: unrecognised output {text[:120]!r}")
    if by_word is not None and by_state is not None and by_word != by_state:
        raise Unknown(f"socketfilterfw --getglobalstate: contradictory output {text[:120]!r}")
    enabled = by_state if by_state is not None else by_word
    detail = "Application Firewall " + ("enabled" if enabled else "disabled")
    if state:
        detail += f" (State = {state.group(1)}" + (", block all incoming" if state.group(1) == "2" else "") + ")"
    return Firewall(observations=_obs(res), enabled=enabled, detail=detail)


# --- Anti-malware ---------------------------------------------------------------------------


def _processes(res: CommandResult) -> list[str]:
    """Process names from ``ps -axco comm`` (first line is the "COMM" header)."""
    names = [line.strip() for line in res.stdout.splitlines() if line.strip()]
    if names and names[0].upper() == "COMM":
        names = names[1:]
    if not names:
        raise Unknown("ps -axco comm: empty process list")
    return names


def parse_antimalware(results: Results) -> AntiMalware:
    """Third-party agents by running process (``av_products``), plus XProtect as the baseline.

    XProtect is Apple's built-in signature scanner (Apple Platform Security, "Protecting against
    malware in macOS"): it checks apps at first launch and when they change, and its definitions
    update separately from the OS. It is listed as a product with its bundle version but without
    a running/up-to-date verdict: we cannot tell from the version alone whether it is current.
    """
    ps = need(results, "ps")
    xp = results.get("xprotect")
    products: list[AntiMalwareProduct] = []
    if xp is not None and xp.ok and re.fullmatch(r"\d+(?:\.\d+)*", xp.stdout.strip()):
        products.append(AntiMalwareProduct(
            name="XProtect", running=None, up_to_date=None,
            how=f"built-in macOS baseline, bundle version {xp.stdout.strip()} (scans apps at launch; "
                "not a full anti-malware product)"))
    seen: set[str] = set()
    for proc in _processes(ps):
        product = match_av_process(proc, OsFamily.MACOS)
        if product and product not in seen:
            seen.add(product)
            products.append(AntiMalwareProduct(name=product, running=True, up_to_date=None, how=f"process {proc}"))
    return AntiMalware(products=tuple(products), observations=_obs(ps, xp))


# --- Sync clients ---------------------------------------------------------------------------


def parse_sync_clients(results: Results) -> SyncClients:
    """Consumer sync clients from the process list, ``/Applications`` and the probe paths.

    ``ls -d`` of paths that do not exist exits non-zero and complains on stderr: that is the
    expected answer for a clean Mac, so only a result that was not run at all is an error.
    """
    ps = need(results, "ps")
    apps = need(results, "applications")
    probe = results.get("sync_paths")
    if probe is None:
        raise Unknown("sync_paths: not collected")
    if probe.not_run or probe.exit_status not in (0, 1, 2):
        raise Unknown(probe.why_failed())
    seen: dict[tuple[str, str, str], SyncClientSeen] = {}

    def add(client: str, how: str, where: str) -> None:
        seen.setdefault((client, how, where), SyncClientSeen(client=client, how=how, where=where))

    for proc in _processes(ps):
        spec = match_process(proc, OsFamily.MACOS)
        if spec and spec.presence_is_finding(OsFamily.MACOS):
            add(spec.name, "process", proc)
    for entry in apps.stdout.splitlines():
        entry = entry.strip().rstrip("/")
        path = entry if entry.startswith("/") else f"/Applications/{entry}"
        spec = match_path(path, OsFamily.MACOS) if entry else None
        if spec and spec.presence_is_finding(OsFamily.MACOS):
            add(spec.name, "install path", path)
    for line in probe.stdout.splitlines():
        spec = match_path(line.strip(), OsFamily.MACOS) if line.strip() else None
        if spec and spec.presence_is_finding(OsFamily.MACOS):
            add(spec.name, "install path", line.strip())
    return SyncClients(seen=tuple(seen.values()), observations=_obs(ps, apps, probe))
