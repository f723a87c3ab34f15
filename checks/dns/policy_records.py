"""Small TXT record formats: DKIM keys (RFC 6376 §3.6.1), MTA-STS (RFC 8461 §3.1), TLS-RPT (RFC 8460 §3)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from checks.dns.taglist import TagListError, parse_tag_list

COMMON_DKIM_SELECTORS = ("default", "google", "selector1", "selector2", "k1", "mail", "dkim", "s1", "s2")
_STS_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


@dataclass(frozen=True)
class DkimKey:
    selector: str
    record: str
    key_type: str  # k= (default rsa)
    revoked: bool  # p= empty: the key was withdrawn (§3.6.1)
    problem: str = ""  # why the record is not a usable key ("" when it is)

    @property
    def usable(self) -> bool:
        return not self.revoked and not self.problem


def parse_dkim_key(selector: str, text: str) -> DkimKey | None:
    """A DKIM key record, or None when the TXT is not one (no v=DKIM1 and no p=)."""
    try:
        tags = parse_tag_list(text)
    except TagListError as exc:
        return DkimKey(selector, text, "", False, f"malformed: {exc}") if "p=" in text else None
    names = [t for t, _ in tags]
    values = dict(tags)
    if "v" in values and (names[0] != "v" or values["v"] != "DKIM1"):
        return DkimKey(selector, text, "", False, "v= must be first and equal DKIM1")
    if "p" not in values:
        return None if "v" not in values else DkimKey(selector, text, "", False, "no p= (public key) tag")
    key = re.sub(r"\s+", "", values["p"])
    if not key:
        return DkimKey(selector, text, values.get("k", "rsa"), True)
    try:
        base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return DkimKey(selector, text, values.get("k", "rsa"), False, "p= is not base64")
    return DkimKey(selector, text, values.get("k", "rsa").lower(), False)


@dataclass(frozen=True)
class PolicyTxt:
    """The outcome of reading an MTA-STS or TLS-RPT TXT record set."""

    valid: bool
    record: str  # the one record that counts ("" when none)
    problem: str  # why there is no valid policy ("" when valid)


def _version_records(values: tuple[str, ...], version: str) -> list[str]:
    return [v for v in values if v.replace(" ", "").startswith(f"v={version};") or v.strip() == f"v={version}"]


def read_mta_sts(values: tuple[str, ...]) -> PolicyTxt:
    """RFC 8461 §3.1: exactly one record starting v=STSv1, with an id of 1-32 alphanumerics."""
    records = _version_records(values, "STSv1")
    if len(records) != 1:
        return PolicyTxt(False, "", "no v=STSv1 record" if not records else f"{len(records)} v=STSv1 records "
                         "(senders then assume there is no policy)")
    try:
        tags = dict(parse_tag_list(records[0]))
    except TagListError as exc:
        return PolicyTxt(False, records[0], f"malformed record: {exc}")
    if not _STS_ID.match(tags.get("id", "")):
        return PolicyTxt(False, records[0], "id= missing or not 1-32 letters and digits")
    return PolicyTxt(True, records[0], "")


def read_tls_rpt(values: tuple[str, ...]) -> PolicyTxt:
    """RFC 8460 §3: exactly one record starting v=TLSRPTv1, with rua= of mailto: or https: URIs."""
    records = _version_records(values, "TLSRPTv1")
    if len(records) != 1:
        return PolicyTxt(False, "", "no v=TLSRPTv1 record" if not records else f"{len(records)} v=TLSRPTv1 "
                         "records (reporters then ignore them)")
    try:
        tags = dict(parse_tag_list(records[0]))
    except TagListError as exc:
        return PolicyTxt(False, records[0], f"malformed record: {exc}")
    uris = [u.strip() for u in tags.get("rua", "").split(",") if u.strip()]
    if not uris or not all(u.lower().startswith(("mailto:", "https:")) for u in uris):
        return PolicyTxt(False, records[0], "rua= missing or not mailto:/https: URIs")
    return PolicyTxt(True, records[0], "")
