"""DNSSEC facts of a domain's zone (RFC 4033-4035): DNSKEY, the parent's DS, and validation now.

Collected in the probe because signature validity depends on the time of collection. We check
the chain from the parent's DS down: a DS that matches a DNSKEY (RFC 4034 §5), that key
signing the DNSKEY RRset, and the zone's SOA validating with it. The DS RRset itself is taken
as the resolver served it: validating the parent's chain up to the root is the validating
resolver's job, and its AD flag (RFC 4035 §3.2.3) is recorded when it sets one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset

from checks.dns.resolver import AnswerStatus, DnsAnswer, DnsClient, normalize
from scanner.errors import ProtocolError
from scanner.models import utcnow


@dataclass(frozen=True)
class DnssecFacts:
    zone: str  # the zone the domain belongs to (its apex, found from the SOA)
    dnskeys: tuple[str, ...]  # "key tag 2371 flags 257 ECDSAP256SHA256"
    ds: tuple[str, ...]  # the parent's DS records, as text
    ds_matched_tags: tuple[int, ...]  # key tags of DNSKEYs that a DS matches
    dnskey_validated: bool  # the DNSKEY RRset carries a valid signature by a DS-matched key
    soa_validated: bool  # the zone's SOA validates with the DNSKEY RRset
    problems: tuple[str, ...]
    resolver_authenticated: bool  # AD flag on the DNSKEY answer
    answers: tuple[DnsAnswer, ...]

    @property
    def signed(self) -> bool:
        return bool(self.dnskeys)

    @property
    def chain_valid(self) -> bool:
        return bool(self.ds_matched_tags) and self.dnskey_validated and self.soa_validated


def _find(message: dns.message.Message, name: dns.name.Name, rdtype: dns.rdatatype.RdataType,
          covers: dns.rdatatype.RdataType = dns.rdatatype.NONE) -> dns.rrset.RRset | None:
    for rrset in message.answer:
        if rrset.name == name and rrset.rdtype == rdtype and rrset.covers == covers:
            return rrset
    return None


def _zone_of(message: dns.message.Message, asked: dns.name.Name) -> dns.name.Name:
    if _find(message, asked, dns.rdatatype.SOA) is not None:
        return asked
    for rrset in message.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset.name
    raise ProtocolError(f"DNS SOA {asked}: the answer names no zone (no SOA in answer or authority)")


def _answer(name: str, rdtype: str, rrset: dns.rrset.RRset | None, server: str, ad: bool,
            records: tuple[str, ...] | None = None) -> DnsAnswer:
    values = records if records is not None else tuple(r.to_text() for r in rrset) if rrset else ()
    return DnsAnswer(name, rdtype, AnswerStatus.OK if values else AnswerStatus.NODATA, values, server,
                     utcnow(), ad)


def collect(client: DnsClient, domain: str) -> DnssecFacts:
    asked = dns.name.from_text(normalize(domain) + ".")
    soa_msg, server = client.message(domain, "SOA", dnssec=True)
    zone = _zone_of(soa_msg, asked)
    zone_text = normalize(zone.to_text())
    if zone != asked:
        soa_msg, server = client.message(zone_text, "SOA", dnssec=True)
    key_msg, _ = client.message(zone_text, "DNSKEY", dnssec=True)
    ds_msg, _ = client.message(zone_text, "DS", dnssec=True)
    soa = _find(soa_msg, zone, dns.rdatatype.SOA)
    soa_sigs = _find(soa_msg, zone, dns.rdatatype.RRSIG, dns.rdatatype.SOA)
    keys = _find(key_msg, zone, dns.rdatatype.DNSKEY)
    key_sigs = _find(key_msg, zone, dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)
    ds = _find(ds_msg, zone, dns.rdatatype.DS)
    problems: list[str] = []
    now = time.time()
    key_text = tuple(f"key tag {dns.dnssec.key_id(k)} flags {k.flags} {dns.dnssec.algorithm_to_text(k.algorithm)}"
                     for k in keys or ())
    matched: list[int] = []
    for ds_rdata in ds or ():
        for key in keys or ():
            try:
                if dns.dnssec.make_ds(zone, key, ds_rdata.digest_type) == ds_rdata:
                    matched.append(dns.dnssec.key_id(key))
            except (dns.dnssec.UnsupportedAlgorithm, ValueError) as exc:
                problems.append(f"DS {ds_rdata.to_text()[:40]}: {exc}")
    key_valid = False
    if keys is not None and key_sigs is not None:
        for sig in key_sigs:
            if sig.key_tag not in matched:
                continue
            try:
                dns.dnssec.validate_rrsig(keys, sig, {zone: keys}, now=now)
                key_valid = True
            except (dns.dnssec.ValidationFailure, dns.dnssec.UnsupportedAlgorithm) as exc:
                problems.append(f"DNSKEY signature by key {sig.key_tag}: {exc}")
    soa_valid = False
    if keys is not None and soa is not None and soa_sigs is not None:
        try:
            dns.dnssec.validate(soa, soa_sigs, {zone: keys}, now=now)
            soa_valid = True
        except (dns.dnssec.ValidationFailure, dns.dnssec.UnsupportedAlgorithm) as exc:
            problems.append(f"SOA signature: {exc}")
    elif keys is not None:
        problems.append("the SOA answer carries no RRSIG although the zone has DNSKEYs")
    ad = bool(key_msg.flags & dns.flags.AD)
    answers = (
        _answer(zone_text, "DNSKEY", keys, server, ad, key_text),
        _answer(zone_text, "DS", ds, server, bool(ds_msg.flags & dns.flags.AD)),
        _answer(zone_text, "RRSIG(SOA)", soa_sigs, server, bool(soa_msg.flags & dns.flags.AD),
                tuple(f"key tag {s.key_tag} expires {s.expiration}" for s in soa_sigs or ())),
    )
    return DnssecFacts(zone_text, key_text, tuple(r.to_text() for r in ds or ()), tuple(sorted(set(matched))),
                       key_valid, soa_valid, tuple(problems), ad, answers)
