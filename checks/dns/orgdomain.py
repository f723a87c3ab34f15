"""The organizational domain of a name (RFC 7489 §3.2), approximated without the Public Suffix List.

The PSL is a 200 KB moving target that would have to ship and be kept fresh; a practice's mail
domain is almost always ``name.tld`` or ``name.<two-label suffix>``. We take the last two labels,
or three when the last two form one of the common two-label public suffixes below. A wrong
guess only changes which _dmarc record a *subdomain* inherits, and the finding names the
domain it was read from.
"""

from __future__ import annotations

TWO_LABEL_SUFFIXES = frozenset({
    "co.uk", "org.uk", "ac.uk", "gov.uk", "nhs.uk", "ltd.uk", "plc.uk", "me.uk", "net.uk",
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "id.au", "asn.au",
    "co.nz", "org.nz", "net.nz", "govt.nz", "co.za", "org.za", "co.jp", "or.jp", "ne.jp", "ac.jp",
    "co.in", "org.in", "net.in", "com.br", "net.br", "org.br", "com.mx", "org.mx", "com.ar",
    "com.cn", "com.hk", "com.sg", "com.tw", "co.kr", "co.il", "org.il", "com.tr", "com.pl",
    "co.at", "or.at", "com.es", "com.pt", "qc.ca", "on.ca", "bc.ca", "ab.ca",
})


def organizational_domain(domain: str) -> str:
    labels = domain.strip().rstrip(".").lower().split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in TWO_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])
