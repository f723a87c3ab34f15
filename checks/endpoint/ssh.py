"""An SSH session that can run only the declared read-only commands (paramiko).

Order of events, each step bounded by a timeout: TCP connect, SSH handshake, host-key check
(``hostkeys.verify``: a changed key stops here, before any secret is sent), authentication
(public key or password from the credentials file), then one exec channel per declared
``Command`` under ``LC_ALL=C``. Output before a per-session random marker is discarded, so a
shell that prints a banner or a motd from .bashrc cannot confuse the parsers. Nothing here logs
or raises a message containing a secret: paramiko's own messages carry none, and ours name the
credential set only.
"""

from __future__ import annotations

import secrets
import shlex
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from scanner.credentials import Credential
from scanner.errors import ProbeError, ProbePermissionError, ProbeTimeout, ProtocolError, translate_os_error
from scanner.models import ErrorReason, utcnow

from .commands import Command, CommandResult
from .hostkeys import HostKeyCheck, verify

# Non-interactive SSH sessions often have no sbin directories on PATH (Debian: /usr/bin:/bin),
# where nft, cryptsetup and ufw live.
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STREAM_CAP = 256 * 1024  # bytes kept of one command's stdout/stderr
SUDO_REFUSED = ("a password is required", "not allowed to execute", "is not in the sudoers", "may not run sudo")


class HostKeyRefused(ProbeError):
    """The server's key is not the one on record (or not known when a known key is required)."""

    reason = ErrorReason.HOST_KEY_REFUSED

    def __init__(self, message: str, check: HostKeyCheck) -> None:
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class SessionLimits:
    connect: float = 5.0
    command: float = 20.0  # per command


class SshSession:
    """Use as a context manager; ``run()`` executes one declared command."""

    def __init__(self, host: str, cred: Credential, limits: SessionLimits, *, store: Path | None = None,
                 known_hosts: Path | None = None) -> None:
        self.host = host
        self.port = cred.port or 22
        self.cred = cred
        self.limits = limits
        self.store = store
        self.known_hosts = known_hosts
        self.transport: paramiko.Transport | None = None
        self.host_key: HostKeyCheck | None = None
        self.marker = "GAPSCAN-" + secrets.token_hex(6)

    def __enter__(self) -> SshSession:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def open(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.limits.connect)
        except OSError as exc:
            raise translate_os_error(exc, f"SSH {self.host}:{self.port}") from exc
        transport = paramiko.Transport(sock)
        self.transport = transport
        transport.banner_timeout = self.limits.connect
        transport.handshake_timeout = self.limits.connect * 2
        try:
            transport.start_client(timeout=self.limits.connect * 2)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            self.close()
            if isinstance(exc, socket.timeout):
                raise ProbeTimeout(f"SSH handshake with {self.host}:{self.port} timed out") from exc
            raise ProtocolError(f"SSH handshake with {self.host}:{self.port} failed: {exc}") from exc
        key = transport.get_remote_server_key()
        try:
            check = verify(self.host, self.port, key, store=self.store, extra=self.known_hosts,
                           tofu=self.cred.host_key == "tofu")
        except (OSError, paramiko.SSHException, ValueError, UnicodeDecodeError) as exc:
            self.close()
            raise ProbeError(f"cannot read the known_hosts store ({exc.__class__.__name__}: {exc}); "
                             "refusing to log on without a host-key check", ErrorReason.HOST_KEY_REFUSED) from None
        self.host_key = check
        if not check.acceptable:
            self.close()
            if check.recorded_fingerprint:
                msg = (f"host key of {check.host_id} changed: now {check.key_type} {check.fingerprint}, "
                       f"on record {check.recorded_fingerprint} ({check.store}); refused to log on")
            else:
                msg = (f"host key of {check.host_id} ({check.key_type} {check.fingerprint}) is not in any "
                       "known_hosts and the credential requires a known key; refused to log on")
            raise HostKeyRefused(msg, check)
        self._authenticate(transport)

    def _authenticate(self, transport: paramiko.Transport) -> None:
        cred = self.cred
        who = f"{cred.username}@{self.host} with {cred.describe()}"
        try:
            if cred.key_file is not None:
                pkey = _load_key(cred)
                transport.auth_publickey(cred.username, pkey)
            elif cred.password is not None:
                transport.auth_password(cred.username, cred.password.reveal(), fallback=True)
            else:
                raise ProbeError(f"{cred.describe()} has no SSH secret", ErrorReason.AUTH_FAILED)
        except paramiko.BadAuthenticationType as exc:
            self.close()
            raise ProbeError(f"SSH logon {who} refused: server allows only {', '.join(exc.allowed_types)}",
                             ErrorReason.AUTH_FAILED) from None
        except paramiko.AuthenticationException:
            self.close()
            # "from None": the library exception chain is not needed and keeps nothing to leak.
            raise ProbeError(f"SSH logon {who} failed: the server refused the credentials",
                             ErrorReason.AUTH_FAILED) from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            self.close()
            raise ProtocolError(f"SSH logon {who} broke off: {exc.__class__.__name__}") from None
        if not transport.is_authenticated():
            self.close()
            raise ProbeError(f"SSH logon {who} failed", ErrorReason.AUTH_FAILED)

    def command_line(self, command: Command, with_sudo: bool) -> str:
        # sudo after env: sudoers then names the real command (least privilege), and sudo keeps
        # the LC_* variables by default.
        words = ["env", "LC_ALL=C", "LANG=C", f"PATH={SEARCH_PATH}", *(("sudo", "-n") if with_sudo else ()),
                 *command.argv]
        # printf before the command: everything a login script printed earlier is cut off.
        return f"printf '%s\\n' {self.marker}; exec " + " ".join(shlex.quote(w) for w in words)

    def run(self, command: Command) -> CommandResult:
        with_sudo = (command.root or command.prefer_root) and self.cred.sudo
        if command.root and not self.cred.sudo:
            return CommandResult(command, None, not_run="needs root; this credential does not allow sudo")
        transport = self.transport
        if transport is None or not transport.is_active():
            return CommandResult(command, None, not_run="SSH session closed")
        started = utcnow()
        try:
            chan = transport.open_session(timeout=self.limits.connect)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            return CommandResult(command, None, not_run=f"could not open a channel ({exc.__class__.__name__})")
        try:
            chan.settimeout(1.0)
            chan.exec_command(self.command_line(command, with_sudo))
            # No command reads input: end stdin at once, so a tool that would prompt (borg asking
            # for a passphrase or a confirmation) gets end-of-file and exits instead of waiting.
            chan.shutdown_write()
            out, err, status = self._drain(chan)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            # A server that accepts the logon and then closes every channel (a restricted shell,
            # a honeypot, a dying sshd): this section is unread, never a crash of the collector.
            return CommandResult(command, None, collected_at=started,
                                 not_run=f"the server closed the channel ({exc.__class__.__name__})")
        finally:
            chan.close()
        if status is None:
            return CommandResult(command, None, collected_at=started,
                                 not_run=f"did not finish within {self.limits.command:.0f} s", via_sudo=with_sudo)
        stdout = self._after_marker(out.decode("utf-8", "replace"))
        stderr = err.decode("utf-8", "replace")
        if with_sudo and status != 0 and any(s in stderr for s in SUDO_REFUSED):
            return CommandResult(command, status, "", stderr, started, via_sudo=True,
                                 not_run="sudo -n refused: not installed, or not allowed password-less for this "
                                         "account in sudoers")
        return CommandResult(command, status, stdout, stderr, started, via_sudo=with_sudo)

    def _after_marker(self, text: str) -> str:
        _head, sep, tail = text.partition(self.marker + "\n")
        return tail if sep else text

    def _drain(self, chan: paramiko.Channel) -> tuple[bytes, bytes, int | None]:
        deadline = time.monotonic() + self.limits.command
        out = bytearray()
        err = bytearray()
        while time.monotonic() < deadline:
            progressed = False
            if chan.recv_ready():
                out += chan.recv(65536)[: max(0, STREAM_CAP - len(out))]
                progressed = True
            if chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)[: max(0, STREAM_CAP - len(err))]
                progressed = True
            if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                return bytes(out), bytes(err), chan.recv_exit_status()
            if not progressed:
                time.sleep(0.01)
        return bytes(out), bytes(err), None

    def run_all(self, commands: Iterable[Command]) -> dict[str, CommandResult]:
        return {c.key: self.run(c) for c in commands}


def _load_key(cred: Credential) -> paramiko.PKey:
    assert cred.key_file is not None
    # paramiko documents a str, but hands the value to cryptography, which takes only bytes.
    passphrase = cred.passphrase.reveal().encode() if cred.passphrase else None
    try:
        return paramiko.PKey.from_path(cred.key_file, password=passphrase)
    except (paramiko.PasswordRequiredException, TypeError):  # TypeError: cryptography, for encrypted PEM
        raise ProbeError(f"{cred.describe()}: key file {cred.key_file} needs a passphrase (passphrase_env)",
                         ErrorReason.AUTH_FAILED) from None
    except ValueError as exc:
        if passphrase is not None and "password" in str(exc).lower():
            raise ProbeError(f"{cred.describe()}: the passphrase does not open key file {cred.key_file}",
                             ErrorReason.AUTH_FAILED) from None
        raise ProbePermissionError(f"{cred.describe()}: cannot load key file {cred.key_file} "
                                   f"({exc.__class__.__name__})") from None
    except (paramiko.SSHException, OSError) as exc:
        raise ProbePermissionError(f"{cred.describe()}: cannot load key file {cred.key_file} "
                                   f"({exc.__class__.__name__})") from None
