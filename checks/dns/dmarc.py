"""DMARC policy records (RFC 7489 §6.3, §6.4) and policy discovery (§6.6.3).

Our own parser, for the same reasons as for SPF (docs/decisions/own-spf-parser.md). A record is a
tag-list whose first tag is exactly ``v=DMARC1``; unknown tags are ignored; invalid values are kept
as problems so that the finding can name them, and §6.6.3's rule applies to an invalid or missing
``p``: with a valid ``rua`` the receiver acts as if ``p=none``, without one the record is unusable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from checks.dns.taglist import TagListError, parse_tag_list

POLICIES = ("none", "quarantine", "reject")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_SIZE = re.compile(r"^[0-9]+[kmgt]?$", re.IGNORECASE)


class DmarcSyntaxError(ValueError):
    """Not a DMARC record, or not a tag-list at all."""


def is_dmarc(text: str) -> bool:
    """§6.6.3: records that do not start with a v=DMARC1 tag are discarded (value case-sensitive)."""
    tag, eq, rest = text.partition("=")
    value = rest.split(";", 1)[0].strip()
    return tag.strip().lower() == "v" and bool(eq) and value == "DMARC1"


def dmarc_records(txt_values: tuple[str, ...] | list[str]) -> list[str]:
    return [t for t in txt_values if is_dmarc(t)]


def _uris(value: str, tag: str, problems: list[str]) -> tuple[str, ...]:
    """§6.4 dmarc-uri: an absolute URI, optionally '!size'; invalid ones are problems."""
    good = []
    for item in (u.strip() for u in value.split(",")):
        uri, _, size = item.partition("!")
        mailto_ok = not uri.lower().startswith("mailto:") or "@" in uri
        if _URI.match(uri) and mailto_ok and (not size or _SIZE.match(size)):
            good.append(uri)
        else:
            problems.append(f"{tag}: {item!r} is not a valid reporting URI")
    return tuple(good)


@dataclass(frozen=True)
class DmarcRecord:
    text: str
    p: str | None  # a valid value of p, else None
    sp: str | None
    pct: int  # 0-100; default 100
    rua: tuple[str, ...]
    ruf: tuple[str, ...]
    adkim: str  # "r" or "s"
    aspf: str
    problems: tuple[str, ...]  # invalid values, as found

    @property
    def effective_p(self) -> str | None:
        """§6.6.3: an invalid or missing p reads as "none" when rua is valid; else None (unusable)."""
        if self.p is not None:
            return self.p
        return "none" if self.rua else None

    @property
    def usable(self) -> bool:
        return self.effective_p is not None

    def policy_for(self, subdomain: bool) -> str | None:
        """The policy applied to the domain asked about: ``sp`` for a subdomain when given (§6.3)."""
        if subdomain and self.sp is not None:
            return self.sp
        return self.effective_p


def parse(text: str) -> DmarcRecord:
    if not is_dmarc(text):
        raise DmarcSyntaxError("not a DMARC record (the first tag must be v=DMARC1)")
    try:
        tags = dict(parse_tag_list(text))
    except TagListError as exc:
        raise DmarcSyntaxError(f"malformed DMARC record: {exc}") from exc
    problems: list[str] = []

    def choice(tag: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        if tag not in tags:
            if default is None and tag == "p":
                problems.append("p is missing (REQUIRED, §6.3)")
            return default
        value = tags[tag].lower()
        if value in allowed:
            return value
        problems.append(f"{tag}={tags[tag]!r} is not one of {', '.join(allowed)}")
        return default if tag != "p" else None

    p = choice("p", POLICIES, None)
    sp = choice("sp", POLICIES, None)
    pct = 100
    if "pct" in tags:
        raw = tags["pct"]
        if raw.isascii() and raw.isdigit() and int(raw) <= 100:
            pct = int(raw)
        else:
            problems.append(f"pct={raw!r} is not an integer from 0 to 100")
    rua = _uris(tags["rua"], "rua", problems) if "rua" in tags else ()
    ruf = _uris(tags["ruf"], "ruf", problems) if "ruf" in tags else ()
    adkim = choice("adkim", ("r", "s"), "r") or "r"
    aspf = choice("aspf", ("r", "s"), "r") or "r"
    return DmarcRecord(text, p, sp, pct, rua, ruf, adkim, aspf, tuple(problems))
