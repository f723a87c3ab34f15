"""Reading a posted form: only from this app's own pages, only with the session's CSRF token.

A form post is refused (403) when the browser says it comes from another site (``Origin`` is
not this server, or ``Sec-Fetch-Site`` is cross-site or same-site: another port on 127.0.0.1 is
the same *site* but another *origin*) or when its ``csrf`` field is not this session's token
(OWASP CSRF Prevention Cheat Sheet: synchronizer token + origin verification).
"""

from __future__ import annotations

import secrets

from starlette.datastructures import FormData
from starlette.requests import Request

from scanner.web.auth import Session
from scanner.web.errors import PageError

MAX_FIELDS = 2000  # an interview page has ~13 activities x 3 fields; a sheet ~30 projects x 4


def session_of(request: Request) -> Session:
    session: Session = request.scope["state"]["session"]
    return session


async def verified_form(request: Request, origins: frozenset[str]) -> FormData:
    origin = request.headers.get("origin")
    fetch_site = request.headers.get("sec-fetch-site")
    if (origin is not None and origin not in origins) or fetch_site in ("cross-site", "same-site"):
        raise PageError(403, "Refused", "This form was sent from another site; gapscan accepts its own pages only.")
    form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    given = form.get("csrf")
    if not isinstance(given, str) or not secrets.compare_digest(given.encode(), session_of(request).csrf.encode()):
        raise PageError(403, "Refused", "This form is not from this session (its CSRF token is missing or wrong). "
                                        "Reload the page and send it again.")
    return form


def text(form: FormData, name: str, limit: int) -> tuple[str | None, str | None]:
    """A trimmed text field: (value or None when blank, error or None)."""
    raw = form.get(name)
    value = raw.strip() if isinstance(raw, str) else ""
    if len(value) > limit:
        return value, f"longer than {limit} characters"
    return (value or None), None
