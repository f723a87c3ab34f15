"""SPF records (RFC 7208): which TXT records are SPF, and what one is made of.

Our own parser of the RFC's ABNF (§4.5, §4.6.1, §5, §6, §7.1, §12): no SPF library is added,
because the checks need the structure (each term, its qualifier, its DNS cost), not only a
verdict. Any syntax error makes the whole record a "permerror" (RFC 7208 §4.6): ``parse`` raises
``SpfSyntaxError`` naming the offending term.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

VERSION = "v=spf1"
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
# Terms that cost a DNS query and count toward the limit of 10 (§4.6.4), with "redirect".
DNS_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
MACRO_LETTERS = frozenset("slodiphv")
EXP_ONLY_MACRO_LETTERS = frozenset("crt")  # §7.2: only in explanation strings
DELIMITERS = frozenset(".-+,/_=")

_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9._-]*)=(.*)$")
_MECHANISM = re.compile(r"^([+\-~?]?)([A-Za-z][A-Za-z0-9._-]*)(.*)$")
_CIDR_SUFFIX = re.compile(r"(?:/([0-9]+))?(?://([0-9]+))?$")
_TOPLABEL = re.compile(r"^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$")
_MACRO_EXPAND = re.compile(r"%\{([A-Za-z])([0-9]*)(r?)([.\-+,/_=]*)\}", re.IGNORECASE)


class SpfSyntaxError(ValueError):
    """The record does not follow RFC 7208's grammar (a permerror, §4.6)."""


def is_spf(text: str) -> bool:
    """§4.5: a record starts with "v=spf1" followed by a space or its end ("v=spf10" is not SPF)."""
    return text[:6].lower() == VERSION and (len(text) == 6 or text[6] == " ")


def spf_records(txt_values: tuple[str, ...] | list[str]) -> list[str]:
    """The SPF records among a name's TXT values (§4.5: others are discarded)."""
    return [t for t in txt_values if is_spf(t)]


@dataclass(frozen=True)
class MacroExpand:
    """One ``%{...}`` of a macro-string (§7.1)."""

    letter: str  # as written: upper case asks for URL escaping
    digits: int | None
    reverse: bool
    delimiters: str


MacroPart = str | MacroExpand


def parse_macro_string(text: str, *, explanation: bool = False) -> tuple[MacroPart, ...]:
    """Split a macro-string into literals and macros; raise on anything §7.1 does not allow."""
    parts: list[MacroPart] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            nxt = text[i + 1 : i + 2]
            if nxt in ("%", "_", "-"):
                parts.append({"%": "%", "_": " ", "-": "%20"}[nxt])
                i += 2
                continue
            match = _MACRO_EXPAND.match(text, i)
            if not match:
                raise SpfSyntaxError(f"bad macro at {text[i:i + 12]!r}")
            letter, digits, reverse, delims = match.groups()
            allowed = MACRO_LETTERS | (EXP_ONLY_MACRO_LETTERS if explanation else frozenset())
            if letter.lower() not in allowed:
                raise SpfSyntaxError(f"macro letter {letter!r} is not allowed here")
            if digits and int(digits) == 0:
                raise SpfSyntaxError("a macro's digit transformer must be nonzero (RFC 7208 §7.3)")
            parts.append(MacroExpand(letter, int(digits) if digits else None, bool(reverse), delims))
            i = match.end()
            continue
        if not (0x21 <= ord(ch) <= 0x7E) and not (explanation and ch == " "):
            raise SpfSyntaxError(f"character {ch!r} is not allowed in a macro-string")
        parts.append(ch)
        i += 1
    # Merge adjacent literal characters for readability.
    merged: list[MacroPart] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return tuple(merged)


def has_macros(domain_spec: str) -> bool:
    return "%" in domain_spec


def validate_domain_spec(spec: str) -> None:
    """§7.1: domain-spec = macro-string domain-end; a plain name must also be a valid DNS name."""
    if not spec:
        raise SpfSyntaxError("empty domain-spec")
    parts = parse_macro_string(spec)
    if isinstance(parts[-1], MacroExpand):
        return  # domain-end may be a macro-expand
    tail = parts[-1].removesuffix(".")
    if "." not in tail or not _TOPLABEL.match(tail.rsplit(".", 1)[1]):
        raise SpfSyntaxError(f"{spec!r} does not end in a valid top label (a domain-spec needs '.' toplabel)")
    if not has_macros(spec):
        labels = spec.removesuffix(".").split(".")
        if len(spec.removesuffix(".")) > 253 or not all(0 < len(label) <= 63 for label in labels):
            raise SpfSyntaxError(f"{spec!r} is not a valid domain name")


@dataclass(frozen=True)
class Mechanism:
    """A directive: qualifier + mechanism (§4.6.2, §5)."""

    qualifier: str  # "+", "-", "~", "?"
    name: str  # lower case
    domain_spec: str | None = None  # include/a/mx/ptr/exists target as written
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None  # ip4/ip6
    cidr4: int = 32  # a/mx dual-cidr-length (§5.6)
    cidr6: int = 128
    text: str = ""

    @property
    def queries_dns(self) -> bool:
        return self.name in DNS_MECHANISMS

    @property
    def result(self) -> str:
        return QUALIFIERS[self.qualifier]


@dataclass(frozen=True)
class Modifier:
    name: str  # lower case
    value: str
    text: str = ""


@dataclass(frozen=True)
class SpfRecord:
    text: str
    terms: tuple[Mechanism | Modifier, ...]

    @property
    def mechanisms(self) -> tuple[Mechanism, ...]:
        return tuple(t for t in self.terms if isinstance(t, Mechanism))

    def modifier(self, name: str) -> str | None:
        return next((t.value for t in self.terms if isinstance(t, Modifier) and t.name == name), None)

    @property
    def all_mechanism(self) -> Mechanism | None:
        return next((m for m in self.mechanisms if m.name == "all"), None)

    @property
    def redirect(self) -> str | None:
        """§6.1: "redirect" is ignored when the record has an "all" mechanism anywhere."""
        return None if self.all_mechanism is not None else self.modifier("redirect")


def _cidr(value: str | None, limit: int, what: str) -> int | None:
    if value is None:
        return None
    # ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT): no leading zeros, at most `limit`.
    if not value.isascii() or not value.isdigit() or (len(value) > 1 and value[0] == "0") or int(value) > limit:
        raise SpfSyntaxError(f"{what}: bad prefix length /{value}")
    return int(value)


def _mechanism(token: str) -> Mechanism:
    match = _MECHANISM.match(token)
    if not match:
        raise SpfSyntaxError(f"term {token!r} is neither a mechanism nor a modifier")
    qualifier, raw_name, rest = match.groups()
    name = raw_name.lower()
    qualifier = qualifier or "+"
    if name not in MECHANISMS:
        raise SpfSyntaxError(f"unknown mechanism {raw_name!r} (RFC 7208 §5: a permerror)")
    if name == "all":
        if rest:
            raise SpfSyntaxError(f"'all' takes no argument: {token!r}")
        return Mechanism(qualifier, name, text=token)
    if name in ("ip4", "ip6"):
        if not rest.startswith(":"):
            raise SpfSyntaxError(f"{name} needs an address: {token!r}")
        address, slash, length = rest[1:].rpartition("/") if "/" in rest else (rest[1:], "", "")
        limit = 32 if name == "ip4" else 128
        prefix = _cidr(length, limit, token) if slash else limit
        try:
            parsed = ipaddress.IPv4Address(address) if name == "ip4" else ipaddress.IPv6Address(address)
        except ValueError as exc:
            raise SpfSyntaxError(f"{token!r}: {address!r} is not an IPv{name[-1]} address") from exc
        network = ipaddress.ip_network(f"{parsed}/{prefix}", strict=False)
        return Mechanism(qualifier, name, network=network, text=token)
    cidr4: int | None = None
    cidr6: int | None = None
    if name in ("a", "mx"):
        suffix = _CIDR_SUFFIX.search(rest)
        assert suffix is not None  # the pattern also matches the empty suffix
        cidr4 = _cidr(suffix.group(1), 32, token)
        cidr6 = _cidr(suffix.group(2), 128, token)
        rest = rest[: suffix.start()]
    domain: str | None = None
    if rest:
        if not rest.startswith(":"):
            raise SpfSyntaxError(f"unexpected {rest!r} after {raw_name!r}")
        domain = rest[1:]
        validate_domain_spec(domain)
    elif name in ("include", "exists"):
        raise SpfSyntaxError(f"{name} needs a domain: {token!r}")
    return Mechanism(qualifier, name, domain, None, 32 if cidr4 is None else cidr4,
                     128 if cidr6 is None else cidr6, token)


def parse(text: str) -> SpfRecord:
    """Parse one SPF record. Raises SpfSyntaxError for anything §12's ABNF does not allow."""
    if not is_spf(text):
        raise SpfSyntaxError("not an SPF record (must start with 'v=spf1')")
    terms: list[Mechanism | Modifier] = []
    seen_modifiers: set[str] = set()
    for token in text[6:].split(" "):
        if not token:
            continue  # 1*SP between terms, *SP at the end
        modifier = _MODIFIER.match(token)
        if modifier:
            name, value = modifier.group(1).lower(), modifier.group(2)
            if name in ("redirect", "exp"):
                if name in seen_modifiers:
                    raise SpfSyntaxError(f"'{name}' appears more than once (RFC 7208 §6: a permerror)")
                seen_modifiers.add(name)
                validate_domain_spec(value)
            else:
                parse_macro_string(value)  # unknown modifiers are ignored, but must be well-formed
            terms.append(Modifier(name, value, token))
        else:
            terms.append(_mechanism(token))
    return SpfRecord(text, tuple(terms))
