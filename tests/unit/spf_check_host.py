"""SPF check_host() (RFC 7208 §4): the SPF result for one sending IP and MAIL FROM, macros included.

Not used by the checks (a scan has no message to judge), so it lives with the tests, not in the
shipped package: it runs RFC 7208's own examples (Appendix A, §7.4) through the same parser
(checks/dns/spf.py) and lookup limits (checks/dns/spf_eval.py) that the static audit relies on,
which is what tests/unit/test_spf.py proves.
"""

from __future__ import annotations

import ipaddress

from checks.dns.resolver import AnswerStatus, normalize
from checks.dns.spf import Mechanism, SpfSyntaxError, parse, parse_macro_string, spf_records
from checks.dns.spf_eval import (
    MAX_MX_NAMES,
    EvalState,
    Lookup,
    SpfPermError,
    SpfResult,
    SpfTempError,
)
from tests.unit.spf_macro import MacroContext, as_domain, expand

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_PTR_NAMES = 10  # RFC 7208 §4.6.4: a "ptr" evaluation looks at no more than 10 names


def _is_multilabel(domain: str) -> bool:
    labels = domain.split(".")
    return len(labels) > 1 and all(0 < len(label) <= 63 for label in labels) and len(domain) <= 253


def _target(spec: str | None, ctx: MacroContext, state: EvalState) -> str:
    if spec is None:
        return ctx.domain
    parts = parse_macro_string(spec)
    if any(not isinstance(p, str) and p.letter.lower() == "p" for p in parts):
        ctx = MacroContext(ctx.sender, ctx.domain, ctx.ip, ctx.helo, _validated_name(state, ctx), ctx.receiver)
    return normalize(as_domain(expand(parts, ctx)))


def _addresses(state: EvalState, name: str, ip: IPAddress) -> list[IPAddress]:
    answer = state.fetch(name, "A" if ip.version == 4 else "AAAA")
    return [ipaddress.ip_address(r) for r in answer.records]


def _ptr_names(state: EvalState, ip: IPAddress) -> list[str]:
    """§5.5: PTR names of the IP whose own addresses include it (at most 10 looked at)."""
    answer = state.fetch(ip.reverse_pointer, "PTR")
    if answer.void:
        state.void(answer)
    validated = []
    for name in answer.records[:MAX_PTR_NAMES]:
        try:
            if ip in _addresses(state, name, ip):
                validated.append(normalize(name))
        except SpfTempError:
            continue  # §5.5: a lookup error skips that name
    return validated


def _validated_name(state: EvalState, ctx: MacroContext) -> str:
    names = _ptr_names(state, ctx.ip)
    for name in names:
        if name == ctx.domain or name.endswith("." + ctx.domain):
            return name
    return names[0] if names else "unknown"


def _matches(state: EvalState, term: Mechanism, ctx: MacroContext) -> bool:
    ip = ctx.ip
    if term.name == "all":
        return True
    if term.name in ("ip4", "ip6"):
        assert term.network is not None
        return term.network.version == ip.version and ip in term.network
    target = _target(term.domain_spec, ctx, state)
    if term.name == "include":
        result = _check(state, ip, target, ctx.sender, ctx.helo, via=f"include:{target}")
        if result is SpfResult.NONE:
            raise SpfPermError("target_none", f"include:{target} has no SPF record")
        return result is SpfResult.PASS
    prefix = term.cidr4 if ip.version == 4 else term.cidr6
    if term.name == "a":
        answer = state.fetch(target, "A" if ip.version == 4 else "AAAA")
        if answer.void:
            state.void(answer)
        return any(ip in ipaddress.ip_network(f"{a}/{prefix}", strict=False) for a in answer.records)
    if term.name == "mx":
        answer = state.fetch(target, "MX")
        if answer.void:
            state.void(answer)
        if len(answer.records) > MAX_MX_NAMES:
            raise SpfPermError("mx_limit", f"{target} has more than {MAX_MX_NAMES} MX records")
        names = [r.split()[-1] for r in sorted(answer.records, key=lambda r: int(r.split()[0]))]
        return any(ip in ipaddress.ip_network(f"{a}/{prefix}", strict=False)
                   for name in names for a in _addresses(state, name, ip))
    if term.name == "ptr":
        return any(n == target or n.endswith("." + target) for n in _ptr_names(state, ip))
    answer = state.fetch(target, "A")  # exists: always an A query (§5.7)
    if answer.void:
        state.void(answer)
    return not answer.void


def _check(state: EvalState, ip: IPAddress, domain: str, sender: str, helo: str, via: str = "") -> SpfResult:
    domain = normalize(domain)
    if not _is_multilabel(domain):
        return SpfResult.NONE  # §4.3
    answer = state.fetch(domain, "TXT")
    if via and answer.void:
        state.void(answer)
    if answer.status is AnswerStatus.NXDOMAIN:
        return SpfResult.NONE
    records = spf_records(answer.records)
    if not records:
        return SpfResult.NONE
    if len(records) > 1:
        raise SpfPermError("multiple", f"{domain} has {len(records)} SPF records")
    try:
        record = parse(records[0])
    except SpfSyntaxError as exc:
        raise SpfPermError("syntax", f"{domain}: {exc}") from exc
    ctx = MacroContext(sender, domain, ip, helo)
    for term in record.mechanisms:
        if term.queries_dns:
            state.count_term(domain, term.text)
        if _matches(state, term, ctx):
            return SpfResult(term.result)
    if record.redirect is not None:
        state.count_term(domain, f"redirect={record.redirect}")
        result = _check(state, ip, _target(record.redirect, ctx, state), sender, helo, via="redirect")
        if result is SpfResult.NONE:
            raise SpfPermError("target_none", f"redirect from {domain} to a name without SPF record")
        return result
    return SpfResult.NEUTRAL


def check_host(ip: str, domain: str, sender: str, lookup: Lookup, *, helo: str = "") -> SpfResult:
    """RFC 7208 §4: the SPF result for mail from ``sender`` (MAIL FROM) sent by ``ip``."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # §5: an IPv4-mapped IPv6 address is evaluated as IPv4
    if "@" not in sender:
        sender = f"postmaster@{sender or helo}"  # §4.3
    elif sender.startswith("@"):
        sender = "postmaster" + sender
    state = EvalState(lookup)
    try:
        return _check(state, address, domain, sender, helo)
    except SpfPermError:
        return SpfResult.PERMERROR
    except SpfTempError:
        return SpfResult.TEMPERROR
