"""SPF macro expansion (RFC 7208 §7): ``%{ir}.%{v}._spf.%{d2}`` and friends.

Only ``check_host`` (an evaluation for a given sender and IP, tests/unit/spf_check_host.py)
expands macros; the static audit of a domain's record cannot, and says so for each term that
holds one. Test code: the shipped checks never expand a macro.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote

from checks.dns.spf import MacroExpand, MacroPart

MAX_DOMAIN = 253


@dataclass(frozen=True)
class MacroContext:
    """The values §7.3 defines for one evaluation."""

    sender: str  # "local@domain" (§4.3: postmaster@<helo> when MAIL FROM was empty)
    domain: str  # <domain> of the record being evaluated
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    helo: str = ""
    validated_name: str = "unknown"  # %{p}: filled in by the evaluator when a macro asks for it
    receiver: str = "unknown"  # %{r}
    timestamp: int = 0  # %{t}

    @property
    def local_part(self) -> str:
        return self.sender.rsplit("@", 1)[0] if "@" in self.sender else "postmaster"

    @property
    def sender_domain(self) -> str:
        return self.sender.rsplit("@", 1)[1] if "@" in self.sender else self.sender


def dotted_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """%{i}: IPv4 dotted-quad, IPv6 as 32 dot-separated nibbles (§7.3)."""
    if ip.version == 4:
        return str(ip)
    return ".".join(ip.exploded.replace(":", ""))


def _value(letter: str, ctx: MacroContext) -> str:
    values = {
        "s": ctx.sender,
        "l": ctx.local_part,
        "o": ctx.sender_domain,
        "d": ctx.domain,
        "i": dotted_ip(ctx.ip),
        "p": ctx.validated_name,
        "v": "in-addr" if ctx.ip.version == 4 else "ip6",
        "h": ctx.helo,
        "c": str(ctx.ip),
        "r": ctx.receiver,
        "t": str(ctx.timestamp),
    }
    return values[letter.lower()]


def _transform(value: str, macro: MacroExpand) -> str:
    parts = re.split("[" + re.escape(macro.delimiters or ".") + "]", value)
    if macro.reverse:
        parts.reverse()
    if macro.digits is not None:
        parts = parts[-macro.digits :]
    return ".".join(parts)


def expand(parts: tuple[MacroPart, ...], ctx: MacroContext) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        text = _transform(_value(part.letter, ctx), part)
        # An upper-case macro letter asks for URL escaping (§7.3), unreserved characters kept.
        out.append(quote(text, safe="-._~") if part.letter.isupper() else text)
    return "".join(out)


def as_domain(expanded: str) -> str:
    """§7.3: a name longer than 253 characters loses labels on the left until it fits."""
    name = expanded.rstrip(".")
    while len(name) > MAX_DOMAIN and "." in name:
        name = name.split(".", 1)[1]
    return name
