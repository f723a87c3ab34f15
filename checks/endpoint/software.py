"""Installed software (dpkg, rpm, /Applications, Windows Uninstall keys) and its vendor support.

The inventory goes into the report's asset list as plain data (name, version, where it was
read). ``data/software_eol.yaml`` names the practice-management, imaging and database products
whose vendors publish end-of-support dates (each with its source); a program it lists without
published dates is reported, never judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from .commands import Command, Results
from .inventory import Observation, Software, SoftwareItem, Unknown

DPKG = Command("dpkg_packages", ("dpkg-query", "-W"))
RPM_LAST = "rpm_last"  # patches_linux runs ``rpm -qa --last``: the package list comes with it
MAX_ITEMS = 5000


@dataclass(frozen=True)
class SupportVerdict:
    product: str
    item: SoftwareItem
    supported: bool | None  # None: the vendor publishes no date (or this version is not in the table)
    ends: date | None
    detail: str
    source: str


@lru_cache(maxsize=1)
def eol_table() -> dict[str, Any]:
    text = resources.files("checks.endpoint").joinpath("data/software_eol.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        raise ValueError("checks/endpoint/data/software_eol.yaml: 'products' list missing")
    return data


def _kind(source: str) -> str:
    return {"dpkg": "dpkg", "rpm": "rpm", "/Applications": "macos", "Uninstall key": "windows"}.get(source, source)


def support_of(item: SoftwareItem, today: date) -> SupportVerdict | None:
    """The verdict for one installed program, or None when the table does not list it."""
    for product in eol_table()["products"]:
        pattern = (product.get("match") or {}).get(_kind(item.source))
        match = re.search(pattern, item.name) if pattern else None
        if match is None:
            continue
        name, source = str(product["name"]), str(product.get("source", "no published source"))
        if product.get("published") is False:
            return SupportVerdict(name, item, None, None, f"{name}: {' '.join(str(product.get('note')).split())}",
                                  source)
        how = product.get("version", "name")
        key = match.group(1) if how == "name" and match.groups() else \
            ".".join(item.version.split(".")[:2 if how == "major_minor" else 1])
        ends = (product.get("ends") or {}).get(key)
        if not isinstance(ends, date):
            return SupportVerdict(name, item, None, None, f"{name} {key}: not in the end-of-support table", source)
        supported = today <= ends
        word = "supported until" if supported else "support ended"
        return SupportVerdict(name, item, supported, ends, f"{name} {key}: vendor {word} {ends.isoformat()}", source)
    return None


def parse_dpkg(results: Results) -> Software:
    res = results.get("dpkg_packages")
    if res is not None and res.ok:
        items = []
        for line in res.stdout.splitlines():
            name, sep, version = line.partition("\t")
            if sep and version.strip():  # not-installed packages are listed with an empty version
                items.append(SoftwareItem(name=name.split(":")[0], version=version.strip(), source="dpkg"))
        return _software(items, (_summary(res.observation(), len(items)),))
    rpm = results.get(RPM_LAST)
    if rpm is not None and rpm.ok:
        items = []
        for line in rpm.stdout.splitlines():
            nevra = line.split("  ", 1)[0].strip()
            match = re.fullmatch(r"(.+)-([^-]+-[^-]+)\.([^.]+)", nevra)
            if match:
                items.append(SoftwareItem(name=match.group(1), version=match.group(2), source="rpm"))
        return _software(items, (_summary(rpm.observation(), len(items)),))
    why = "; ".join(r.why_failed() for r in (res, rpm) if r is not None) or "not collected"
    raise Unknown(f"no package list (dpkg-query -W, rpm -qa): {why}")


def _summary(obs: Observation, count: int) -> Observation:
    head = obs.output.splitlines()[:20]
    return Observation(source=obs.source, output=f"{count} installed packages; first lines:\n" + "\n".join(head),
                       collected_at=obs.collected_at, exit_status=obs.exit_status)


def _software(items: list[SoftwareItem], observations: tuple[Observation, ...]) -> Software:
    unique = list({(i.name, i.version, i.source): i for i in items}.values())
    return Software(items=tuple(unique[:MAX_ITEMS]), observations=observations, truncated=len(unique) > MAX_ITEMS)
