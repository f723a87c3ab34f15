"""Pages: jinja2 templates of this package with autoescape, and the error pages."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

# Zero-width and bidirectional-override characters (CVE-2021-42574) are shown as visible escapes,
# as in the reports: a reason or an answer must read the way it was typed.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _visible(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, Markup):
        return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    return value


def path(*segments: str) -> str:
    """A URL path of this app; each segment percent-encoded (a client name may hold any character)."""
    return "/" + "/".join(quote(s, safe="") for s in segments)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("scanner.web", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, finalize=_visible)
    env.globals["path"] = path
    env.globals["signature_js"] = Markup(static_text("signature.js"))  # our own file; the CSP allows its hash
    return env


def static_text(name: str) -> str:
    return resources.files("scanner.web").joinpath("static", name).read_text(encoding="utf-8")


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    session = request.scope.get("state", {}).get("session")
    html = environment().get_template(template).render(csrf=session.csrf if session else "", **context)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    html = environment().get_template("error.html.j2").render(status=status, title=title, message=message,
                                                              csrf="")
    return HTMLResponse(html, status_code=status)
