"""history.yaml: what the history store trusts and where it gets independent timestamps.

``$XDG_CONFIG_HOME/gapscan/history.yaml`` (else ``~/.config/gapscan/history.yaml``); a missing
file means the defaults (no pinned keys beyond the local key file, no timestamp authority)::

    trusted_keys:                 # fingerprints of the MSP's signing keys (gapscan keys show)
      - 3f1c0a9d5e...             # 32 hex digits each
    timestamp_authority:          # RFC 3161; optional
      url: http://tsa.example.net/tsa
      ca_file: tsa-ca.pem         # the TSA's CA certificate(s); relative to this file
      timeout_s: 10               # the whole request, connect to last byte

Unknown keys are errors that name the line, as for every file people write.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import Field, field_validator

from scanner.config.settings import Strict
from scanner.config.userfiles import load_model

FINGERPRINT = re.compile(r"[0-9a-f]{32}")


class TimestampAuthority(Strict):
    url: str
    ca_file: Path | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"https?://[^/\s]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value


class HistorySettings(Strict):
    trusted_keys: tuple[str, ...] = ()
    timestamp_authority: TimestampAuthority | None = None

    @field_validator("trusted_keys")
    @classmethod
    def _fingerprints(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(v.strip().lower() for v in values)
        bad = [v for v in cleaned if not FINGERPRINT.fullmatch(v)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a key fingerprint (32 hex digits, as gapscan keys show prints)")
        return cleaned


def default_history_settings_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "gapscan" / "history.yaml"


def load_history_settings(path: Path | None = None) -> HistorySettings:
    """The settings, or the defaults when the file does not exist."""
    chosen = path or default_history_settings_path()
    if not chosen.exists():
        return HistorySettings()
    settings = load_model(chosen, HistorySettings)
    tsa = settings.timestamp_authority
    if tsa is not None and tsa.ca_file is not None and not tsa.ca_file.is_absolute():
        absolute = tsa.model_copy(update={"ca_file": (chosen.parent / tsa.ca_file).resolve()})
        settings = settings.model_copy(update={"timestamp_authority": absolute})
    return settings
