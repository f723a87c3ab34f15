"""Credentials as a probe receives them: resolved, with secrets that never print.

The endpoint collectors get a ``CredentialStore`` through their ``ProbeContext``; the file that
declares the accounts is read by ``scanner.config.credentials_file`` (which never holds a value
longer than it takes to resolve it). ``Secret`` shows as ``***`` in every repr, str, exception
message and pydantic dump, so no value can reach scan.json, a report or the history store.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


class Secret:
    """A password, passphrase or NT hash. Shows as ``***`` everywhere; ``reveal()`` at the one
    place a library needs it. Not picklable, so it cannot leak through a process pool either."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))


@dataclass(frozen=True)
class Credential:
    """A credential set with its secret resolved. ``repr`` shows no secret."""

    name: str
    kind: Literal["ssh", "windows"]
    username: str
    domain: str | None
    port: int | None
    password: Secret | None
    nt_hash: Secret | None
    key_file: Path | None
    passphrase: Secret | None
    sudo: bool
    host_key: Literal["tofu", "known_hosts"]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]  # the targets it is for
    # ssh only: (repository, password file) paths on the endpoint; restic reads the file there.
    restic_repositories: tuple[tuple[str, str], ...] = ()

    def covers(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def describe(self) -> str:
        """What a report may say about the account: name, kind and user, never the secret."""
        who = f"{self.domain}\\{self.username}" if self.domain else self.username
        return f"credential '{self.name}' ({self.kind}, {who})"


@dataclass(frozen=True)
class CredentialStore:
    credentials: tuple[Credential, ...]
    known_hosts: Path | None = None
    source: str = ""

    def for_host(self, address: str) -> Credential | None:
        """The first credential set (file order) whose targets include ``address``."""
        return next((c for c in self.credentials if c.covers(address)), None)

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for output scrubbing and the canary test."""
        out = []
        for cred in self.credentials:
            for secret in (cred.password, cred.nt_hash, cred.passphrase):
                if secret is not None and secret.reveal():
                    out.append(secret.reveal())
        return tuple(out)
