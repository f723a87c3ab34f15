"""The client file: who the report is for and what the practice has on record (YAML).

It feeds the report's cover, the third-party section (the BAA register) and the sign-off
appendix. It is read with ``scanner.config.userfiles.load_model`` by the CLI, so a mistake names the
file, the line and the key. Nothing secret belongs here and nothing from it goes into scan.json.

The MSP logo is embedded in the report as a ``data:`` URI (the report never loads a file or a
URL when it is opened): PNG or JPEG only, recognised by their magic bytes, at most 200 kB.
SVG is refused: it can carry scripts and remote references, and sanitizing it is a project of
its own.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

LOGO_MAX_BYTES = 200_000
_LOGO_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


class LogoError(ValueError):
    """The logo file cannot be embedded (missing, too large, not PNG/JPEG)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Person(_Strict):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(default="", max_length=200)


class Contact(_Strict):
    name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=60)
    email: str = Field(default="", max_length=200)


class Msp(_Strict):
    name: str = Field(min_length=1, max_length=200)
    logo: Path | None = None  # relative paths are relative to the client file


class BaaEntry(_Strict):
    """One line of the practice's business associate agreement register."""

    vendor: str = Field(min_length=1, max_length=200)
    service: str = Field(default="", max_length=200)
    baa_on_file: bool
    date: dt.date | None = None  # date the BAA was signed
    notes: str = Field(default="", max_length=500)


class ClientFile(_Strict):
    """Practice, MSP, technician and BAA register, as the technician writes them."""

    practice: str = Field(min_length=1, max_length=200)
    address: str = Field(default="", max_length=500)
    contact: Contact = Contact()
    decision_maker: Person
    msp: Msp
    technician: Person
    baa_register: tuple[BaaEntry, ...] = ()
    # 45 CFR 164.314(b) applies only to group health plans: off unless the client is one.
    group_health_plan: bool = False

    def logo_data_uri(self, base_dir: Path | None = None) -> str | None:
        """The MSP logo as a data: URI, or None when the file names no logo."""
        if self.msp.logo is None:
            return None
        path = self.msp.logo if self.msp.logo.is_absolute() or base_dir is None else base_dir / self.msp.logo
        return logo_data_uri(path)


def logo_data_uri(path: Path) -> str:
    """Read a PNG/JPEG logo into a data: URI; anything else is a LogoError."""
    try:
        with path.open("rb") as fh:
            data = fh.read(LOGO_MAX_BYTES + 1)
    except OSError as exc:
        raise LogoError(f"cannot read logo {path} ({exc.strerror or exc})") from exc
    if len(data) > LOGO_MAX_BYTES:
        raise LogoError(f"logo {path} is larger than {LOGO_MAX_BYTES // 1000} kB")
    for magic, mime in _LOGO_TYPES:
        if data.startswith(magic):
            return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    raise LogoError(f"logo {path} is not a PNG or JPEG file (SVG is refused: it can carry scripts)")
