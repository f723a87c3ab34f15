"""SSH host-key verification: a known key, a key trusted on first use, or a changed key.

gapscan keeps its own OpenSSH-format ``known_hosts`` at ``$XDG_DATA_HOME/gapscan/known_hosts``
(else ``~/.local/share/gapscan/known_hosts``); a credentials file may name another known_hosts
whose keys are trusted too. A key never seen before is recorded (trust on first use, RFC 4251
§4.1 allows it when the risk is understood) unless the credential says ``host_key: known_hosts``.
A key that differs from the recorded one is never accepted and never overwritten: the collector
refuses to log on (the password would go to whoever answers) and the run reports it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import paramiko

_LOCK = threading.Lock()  # probes run in threads; the store file is shared


class KeyStatus(StrEnum):
    KNOWN = "known"  # matches a recorded or user-supplied key
    FIRST_USE = "first_use"  # not seen before; recorded now
    UNKNOWN_REFUSED = "unknown_refused"  # not seen before and the credential requires a known key
    CHANGED = "changed"  # differs from the recorded key: refuse


@dataclass(frozen=True)
class HostKeyCheck:
    host_id: str  # "198.18.0.41" or "[198.18.0.41]:2222"
    key_type: str
    fingerprint: str  # "SHA256:..." as OpenSSH prints it
    status: KeyStatus
    recorded_fingerprint: str | None = None  # the key on record when it changed
    store: str = ""

    @property
    def acceptable(self) -> bool:
        return self.status in (KeyStatus.KNOWN, KeyStatus.FIRST_USE)


def default_store() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "gapscan" / "known_hosts"


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def host_id(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _load(path: Path | None) -> paramiko.HostKeys:
    keys = paramiko.HostKeys()
    if path is not None and path.is_file():
        # A damaged store raises (never "no key on record", which would re-trust a changed key).
        keys.load(str(path))
    return keys


def verify(host: str, port: int, key: paramiko.PKey, *, store: Path | None = None,
           extra: Path | None = None, tofu: bool = True) -> HostKeyCheck:
    """Compare the server's key with the stores; record it on first use when allowed."""
    store = store or default_store()
    hid = host_id(host, port)
    fp = fingerprint(key)
    with _LOCK:
        # The technician's own known_hosts, when it names the host, is the authority; gapscan's
        # store (trust on first use) only for hosts it does not name.
        recorded: list[paramiko.PKey] = []
        for path in (extra, store):
            entry = _load(path).lookup(hid)
            if entry is not None:
                recorded.extend(entry.values())
                break
        same_type = [k for k in recorded if k.get_name() == key.get_name()]
        if any(k.asbytes() == key.asbytes() for k in recorded):
            return HostKeyCheck(hid, key.get_name(), fp, KeyStatus.KNOWN, store=str(store))
        if same_type or recorded:
            # A different key (of this or another type) is on record for this host: a server
            # reinstalled, or someone in the middle. OpenSSH refuses both; so do we.
            old = fingerprint((same_type or recorded)[0])
            return HostKeyCheck(hid, key.get_name(), fp, KeyStatus.CHANGED, recorded_fingerprint=old,
                                store=str(store))
        if not tofu:
            return HostKeyCheck(hid, key.get_name(), fp, KeyStatus.UNKNOWN_REFUSED, store=str(store))
        store.parent.mkdir(parents=True, exist_ok=True)
        line = f"{hid} {key.get_name()} {key.get_base64()}\n"
        fd = os.open(store, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="ascii") as handle:
            handle.write(line)
        return HostKeyCheck(hid, key.get_name(), fp, KeyStatus.FIRST_USE, store=str(store))
