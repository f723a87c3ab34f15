"""What every response and request of the web app goes through (a pure ASGI middleware).

- **Host**: only the addresses the server was started for (``127.0.0.1:PORT``, ``localhost:PORT``
  in local mode): a page elsewhere that points a name of its own at 127.0.0.1 (DNS rebinding)
  gets 403, not the practice's history.
- **Auth**: the auth mode's session, else its challenge (a redirect that sets the session, or 403).
- **Headers** on every answer: a Content-Security-Policy like the reports' (nothing from outside
  the app; the one inline script is allowed by its SHA-256, RFC 7762 / CSP Level 3), no framing,
  no referrer to other sites, no caching of pages that show a practice's gaps.

Cross-site form posts are refused in ``forms.verified_form`` (Origin check + CSRF token).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scanner.web.auth import AuthMode

STATIC_PREFIX = "/static/"


def script_hash(source: str) -> str:
    """The CSP source expression that allows exactly this inline script."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(scripts: Iterable[str]) -> str:
    allowed = " ".join(script_hash(s) for s in scripts) or "'none'"
    return ("default-src 'none'; " f"script-src {allowed}; style-src 'self'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'none'")


class Guard:
    """Host check, authentication and security headers around the app."""

    def __init__(self, app: ASGIApp, *, auth: AuthMode, hosts: frozenset[str], csp: str) -> None:
        self.app = app
        self.auth = auth
        self.hosts = hosts
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            # not "no-referrer": with it Chromium sends our own form posts with "Origin: null"
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"cache-control", b"no-store"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in self.headers if k not in names)]
            await send(message)

        from scanner.web.rendering import error_page

        request = Request(scope, receive)
        host = request.headers.get("host", "")
        if host not in self.hosts:
            response = error_page(request, 403, "Not allowed", "This server answers only on the address it printed.")
            await response(scope, receive, send_with_headers)
            return
        session = self.auth.session(request)
        if session is None:
            await self.auth.challenge(request)(scope, receive, send_with_headers)
            return
        scope.setdefault("state", {})["session"] = session
        await self.app(scope, receive, send_with_headers)
