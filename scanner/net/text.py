"""Hostile text made safe to store as evidence: control and invisible characters escaped, length capped."""

from __future__ import annotations

# Zero-width and bidirectional-override characters: printable to Python, but they can make
# evidence read differently from what the server sent (Trojan Source, CVE-2021-42574).
_INVISIBLE = frozenset("\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")

def sanitize(text: str, limit: int = 512) -> str:
    """Printable form of a hostile string for evidence: control characters escaped, length capped."""
    out = []
    for ch in text:
        if ch == "\t" or (ch.isprintable() and ch not in _INVISIBLE):
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
    cleaned = "".join(out)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"
