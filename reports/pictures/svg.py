"""A minimal SVG writer: every attribute value and text node is escaped, so a hostname or banner
that came off the network can never become markup. The result is ``Markup`` for the template."""

from __future__ import annotations

import re

from markupsafe import Markup
from markupsafe import escape as _escape

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "DejaVu Sans, sans-serif"
# Zero-width and bidi characters (CVE-2021-42574) shown as visible escapes, as in the rest of the report.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def escape(value: str) -> Markup:
    return _escape(_INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value))


def _attrs(attrs: dict[str, object]) -> str:
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f' {name}="{escape(str(value))}"')
    return "".join(parts)


def el(tag: str, *children: str, **attrs: object) -> str:
    """One element; ``children`` are already-built elements (from ``el``/``text``)."""
    inner = "".join(children)
    if not inner:
        return f"<{tag}{_attrs(attrs)}/>"
    return f"<{tag}{_attrs(attrs)}>{inner}</{tag}>"


def text(x: float, y: float, value: str, size: float = 11, **attrs: object) -> str:
    return f"<text{_attrs({'x': round(x, 1), 'y': round(y, 1), 'font-size': size, **attrs})}>{escape(value)}</text>"


def title(value: str) -> str:
    """A tooltip (SVG <title>), shown on hover in a browser."""
    return f"<title>{escape(value)}</title>"


def document(width: float, height: float, label: str, body: list[str], css_class: str) -> Markup:
    """The outer <svg>: scales to the column width, never wider than its own size."""
    head = (f'<svg xmlns="{SVG_NS}" role="img" class="picture {escape(css_class)}" aria-label="{escape(label)}" '
            f'viewBox="0 0 {round(width)} {round(height)}" width="100%" '
            f'style="max-width:{round(width)}px" font-family="{FONT}">')
    return Markup(head + title(label) + "".join(body) + "</svg>")


def clip(value: str, limit: int) -> str:
    """Shorten a label to fit a box (the full text stays in the tooltip)."""
    return value if len(value) <= limit else value[: max(1, limit - 1)] + "…"
