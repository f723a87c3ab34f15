"""DNSSEC facts from real signatures: a zone signed here with dnspython (ECDSA P-256), served by
a fake client as DNS replies; checks DS matching, signature validation, expiry, missing pieces."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dns.dnssec
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
from cryptography.hazmat.primitives.asymmetric import ec

from checks.dns import dnssec

ZONE = dns.name.from_text("clinic.test.")
ALGORITHM = dns.dnssec.Algorithm.ECDSAP256SHA256


@dataclass
class SignedZone:
    """Keys and signed RRsets of clinic.test, and what each query returns."""

    expired: bool = False
    ds_of_other_key: bool = False
    publish_ds: bool = True
    signed: bool = True
    replies: dict[tuple[str, str], dns.message.Message] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ksk_private = ec.generate_private_key(ec.SECP256R1())
        zsk_private = ec.generate_private_key(ec.SECP256R1())
        ksk = dns.dnssec.make_dnskey(ksk_private.public_key(), ALGORITHM, flags=257)
        zsk = dns.dnssec.make_dnskey(zsk_private.public_key(), ALGORITHM, flags=256)
        keys = dns.rrset.from_rdata(ZONE, 300, ksk, zsk)
        soa = dns.rrset.from_text(ZONE, 300, "IN", "SOA", "ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 300")
        now = int(time.time())
        window = (now - 7200, now - 3600) if self.expired else (now - 60, now + 3600)
        key_sig = dns.dnssec.sign(keys, ksk_private, ZONE, ksk, inception=window[0], expiration=window[1])
        soa_sig = dns.dnssec.sign(soa, zsk_private, ZONE, zsk, inception=window[0], expiration=window[1])
        other = dns.dnssec.make_dnskey(ec.generate_private_key(ec.SECP256R1()).public_key(), ALGORITHM, flags=257)
        ds = dns.dnssec.make_ds(ZONE, other if self.ds_of_other_key else ksk, "SHA256")
        self._reply("SOA", [soa, *([dns.rrset.from_rdata(ZONE, 300, soa_sig)] if self.signed else [])])
        self._reply("DNSKEY", [keys, dns.rrset.from_rdata(ZONE, 300, key_sig)] if self.signed else [])
        self._reply("DS", [dns.rrset.from_rdata(ZONE, 300, ds)] if self.publish_ds and self.signed else [])

    def _reply(self, rdtype: str, rrsets: list[dns.rrset.RRset]) -> None:
        response = dns.message.make_response(dns.message.make_query(ZONE, rdtype, want_dnssec=True))
        response.answer.extend(rrsets)
        self.replies[("clinic.test", rdtype)] = response

    def message(self, name: str, rdtype: str, *, dnssec: bool = False) -> tuple[dns.message.Message, str]:
        if (name, rdtype) not in self.replies:  # a name below the apex: NODATA with the zone's SOA
            response = dns.message.make_response(dns.message.make_query(name, rdtype))
            response.authority.append(self.replies[("clinic.test", "SOA")].answer[0])
            return response, "192.0.2.53"
        return self.replies[(name, rdtype)], "192.0.2.53"


def test_a_correctly_signed_zone_validates() -> None:
    facts = dnssec.collect(SignedZone(), "clinic.test")  # type: ignore[arg-type]
    assert facts.signed and facts.chain_valid, facts.problems
    assert len(facts.dnskeys) == 2 and len(facts.ds_matched_tags) == 1 and facts.problems == ()


def test_the_zone_of_a_name_below_the_apex_is_found() -> None:
    facts = dnssec.collect(SignedZone(), "www.clinic.test")  # type: ignore[arg-type]
    assert facts.zone == "clinic.test" and facts.chain_valid


def test_expired_signatures_do_not_validate() -> None:
    facts = dnssec.collect(SignedZone(expired=True), "clinic.test")  # type: ignore[arg-type]
    assert facts.signed and not facts.chain_valid
    assert any("expired" in p.lower() for p in facts.problems), facts.problems


def test_a_ds_for_another_key_breaks_the_chain() -> None:
    facts = dnssec.collect(SignedZone(ds_of_other_key=True), "clinic.test")  # type: ignore[arg-type]
    assert facts.ds and not facts.ds_matched_tags and not facts.chain_valid


def test_signed_without_ds_is_not_valid() -> None:
    facts = dnssec.collect(SignedZone(publish_ds=False), "clinic.test")  # type: ignore[arg-type]
    assert facts.signed and not facts.ds and not facts.chain_valid


def test_unsigned_zone() -> None:
    facts = dnssec.collect(SignedZone(signed=False), "clinic.test")  # type: ignore[arg-type]
    assert not facts.signed and not facts.chain_valid and facts.problems == ()
    assert [a.rdtype for a in facts.answers] == ["DNSKEY", "DS", "RRSIG(SOA)"]
