"""SPF evaluation (RFC 7208): the static audit of a domain's record, and what check_host() shares.

``analyze`` is what the checks use: it walks the record and every include/redirect target the
way a receiver would when no mechanism matches (the worst case), counting the DNS-querying
terms (limit 10) and the void lookups (limit 2) of §4.6.4, and detecting include loops,
records without SPF at an include target, several records, syntax errors. It needs no sender
IP; terms whose target holds a macro cannot be followed and are noted as such.

``check_host``, the receiver's function of §4 for one IP and sender, is test code
(tests/unit/spf_check_host.py): it runs RFC 7208's examples through this module's limits.

Both take a ``lookup(name, rdtype) -> DnsAnswer``: the probe's live client, or a dict in tests.
A lookup that fails raises ``SpfTempError`` (a temperror, §2.6.6) — or, in the probe, a
ProbeError that ends the probe: we never judge a record from a partial answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from checks.dns.resolver import AnswerStatus, DnsAnswer, normalize
from checks.dns.spf import (
    QUALIFIERS,
    Mechanism,
    SpfSyntaxError,
    has_macros,
    parse,
    spf_records,
)

Lookup = Callable[[str, str], DnsAnswer]

MAX_DNS_TERMS = 10  # §4.6.4
MAX_VOID_LOOKUPS = 2  # §4.6.4, the RECOMMENDED default
MAX_MX_NAMES = 10  # §4.6.4: an "mx" evaluation may not look up more than 10 names
MAX_QUERIES = 120  # our own safety net against a hostile record tree


class SpfTempError(Exception):
    """A DNS lookup failed (SERVFAIL, timeout): the result is a temperror (§2.6.6)."""


class SpfResult(StrEnum):
    """§2.6."""

    NONE = "none"
    NEUTRAL = "neutral"
    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


class SpfPermError(Exception):
    """Evaluation stops with a permerror; ``kind`` names the rule broken."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class EvalState:
    """Counters and records shared by one evaluation and everything it includes."""

    lookup: Lookup
    dns_terms: int = 0
    void_lookups: int = 0
    answers: list[DnsAnswer] = field(default_factory=list)
    walked: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fetch(self, name: str, rdtype: str) -> DnsAnswer:
        if len(self.answers) >= MAX_QUERIES:
            raise SpfPermError("query_limit", f"more than {MAX_QUERIES} DNS queries: evaluation stopped")
        answer = self.lookup(normalize(name), rdtype)
        self.answers.append(answer)
        return answer

    def count_term(self, where: str, term: str) -> None:
        self.dns_terms += 1
        if self.dns_terms > MAX_DNS_TERMS:
            raise SpfPermError("lookup_limit", f"more than {MAX_DNS_TERMS} DNS-querying terms (the "
                                             f"{self.dns_terms}th is '{term}' in {where}; RFC 7208 §4.6.4)")

    def void(self, answer: DnsAnswer) -> None:
        self.void_lookups += 1
        if self.void_lookups > MAX_VOID_LOOKUPS:
            raise SpfPermError("void_limit", f"more than {MAX_VOID_LOOKUPS} void lookups (the last: "
                                           f"{answer.rdtype} {answer.name} -> {answer.status.value}; "
                                           "RFC 7208 §4.6.4)")

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def spf_record_at(self, name: str, via: str) -> str:
        """The one SPF record at an include/redirect target, or a permerror (§5.2, §6.1)."""
        answer = self.fetch(name, "TXT")
        if answer.void:
            self.void(answer)
        records = spf_records(answer.records)
        if not records:
            raise SpfPermError("target_none", f"{via} points at {name}, which has no SPF record (a permerror)")
        if len(records) > 1:
            raise SpfPermError("multiple", f"{name} (via {via}) has {len(records)} SPF records "
                                         "(RFC 7208 §4.5: a permerror)")
        return records[0]


@dataclass(frozen=True)
class SpfAnalysis:
    """The static audit of one domain's SPF policy."""

    domain: str
    records: tuple[str, ...]  # SPF records at the domain itself
    result: SpfResult  # NONE, PERMERROR, TEMPERROR, or the result for senders nothing matches
    policy: str = ""  # where that result comes from: "-all", "redirect=x: ~all", "no all"
    problem: str = ""  # why a permerror/temperror
    problem_kind: str = ""  # syntax, multiple, lookup_limit, void_limit, loop, target_none, ...
    dns_terms: int = 0
    void_lookups: int = 0
    walked: tuple[tuple[str, str], ...] = ()  # (domain, record) of the top record and each target
    notes: tuple[str, ...] = ()
    answers: tuple[DnsAnswer, ...] = ()  # every DNS answer the audit used (evidence)

    @property
    def valid(self) -> bool:
        return self.result not in (SpfResult.NONE, SpfResult.PERMERROR, SpfResult.TEMPERROR)


def _walk(state: EvalState, domain: str, text: str, chain: tuple[str, ...]) -> tuple[str | None, str]:
    """Walk one record; returns the qualifier of its "all" (or the redirect's) and its source."""
    try:
        record = parse(text)
    except SpfSyntaxError as exc:
        raise SpfPermError("syntax", f"syntax error in the record of {domain}: {exc}") from exc
    state.walked.append((domain, text))
    for term in record.mechanisms:
        if term.name == "all":
            if term is not record.mechanisms[-1]:
                state.note(f"{domain}: mechanisms after 'all' are never evaluated (RFC 7208 §5.1)")
            return term.qualifier, f"{term.text} in {domain}"
        if term.queries_dns:
            state.count_term(domain, term.text)
        _static_term(state, domain, term, chain)
    if record.modifier("redirect") is None:
        return None, f"no 'all' and no redirect in {domain}: neutral (RFC 7208 §4.7)"
    target_spec = record.modifier("redirect") or ""
    state.count_term(domain, f"redirect={target_spec}")
    if has_macros(target_spec):
        state.note(f"{domain}: redirect={target_spec} holds a macro and was not followed")
        return None, f"redirect={target_spec} (not followed: macro)"
    target = normalize(target_spec)
    if target in chain:
        raise SpfPermError("loop", "redirect loop: " + " -> ".join((*chain, target)))
    qualifier, source = _walk(state, target, state.spf_record_at(target, f"redirect={target}"), (*chain, target))
    return qualifier, f"redirect={target}: {source}"


def _static_term(state: EvalState, domain: str, term: Mechanism, chain: tuple[str, ...]) -> None:
    if term.name == "ptr":
        state.note(f"{domain}: 'ptr' is deprecated (RFC 7208 §5.5 SHOULD NOT) and needs a sender IP to evaluate")
        return
    if term.name not in ("include", "a", "mx", "exists"):
        return
    spec = term.domain_spec or domain
    if has_macros(spec):
        state.note(f"{domain}: '{term.text}' holds a macro; its lookups depend on the sender and were not made")
        return
    target = normalize(spec)
    if term.name == "include":
        if target in chain:
            raise SpfPermError("loop", "include loop: " + " -> ".join((*chain, target)))
        _walk(state, target, state.spf_record_at(target, f"include:{target}"), (*chain, target))
    elif term.name == "a":
        answer = state.fetch(target, "A")
        if answer.void and state.fetch(target, "AAAA").void:
            state.void(answer)
    elif term.name == "mx":
        answer = state.fetch(target, "MX")
        if answer.void:
            state.void(answer)
        elif len(answer.records) > MAX_MX_NAMES:
            raise SpfPermError("mx_limit", f"'{term.text}' in {domain}: {target} has {len(answer.records)} MX "
                                         f"records, more than {MAX_MX_NAMES} (RFC 7208 §4.6.4)")
    else:  # exists without a macro: a fixed name
        if state.fetch(target, "A").void:
            state.void(state.answers[-1])


def analyze(domain: str, lookup: Lookup) -> SpfAnalysis:
    """The static audit of ``domain``'s SPF policy (see the module docstring)."""
    state = EvalState(lookup)
    domain = normalize(domain)
    records: tuple[str, ...] = ()

    def done(result: SpfResult, **kw: object) -> SpfAnalysis:
        return SpfAnalysis(domain, records, result, dns_terms=state.dns_terms, void_lookups=state.void_lookups,
                           walked=tuple(state.walked), notes=tuple(state.notes), answers=tuple(state.answers),
                           **kw)  # type: ignore[arg-type]

    try:
        answer = state.fetch(domain, "TXT")
        records = tuple(spf_records(answer.records))
        if not records:
            return done(SpfResult.NONE, problem="no SPF record" if answer.status is not AnswerStatus.NXDOMAIN
                        else "the domain does not exist (NXDOMAIN)")
        if len(records) > 1:
            return done(SpfResult.PERMERROR, problem=f"{len(records)} SPF records (RFC 7208 §4.5: a permerror)",
                        problem_kind="multiple")
        qualifier, source = _walk(state, domain, records[0], (domain,))
    except SpfPermError as exc:
        return done(SpfResult.PERMERROR, problem=str(exc), problem_kind=exc.kind)
    except SpfTempError as exc:
        return done(SpfResult.TEMPERROR, problem=str(exc), problem_kind="temperror")
    result = SpfResult(QUALIFIERS[qualifier]) if qualifier else SpfResult.NEUTRAL
    return done(result, policy=source)
