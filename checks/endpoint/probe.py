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

COMMAND_TIMEOUT = 20.0
UNAME = Command("uname", ("uname", "-s"))
HOME = Command("home", ("printenv", "HOME"))
SECTIONS = ("os", "disk", "screen_lock", "firewall", "antimalware", "sync_clients", "backup", "patches", "accounts",
            "software")


@dataclass(frozen=True)
class EndpointFacts:
    host: str
    credential: str | None = None  # Credential.describe(): name, kind, user — never the secret
    inventory: EndpointInventory | None = None
    host_key: HostKeyCheck | None = None
    no_credentials: str | None = None  # why no collection was attempted
    refused: str | None = None  # the host-key refusal, in words
    # The limits (screen lock, backup age, patch delays, account policy) are not facts: each check
    # declares them as its settings (CheckMeta.settings_model) and judges these facts against them.


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
        base = EndpointFacts(host=target.host)
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
