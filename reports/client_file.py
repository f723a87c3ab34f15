"""The client file: who the report is for and what the practice has on record (YAML).

It feeds the report's cover, the third-party section (the BAA register), the asset inventory the
risk rating reads (``assets``: which device is what, whether it holds ePHI, whether it leaves the
office), the risk overrides a technician writes down with their reason, the decision sheet and the
recommendation letter (the MSP's letterhead, the date a decision is asked by). It is read with
``scanner.config.userfiles.load_model`` by the CLI, so a mistake names the file, the line and the key.
Nothing secret belongs here and nothing from it goes into scan.json.

The MSP logo is embedded in the report as a ``data:`` URI (the report never loads a file or a
URL when it is opened): PNG or JPEG only, recognised by their magic bytes, at most 200 kB.
SVG is refused: it can carry scripts and remote references, and sanitizing it is a project of
its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    address: str = Field(default="", max_length=500)  # the letterhead of the recommendation letter
    phone: str = Field(default="", max_length=60)
    email: str = Field(default="", max_length=200)
    website: str = Field(default="", max_length=200)


Level = Literal["very-low", "low", "moderate", "high", "very-high"]  # NIST SP 800-30 Rev. 1, Appendix G-I


class Asset(_Strict):
    """One line of the asset inventory: what a device (or domain) is, as the practice knows it.

    ``match`` is an IP address, a CIDR network, or a host or domain name where ``*`` stands for any
    characters (``*.demo-dental.example``); the first line that matches a place wins."""

    match: str = Field(min_length=1, max_length=253)
    name: str = Field(min_length=1, max_length=120)
    role: str = Field(default="", max_length=120)
    owner: str = Field(default="", max_length=120)
    location: str = Field(default="", max_length=120)
    ephi: bool | Literal["unknown"] = "unknown"  # holds ePHI: yes / no / unknown
    portable: bool = False  # leaves the office (a laptop, a tablet, a backup disk taken home)
    criticality: Literal["low", "normal", "high"] = "normal"  # how much the practice depends on it
    internet_facing: bool = False  # reachable from the Internet (a port forward, a public portal)

    @field_validator("match")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if "/" in value:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a network (expected e.g. 198.18.0.0/24)") from exc
        return value.lower()

    def matches(self, address: str | None, names: tuple[str, ...] = ()) -> bool:
        """True when this line describes the place with this address or one of these names."""
        if address is not None and "/" in self.match:
            try:
                return ipaddress.ip_address(address) in ipaddress.ip_network(self.match, strict=False)
            except ValueError:
                return False
        candidates = ([address] if address else []) + [n.lower().rstrip(".") for n in names]
        return any(fnmatch.fnmatchcase(c, self.match) for c in candidates)


class RiskOverride(_Strict):
    """A technician's correction of a rating, printed with its reason beside the rating it changes."""

    check: str | None = Field(default=None, max_length=64)
    project: str | None = Field(default=None, max_length=64)
    target: str = Field(default="*", max_length=253)  # an address, name or pattern, as in ``assets``
    likelihood: Level | None = None
    impact: Level | None = None
    reason: str = Field(min_length=5, max_length=500)

    @model_validator(mode="after")
    def _says_what(self) -> RiskOverride:
        if (self.check is None) == (self.project is None):
            raise ValueError("name either 'check' or 'project'")
        if self.likelihood is None and self.impact is None:
            raise ValueError("give 'likelihood', 'impact' or both")
        return self

    def applies(self, check_id: str, project_id: str, address: str | None, names: tuple[str, ...]) -> bool:
        if (self.check is not None and self.check != check_id) or (self.project is not None
                                                                   and self.project != project_id):
            return False
        if self.target == "*":
            return True
        return Asset(match=self.target, name="override").matches(address, names)


class Letter(_Strict):
    """The recommendation letter's particulars (``--format letter``)."""

    date: dt.date | None = None  # the letter's date; default: the day it is rendered
    decision_by: dt.date | None = None  # default: 30 days after the scan
    salutation: str = Field(default="", max_length=120)  # default: "Dear <decision maker>,"
    signed_by: Person | None = None  # default: the technician


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
    assets: tuple[Asset, ...] = ()
    risk_overrides: tuple[RiskOverride, ...] = ()
    letter: Letter = Letter()

    def asset_for(self, address: str | None, names: tuple[str, ...] = ()) -> Asset | None:
        """The first inventory line that describes this place, or None (an unknown asset)."""
        return next((a for a in self.assets if a.matches(address, names)), None)

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
