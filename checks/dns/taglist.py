"""The tag=value lists of DKIM (RFC 6376 §3.2), which DMARC, MTA-STS and TLS-RPT records reuse."""

from __future__ import annotations

import re

_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class TagListError(ValueError):
    """Not a tag-list: a part without '=', a bad tag name, or a tag given twice."""


def parse_tag_list(text: str) -> list[tuple[str, str]]:
    """``"v=DMARC1; p=none;"`` -> ``[("v", "DMARC1"), ("p", "none")]``.

    Whitespace around tags, '=' and ';' is ignored; empty parts (a trailing ';', or ';;', which
    the grammar does not allow but receivers accept) are skipped; a repeated tag makes the whole
    list invalid (RFC 6376 §3.2).
    """
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for part in text.split(";"):
        if not part.strip():
            continue
        tag, eq, value = part.partition("=")
        tag = tag.strip()
        if not eq or not _TAG.match(tag):
            raise TagListError(f"{part.strip()!r} is not a tag=value pair")
        if tag in seen:
            raise TagListError(f"tag {tag!r} appears twice")
        seen.add(tag)
        pairs.append((tag, value.strip()))
    return pairs
