"""The recorded form of what the Windows collector read: registry keys and WMI result rows.

Both are plain JSON-able data, so a collection can be saved as a fixture and re-parsed. A key
that could not be *read* (access denied, RPC error) is recorded as an error, never as absent:
"the firewall policy key does not exist" and "we were not allowed to look" must not be confused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scanner.models import utcnow

from ..inventory import OUTPUT_CAP, Observation, Unknown

# Value as the collector stores it: REG_SZ/REG_EXPAND_SZ -> str, REG_DWORD/REG_QWORD -> int,
# REG_MULTI_SZ -> list[str], REG_BINARY -> "hex:<hex digits>" (MS-RRP 2.2.7 / winnt.h REG_* types).
RegValue = str | int | list[str]
NOT_READ = "(not read)"


def _norm(path: str) -> str:
    # Registry paths are case-insensitive (MS-RRP 3.1.1.1): compare them folded.
    return path.strip("\\").casefold()


@dataclass(frozen=True)
class RegistrySnapshot:
    """Registry keys read from one endpoint: full path ("HKLM\\SOFTWARE\\...") -> value name -> value."""

    keys: Mapping[str, Mapping[str, RegValue]]
    errors: Mapping[str, str] = field(default_factory=dict)  # path -> why it could not be read
    collected_at: datetime = field(default_factory=utcnow)

    def _find(self, path: str) -> Mapping[str, RegValue] | None:
        wanted = _norm(path)
        for key, values in self.keys.items():
            if _norm(key) == wanted:
                return values
        return None

    def error(self, path: str) -> str | None:
        wanted = _norm(path)
        for key, why in self.errors.items():
            if _norm(key) == wanted:
                return why
        return None

    def values(self, path: str) -> Mapping[str, RegValue]:
        """Every recorded value of one key (empty when the key is absent or was not read)."""
        return self._find(path) or {}

    def has_key(self, path: str) -> bool:
        return self._find(path) is not None

    def value(self, path: str, name: str) -> RegValue | None:
        values = self._find(path)
        if values is None:
            return None
        for key, val in values.items():
            if key.casefold() == name.casefold():
                return val
        return None

    def subkeys(self, parent: str) -> Iterator[str]:
        """Full paths of the recorded keys directly under ``parent`` (in recorded order)."""
        prefix = _norm(parent) + "\\"
        for key in self.keys:
            rest = _norm(key)[len(prefix):] if _norm(key).startswith(prefix) else None
            if rest and "\\" not in rest:
                yield key.strip("\\")

    def user_sids(self) -> list[str]:
        """SIDs of the user hives loaded under HKU (only logged-on users' hives are loaded)."""
        sids: list[str] = []
        for key in self.keys:
            parts = key.strip("\\").split("\\")
            if len(parts) >= 2 and parts[0].upper() == "HKU" and _is_user_sid(parts[1]) and parts[1] not in sids:
                sids.append(parts[1])
        for key in self.errors:
            parts = key.strip("\\").split("\\")
            if len(parts) >= 2 and parts[0].upper() == "HKU" and _is_user_sid(parts[1]) and parts[1] not in sids:
                sids.append(parts[1])
        return sids

    def observe(self, path: str, name: str | None = None) -> Observation:
        """The evidence line for one value (or a whole key when ``name`` is None)."""
        source = f"registry: {path}\\{name}" if name else f"registry: {path}"
        why = self.error(path)
        if why is not None:
            output = f"{NOT_READ}: {why}"
        elif not self.has_key(path):
            output = "(key not present)"
        elif name is None:
            output = "(key present)"
        else:
            val = self.value(path, name)
            output = "(value not present)" if val is None else render(val)
        return Observation(source=source, output=output[:OUTPUT_CAP], collected_at=self.collected_at)

    @classmethod
    def from_data(cls, data: Mapping[str, Any], collected_at: datetime | None = None) -> RegistrySnapshot:
        keys = data.get("keys", {})
        errors = data.get("errors", {})
        if not isinstance(keys, dict) or not isinstance(errors, dict):
            raise Unknown("registry record: 'keys' and 'errors' must be objects")
        return cls(keys=keys, errors=errors, collected_at=collected_at or utcnow())


@dataclass(frozen=True)
class WmiResult:
    """Rows of one WMI query (property name -> value), as ``collect`` returns them."""

    namespace: str  # "root\\SecurityCenter2"
    query: str
    rows: Sequence[Mapping[str, Any]]
    collected_at: datetime = field(default_factory=utcnow)

    @property
    def source(self) -> str:
        return f"wmi: {self.namespace}: {self.query}"

    def observe(self) -> Observation:
        lines = [", ".join(f"{k}={render(v)}" for k, v in row.items()) for row in self.rows]
        output = "\n".join(lines) if lines else "(no instances)"
        return Observation(source=self.source, output=output[:OUTPUT_CAP], collected_at=self.collected_at)

    @classmethod
    def from_data(cls, data: Mapping[str, Any], collected_at: datetime | None = None) -> WmiResult:
        rows = data.get("rows")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise Unknown("WMI record: 'rows' must be a list of objects")
        return cls(namespace=str(data.get("namespace", "")), query=str(data.get("query", "")), rows=rows,
                   collected_at=collected_at or utcnow())


def render(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def as_int(value: object) -> int | None:
    """A DWORD, or a REG_SZ holding decimal digits (Control Panel\\Desktop stores numbers as text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _is_user_sid(name: str) -> bool:
    # Local and domain accounts (S-1-5-21-...) and Entra ID accounts (S-1-12-1-...); not the
    # service hives S-1-5-18/19/20, not .DEFAULT, not the *_Classes hives.
    return (name.startswith(("S-1-5-21-", "S-1-12-1-"))) and not name.endswith("_Classes")
