"""The credentials file: which account the endpoint collectors log on with, per target.

Secrets are never written in the file and never taken from the command line (both end up in
shell history, backups and screenshots). Each credential set names where its secret comes from:
an environment variable (``password_env``), a file only its owner can read (``password_file``,
mode 0600), or a prompt at scan start (``password_prompt: true``). Secrets are resolved once,
before the scan, into ``Secret`` objects whose ``repr``/``str`` never show the value, so an
exception message, a log line or a pydantic dump cannot carry one into scan.json, a report or
the history store (the canary test in tests/ greps every artifact for a planted password).

Example (mode 0600)::

    credentials:
      - name: clinic-linux
        kind: ssh
        targets: [192.0.2.40, 192.0.2.41-45]
        username: tech
        password_env: GAPSCAN_LINUX_PASSWORD      # or key_file: ~/.ssh/id_ed25519
        sudo: true                                # read firewall/crypt state through sudo -n
        restic_repositories:                      # optional: backup repositories whose snapshot
          - repository: /srv/backup/restic        # times may be read; the password FILE is a path
            password_file: /etc/restic/password   # on the endpoint, read there by restic itself
      - name: clinic-windows
        kind: windows
        targets: [192.0.2.0/24]
        domain: CLINIC
        username: gapscan-audit
        password_prompt: true
"""

from __future__ import annotations

import getpass
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scanner.config.userfiles import describe_validation_error, read_yaml
from scanner.credentials import Credential, CredentialStore, Secret
from scanner.errors import InputError
from scanner.scope.targets import parse_entry

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


ENDPOINT_PATH = re.compile(r"^/[A-Za-z0-9._/@%+,=-]{1,200}$")


class ResticRepository(BaseModel):
    """A restic repository on the endpoint and the file there that holds its password: restic reads
    it on the endpoint, so the password never reaches gapscan (only the path is written here)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repository: str
    password_file: str

    @field_validator("repository", "password_file")
    @classmethod
    def _endpoint_path(cls, value: str) -> str:
        if not ENDPOINT_PATH.match(value) or "/../" in value + "/":
            raise ValueError("must be an absolute path on the endpoint (letters, digits and ._/@%+,=- only)")
        return value


class CredentialSet(BaseModel):
    """One account and the targets it is for, as written in the file (no secret values)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    kind: Literal["ssh", "windows"]
    targets: list[str] = Field(min_length=1)
    username: str = Field(min_length=1, max_length=128)
    domain: str | None = None  # windows only: AD domain or "." / host name for a local account
    port: int | None = Field(default=None, ge=1, le=65535)
    password_env: str | None = None
    password_file: Path | None = None
    password_prompt: bool = False
    nt_hash_env: str | None = None  # windows only: pass-the-hash with an NT hash from the environment
    key_file: Path | None = None  # ssh only: private key (OpenSSH format)
    passphrase_env: str | None = None
    sudo: bool = False  # ssh only: allow ``sudo -n`` for the read-only commands that need root
    host_key: Literal["tofu", "known_hosts"] = "tofu"  # ssh only: trust on first use, or require a known key
    restic_repositories: list[ResticRepository] = Field(default_factory=list, max_length=10)  # ssh only

    @field_validator("targets")
    @classmethod
    def _targets_parse(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                entry = parse_entry(item)
            except ValueError as exc:
                raise ValueError(f"target {item!r}: {exc}") from exc
            if entry.hostname is not None:
                raise ValueError(f"target {item!r}: use addresses, ranges or CIDRs (host names are not matched)")
        return value

    @field_validator("password_env", "nt_hash_env", "passphrase_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.match(value):
            raise ValueError("must be the NAME of an environment variable (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _one_secret_source(self) -> CredentialSet:
        sources = [s for s in ("password_env", "password_file", "nt_hash_env", "key_file")
                   if getattr(self, s) is not None] + (["password_prompt"] if self.password_prompt else [])
        if self.kind == "ssh" and self.nt_hash_env:
            raise ValueError("nt_hash_env is for kind: windows")
        if self.kind == "windows" and (self.key_file or self.sudo or self.host_key != "tofu"
                                       or self.restic_repositories):
            raise ValueError("key_file, sudo, host_key and restic_repositories are for kind: ssh")
        passwords = [s for s in sources if s != "key_file"]
        if len(passwords) > 1:
            raise ValueError(f"give one secret source, not {', '.join(passwords)}")
        if not sources:
            raise ValueError("no secret source: give password_env, password_file, password_prompt"
                             + (" or key_file" if self.kind == "ssh" else " or nt_hash_env"))
        return self


class CredentialsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    known_hosts: Path | None = None  # an OpenSSH known_hosts file: for hosts it names, the keys accepted
    credentials: list[CredentialSet] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> CredentialsFile:
        names = [c.name for c in self.credentials]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"credential names must be unique: {', '.join(dupes)}")
        return self


def _private_file(path: Path, source: str, what: str) -> str:
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path} ({exc.strerror or exc})", source=source) from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"{what} {path} is readable by others (mode {stat.S_IMODE(info.st_mode):o}); "
                         f"run: chmod 600 {path}", source=source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what} {path} ({exc})", source=source) from exc
    return text.rstrip("\r\n")


def _from_env(name: str, source: str, where: str) -> Secret:
    value = os.environ.get(name)
    if not value:
        raise InputError(f"environment variable {name} is not set or empty", source=source, where=where)
    return Secret(value)


def read_credentials_file(path: Path) -> CredentialsFile:
    """Check the file is private and valid; resolve no secret (for ``schedule``, and the loader)."""
    source = str(path)
    _private_file(path, source, "credentials file")
    data, root = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError("expected a mapping with a 'credentials:' list", source=source)
    for item in data.get("credentials") or []:
        if isinstance(item, dict) and ("password" in item or "nt_hash" in item):
            name = item.get("name", "?")
            raise InputError("secrets are never written in the credentials file: use password_env, "
                             "password_file or password_prompt", source=source, where=f"credential '{name}'")
    try:
        parsed = CredentialsFile.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(exc, source, root, show_values=False) from exc
    return parsed


def load_credentials(path: Path, *, prompt: Callable[[str], str] | None = None,
                     interactive: bool | None = None) -> CredentialStore:
    """Read and validate the file and resolve every secret now, before any packet is sent.

    Errors name the file, credential and key — never a value (a mistyped key could hold a
    password, so values are not echoed)."""
    source = str(path)
    parsed = read_credentials_file(path)
    ask = prompt or getpass.getpass
    can_prompt = interactive if interactive is not None else os.isatty(0)
    resolved = []
    for item in parsed.credentials:
        where = f"credential '{item.name}'"
        password = nt_hash = passphrase = None
        if item.password_env:
            password = _from_env(item.password_env, source, where)
        elif item.password_file:
            password = Secret(_private_file(item.password_file.expanduser(), source, "password file"))
        elif item.password_prompt:
            if not can_prompt and prompt is None:
                raise InputError("password_prompt needs an interactive terminal; use password_env or "
                                 "password_file for unattended scans", source=source, where=where)
            password = Secret(ask(f"Password for {item.username} ({item.name}): "))
        if item.nt_hash_env:
            nt_hash = _from_env(item.nt_hash_env, source, where)
            if not re.fullmatch(r"[0-9a-fA-F]{32}", nt_hash.reveal()):
                raise InputError(f"{item.nt_hash_env} does not hold an NT hash (32 hex digits)",
                                 source=source, where=where)
        if item.passphrase_env:
            passphrase = _from_env(item.passphrase_env, source, where)
        key_file = item.key_file.expanduser() if item.key_file else None
        if key_file is not None:
            _private_file(key_file, source, "key file")
        resolved.append(Credential(
            name=item.name, kind=item.kind, username=item.username, domain=item.domain, port=item.port,
            password=password, nt_hash=nt_hash, key_file=key_file, passphrase=passphrase, sudo=item.sudo,
            host_key=item.host_key,
            restic_repositories=tuple((r.repository, r.password_file) for r in item.restic_repositories),
            networks=tuple(net for t in item.targets for net in parse_entry(t).networks),
        ))
    known = parsed.known_hosts.expanduser() if parsed.known_hosts else None
    if known is not None and not known.is_file():
        raise InputError(f"known_hosts file {known} not found", source=source)
    return CredentialStore(credentials=tuple(resolved), known_hosts=known, source=source)
