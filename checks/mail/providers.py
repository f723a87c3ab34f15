"""Mailbox providers recognisable from MX host names (or from the practice's own address domain).

Consumer services (a free Gmail, Yahoo, Outlook.com, iCloud ... account) do not sign a HIPAA
business associate agreement; their business tiers (Google Workspace, Microsoft 365) can, and
then the BAA must be verified. Names only: nothing here is ever resolved or contacted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    name: str
    consumer: bool
    mx_suffixes: tuple[str, ...]  # an MX host matches when equal to one or ending in "." + one
    address_domains: tuple[str, ...] = ()  # mailbox domains of the service itself (user@gmail.com)


PROVIDERS: tuple[Provider, ...] = (
    Provider("Gmail (consumer Google account)", True, ("gmail-smtp-in.l.google.com",),
             ("gmail.com", "googlemail.com")),
    Provider("Yahoo/AOL Mail (consumer)", True, ("yahoodns.net", "mx.aol.com"),
             ("yahoo.com", "ymail.com", "rocketmail.com", "aol.com", "aim.com")),
    Provider("Outlook.com/Hotmail (consumer Microsoft account)", True, ("olc.protection.outlook.com", "hotmail.com"),
             ("outlook.com", "hotmail.com", "live.com", "msn.com")),
    Provider("iCloud Mail (consumer Apple account)", True, ("mail.icloud.com",), ("icloud.com", "me.com", "mac.com")),
    Provider("GMX / mail.com (consumer)", True, ("gmx.net", "gmx.com", "gmx.de", "mail.com"),
             ("gmx.com", "gmx.net", "gmx.de", "mail.com")),
    Provider("Yandex Mail (consumer)", True, ("yandex.net", "yandex.ru"), ("yandex.com", "yandex.ru")),
    Provider("Comcast/Xfinity (consumer ISP mailbox)", True, ("comcast.net",), ("comcast.net",)),
    Provider("Google Workspace (business tier)", False, ("aspmx.l.google.com", "googlemail.com", "smtp.google.com")),
    Provider("Microsoft 365 (business tier)", False, ("mail.protection.outlook.com",)),
)


def _matches(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def provider_of_mx(host: str) -> Provider | None:
    host = host.rstrip(".").lower()
    # Longest suffix first: "olc.protection.outlook.com" is consumer, "mail.protection.outlook.com" business.
    candidates = [(len(s), p) for p in PROVIDERS for s in p.mx_suffixes if _matches(host, s)]
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


def provider_of_address_domain(domain: str) -> Provider | None:
    domain = domain.rstrip(".").lower()
    return next((p for p in PROVIDERS if domain in p.address_domains), None)
