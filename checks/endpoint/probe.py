"""The credentialed endpoint probe: one collection per host, shared by every endpoint check.

Which collector runs is decided by the credentials file, not by guessing: a host covered by a
``kind: ssh`` credential set is collected over SSH (Linux or macOS, told apart by ``uname -s``),
one covered by ``kind: windows`` over SMB/RPC (remote registry, WMI). A host no credential set
covers yields facts that say so, and every endpoint check is then ``skipped/no_credentials``.

Failures keep their meaning: refused credentials are ``error/auth_failed``; a changed SSH host
key is a refusal to log on (no secret is sent), reported by ``endpoint.ssh_host_key_changed``
and as ``error/host_key_changed`` by the other checks; a section that could not be read (a
command missing, sudo refused, output in another locale) is recorded with its reason, and the
check that needs it says ``error`` — never PASS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from scanner.check import Probe, ProbeContext
from scanner.credentials import Credential
from scanner.errors import ProbeError
from scanner.models import Target

from . import linux, macos
from .commands import Command, CommandResult
from .hostkeys import HostKeyCheck
from .inventory import EndpointInventory, Unknown
from .ssh import HostKeyRefused, SessionLimits, SshSession

DEFAULT_SCREEN_LOCK_MAX_MINUTES = 15.0
COMMAND_TIMEOUT = 20.0
UNAME = Command("uname", ("uname", "-s"))
HOME = Command("home", ("printenv", "HOME"))
SECTIONS = ("os", "disk", "screen_lock", "firewall", "antimalware", "sync_clients", "backup", "patches", "accounts",
            "software")


@dataclass(frozen=True)
class EndpointFacts:
    host: str
    screen_lock_max_seconds: int
    credential: str | None = None  # Credential.describe(): name, kind, user — never the secret
    inventory: EndpointInventory | None = None
    host_key: HostKeyCheck | None = None
    no_credentials: str | None = None  # why no collection was attempted
    refused: str | None = None  # the host-key refusal, in words
    # The profile's limits for the backup, patch and account checks (defaults: DEFAULT_LIMITS).
    backup_max_age_hours: float = 48.0
    patch_critical_days: float = 15.0
    patch_other_days: float = 30.0
    patch_max_days_without_update: float = 30.0
    accounts_min_password_length: int = 8
    accounts_max_failed_logons: int = 10


# (check id, setting, EndpointFacts field): the profile's ``settings: {<check id>: {<setting>: N}}``.
LIMIT_SETTINGS = (
    ("endpoint.backup_stale", "max_age_hours", "backup_max_age_hours"),
    ("endpoint.patches_pending", "critical_days", "patch_critical_days"),
    ("endpoint.patches_pending", "other_days", "patch_other_days"),
    ("endpoint.patches_pending", "max_days_without_update", "patch_max_days_without_update"),
    ("endpoint.accounts_weak", "min_password_length", "accounts_min_password_length"),
    ("endpoint.accounts_weak", "max_failed_logons", "accounts_max_failed_logons"),
)


def limits_from(ctx: ProbeContext) -> dict[str, Any]:
    """The profile's limits as EndpointFacts fields; a missing or non-positive value keeps the default."""
    out: dict[str, Any] = {}
    for check_id, key, field_name in LIMIT_SETTINGS:
        value = ((ctx.settings or {}).get(check_id) or {})
        number = value.get(key) if isinstance(value, dict) else None
        if isinstance(number, int | float) and not isinstance(number, bool) and number > 0:
            out[field_name] = int(number) if field_name.startswith("accounts_") else float(number)
    return out


def _screen_lock_minutes(ctx: ProbeContext) -> float:
    """The profile's ``settings: {endpoint.screen_lock_missing: {max_minutes: N}}`` (default 15)."""
    value = (ctx.settings or {}).get("endpoint.screen_lock_missing") or {}
    minutes = value.get("max_minutes", DEFAULT_SCREEN_LOCK_MAX_MINUTES) if isinstance(value, dict) else None
    return float(minutes) if isinstance(minutes, int | float) and minutes > 0 else DEFAULT_SCREEN_LOCK_MAX_MINUTES


def assemble(module: ModuleType, results: dict[str, CommandResult], *, collector: str,
             account: str) -> EndpointInventory:
    """Run each section's parser; a parser that cannot decide leaves the section out, with why."""
    parsed: dict[str, Any] = {}
    missing: list[tuple[str, str]] = []
    for section in SECTIONS:
        parser: Callable[[dict[str, CommandResult]], Any] = getattr(module, f"parse_{section}")
        try:
            parsed[section] = parser(results)
        except Unknown as exc:
            parsed[section] = None
            missing.append((section, str(exc)))
    return EndpointInventory(collector=collector, missing=tuple(missing), account=account, **parsed)


def collect_over_ssh(host: str, cred: Credential, limits: SessionLimits, known_hosts: Any) -> tuple[
        EndpointInventory, HostKeyCheck | None]:
    with SshSession(host, cred, limits, known_hosts=known_hosts) as session:
        first = session.run_all((UNAME, HOME))
        kernel = first["uname"].stdout.strip() if first["uname"].ok else ""
        if kernel == "Linux":
            module: ModuleType = linux
            results = session.run_all(linux.COMMANDS)
            results.update(session.run_all(linux.followups(results, first["home"].stdout.strip() or None,
                                                           cred.restic_repositories)))
        elif kernel == "Darwin":
            module = macos
            results = session.run_all(macos.COMMANDS)
            results.update(session.run_all(macos.followups(results)))
        else:
            why = first["uname"].why_failed() if not first["uname"].ok else f"uname -s printed {kernel[:40]!r}"
            raise ProbeError(f"{host}: not a Linux or macOS system this collector knows ({why})")
        results["uname"] = first["uname"]
        return assemble(module, results, collector="ssh", account=cred.username), session.host_key


class EndpointCollector(Probe[EndpointFacts]):
    name = "endpoint"
    # ~20 commands (or registry reads and two WMI queries), each bounded by its own timeout.
    extra_seconds = 150.0

    @classmethod
    def applies(cls, target: Target) -> bool:
        return target.host is not None and target.port is None

    def collect(self, target: Target, ctx: ProbeContext) -> EndpointFacts:
        assert target.host is not None
        base = EndpointFacts(host=target.host, screen_lock_max_seconds=int(_screen_lock_minutes(ctx) * 60),
                             **limits_from(ctx))
        store = ctx.credentials
        if store is None:
            return _replace(base, no_credentials="no --credentials file was given for this scan")
        cred = store.for_host(target.host)
        if cred is None:
            # The file's name only: its directory is the technician's machine (often a temporary
            # one), which has no place in scan.json or the client's report.
            name = _file_name(store.source)
            return _replace(base, no_credentials=f"no credential set in {name} covers {target.host}")
        # A command's own timeout: generous (lsblk on a sleepy disk, ps on a loaded laptop).
        limits = SessionLimits(connect=ctx.timeouts.connect, command=max(ctx.timeouts.read, COMMAND_TIMEOUT))
        if cred.kind == "windows":
            inventory = _collect_windows(target.host, cred, limits)
            return _replace(base, credential=cred.describe(), inventory=inventory)
        try:
            inventory, key = collect_over_ssh(target.host, cred, limits, store.known_hosts)
        except HostKeyRefused as exc:
            return _replace(base, credential=cred.describe(), host_key=exc.check, refused=str(exc))
        return _replace(base, credential=cred.describe(), inventory=inventory, host_key=key)


def _collect_windows(host: str, cred: Credential, limits: SessionLimits) -> EndpointInventory:
    try:
        from .windows.collect import WindowsLogon, collect_windows
    except ImportError as exc:  # pragma: no cover - the module ships with the package
        raise ProbeError(f"Windows collector unavailable: {exc}") from None
    logon = WindowsLogon(username=cred.username, domain=cred.domain or "",
                         password=cred.password.reveal() if cred.password else None,
                         nt_hash=cred.nt_hash.reveal() if cred.nt_hash else None)
    return collect_windows(host, logon, limits.command)


def _replace(facts: EndpointFacts, **changes: Any) -> EndpointFacts:
    from dataclasses import replace

    return replace(facts, **changes)


def _file_name(source: str) -> str:
    """``/tmp/gapscan-x/credentials.yaml`` -> ``credentials.yaml`` (either slash: Windows paths too)."""
    return source.replace("\\", "/").rsplit("/", 1)[-1] or "the credentials file"
