"""The Windows logon a collection uses: NTLM with a password or an NT hash. Never printed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NT_HASH = re.compile(r"^(?:[0-9a-fA-F]{32}:)?[0-9a-fA-F]{32}$")  # "NT" or "LM:NT" as impacket takes it


@dataclass(frozen=True)
class WindowsLogon:
    """Credentials for one endpoint (built by the caller from the credentials file).

    ``repr``/``str`` show the account only; the secret fields are excluded from comparison output
    too, so a logged or printed logon never carries the password or hash.
    """

    username: str
    domain: str = ""
    password: str | None = field(default=None, repr=False)
    nt_hash: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.username:
            raise ValueError("WindowsLogon: username is empty")
        if (self.password is None) == (self.nt_hash is None):
            raise ValueError("WindowsLogon: give exactly one of password or nt_hash")
        if self.nt_hash is not None and not _NT_HASH.match(self.nt_hash):
            raise ValueError("WindowsLogon: nt_hash must be 32 hex digits (optionally 'LM:NT')")

    @property
    def account(self) -> str:
        return f"{self.domain}\\{self.username}" if self.domain else self.username

    def hashes(self) -> tuple[str, str]:
        """(lmhash, nthash) for impacket; empty strings when logging on with a password."""
        if self.nt_hash is None:
            return "", ""
        lm, _, nt = self.nt_hash.rpartition(":")
        return lm, nt

    def secrets(self) -> tuple[str, ...]:
        """Every secret string, for scrubbing messages (belt and braces)."""
        out = [s for s in (self.password, self.nt_hash) if s]
        if self.nt_hash:
            out += [h for h in self.hashes() if h]
        return tuple(out)

    def __repr__(self) -> str:
        kind = "password" if self.password is not None else "nt_hash"
        return f"WindowsLogon(account={self.account!r}, secret=<{kind} hidden>)"

    __str__ = __repr__
