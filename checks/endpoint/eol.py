"""Is an endpoint's OS release still patched by its vendor? A pure lookup in ``data/os_eol.yaml``.

Running an OS past its vendor's end of security support is a gap against the risk-management
and malicious-software safeguards (45 CFR 164.308(a)(1)(ii)(B), 164.308(a)(5)(ii)(B)). The dates
are data, compiled from the vendors' lifecycle pages (see the YAML's header and each product's
``source``), so a new release is one YAML edit.

Honesty rules: a product, version or date we do not know gives ``supported=None`` with a detail
that says why — never ``True``. A free extended phase (Debian LTS) counts as support; a paid one
(Ubuntu Pro ESM, Windows ESU, RHEL ELS) does not, because an inventory cannot show a
subscription: the detail names it so the technician can record a contract if there is one.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from .inventory import OsInfo


@dataclass(frozen=True)
class SupportStatus:
    supported: bool | None  # None: cannot say (unknown product/version/date)
    ends: date | None  # when support (counting free extended phases) ends or ended
    detail: str  # which date, which phase, which source


@dataclass(frozen=True)
class _End:
    when: date | None
    text: str  # how to print it: "2026-06-10", "end of 2027-04 (month only)", "unknown"
    upper_bound: bool = False


@lru_cache(maxsize=1)
def load_table() -> dict[str, Any]:
    """The parsed ``os_eol.yaml`` (cached)."""
    text = resources.files("checks.endpoint").joinpath("data/os_eol.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("products"), dict):
        raise ValueError("checks/endpoint/data/os_eol.yaml: top-level 'products' mapping is missing")
    return data["products"]


def _end(value: Any) -> _End:
    if isinstance(value, date):
        return _End(value, value.isoformat())
    if isinstance(value, str) and (m := re.fullmatch(r"(\d{4})-(\d{2})", value)):
        year, month = int(m.group(1)), int(m.group(2))
        last = date(year, month, calendar.monthrange(year, month)[1])
        return _End(last, f"end of {value} (vendor gives the month only)")
    if isinstance(value, dict) and isinstance(value.get("no_later_than"), date):
        bound: date = value["no_later_than"]
        return _End(bound, f"no later than {bound.isoformat()}", upper_bound=True)
    if value == "unknown" or value is None:
        return _End(None, "unknown")
    raise ValueError(f"os_eol.yaml: cannot read end date {value!r}")


def _version_key(match: str, version: str) -> str:
    parts = version.strip().split(".")
    if match == "major":
        return parts[0]
    if match == "major_minor":
        return ".".join(parts[:2])
    if match == "macos":  # "14.6.1" -> "14"; "10.15.7" -> "10.15"
        return ".".join(parts[:2]) if parts[0] == "10" else parts[0]
    if match == "any":
        return "*"
    return version.strip().upper()


def _edition_group(product: dict[str, Any], edition: str | None) -> str | None:
    if not edition:
        return None
    for group, editions in (product.get("edition_groups") or {}).items():
        if edition.lower() in (e.lower() for e in editions):
            return str(group)
    return None


def _judge(label: str, regular: _End, extended: dict[str, Any] | None, today: date,
           unknown_reason: str) -> SupportStatus:
    """One release's verdict from its regular end and optional extended phase."""
    if extended and not extended.get("paid", True):
        ext = _end(extended.get("ends"))
        name = str(extended.get("label", "extended support"))
        if ext.when is not None:
            reg_text = (f"regular security support ended {regular.text}" if regular.when and today > regular.when
                        else f"regular security support until {regular.text}"
                        if regular.when else "regular security support end date not yet published")
            if today <= ext.when:
                return SupportStatus(True, ext.when, f"{label}: {reg_text}; {name} until {ext.text}")
            return SupportStatus(False, ext.when, f"{label}: {reg_text}; {name} ended {ext.text}")
    if regular.when is None:
        return SupportStatus(None, None, f"{label}: {unknown_reason}")
    paid = ""
    if extended and extended.get("paid", True):
        ext = _end(extended.get("ends"))
        paid = (f"; {extended.get('label', 'extended support')} runs until {ext.text} but is a paid subscription "
                "and is not counted: the inventory cannot show one — record the contract if the practice has it")
    if regular.upper_bound:
        if today > regular.when:
            return SupportStatus(False, regular.when, f"{label}: security support ended {regular.text}{paid}")
        return SupportStatus(None, None, f"{label}: support ends {regular.text}; the exact date is not compiled")
    if today <= regular.when:
        return SupportStatus(True, regular.when, f"{label}: security support until {regular.text}{paid}")
    return SupportStatus(False, regular.when, f"{label}: security support ended {regular.text}{paid}")


def support_status(os: OsInfo, today: date) -> SupportStatus:
    """Whether ``os`` still receives vendor security updates on ``today``, per ``os_eol.yaml``."""
    products = load_table()
    product = products.get(os.product_id)
    if not isinstance(product, dict):
        return SupportStatus(None, None, f"{os.name or os.product_id}: product {os.product_id!r} is not in the "
                                         "end-of-support table, so support cannot be judged")
    name, source = str(product.get("name", os.product_id)), str(product.get("source", "unknown source"))
    key = _version_key(str(product.get("match", "exact")), os.version)
    key = str((product.get("aliases") or {}).get(key, key))
    versions: dict[str, Any] = product.get("versions") or {}
    entry = versions.get(key)
    if not isinstance(entry, dict):
        return SupportStatus(None, None, f"{name} {os.version}: version {key!r} is not in the end-of-support table "
                                         f"(compiled from {source}), so support cannot be judged")
    label = name if key == "*" else f"{name} {key}"
    unknown_reason = str(product.get("unknown_reason") or "end of support is not published in the table")
    if entry.get("note"):
        unknown_reason += f" ({entry['note']})"
    regular = entry.get("regular")
    extended = entry.get("extended")

    if isinstance(regular, dict) and "no_later_than" not in regular:
        status = _by_edition(label, product, regular, extended, os.edition, today, unknown_reason)
    else:
        status = _judge(label, _end(regular), extended, today, unknown_reason)
    note = f"; {entry['note']}" if entry.get("note") and status.supported is not None else ""
    return SupportStatus(status.supported, status.ends, f"{status.detail}{note} (source: {source})")


def _by_edition(label: str, product: dict[str, Any], regular: dict[str, Any], extended: dict[str, Any] | None,
                edition: str | None, today: date, unknown_reason: str) -> SupportStatus:
    """Windows client releases: dates differ by edition group (Home/Pro, Enterprise/Education, LTSC)."""
    group = _edition_group(product, edition)
    if group is not None:
        if group not in regular:
            return SupportStatus(None, None, f"{label}: no {group.replace('_', '/')} release of this version "
                                             f"in the table (edition {edition})")
        return _judge(f"{label} {edition}", _end(regular[group]), extended, today, unknown_reason)
    # Edition unknown: decide only when every edition group gives the same answer.
    verdicts = {g: _judge(label, _end(d), extended, today, unknown_reason) for g, d in regular.items()}
    answers = {v.supported for v in verdicts.values()}
    dates = ", ".join(f"{g.replace('_', '/')} {_end(d).text}" for g, d in regular.items())
    what = f"edition {edition!r} not recognised" if edition else "edition not reported"
    if len(answers) == 1 and None not in answers:
        supported = answers.pop()
        ends = max((v.ends for v in verdicts.values() if v.ends), default=None)
        state = "supported" if supported else "unsupported"
        return SupportStatus(supported, ends, f"{label}: {state} for every edition ({what}; {dates})")
    return SupportStatus(None, None, f"{label}: support depends on the edition ({what}; {dates})")
