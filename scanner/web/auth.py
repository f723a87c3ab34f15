"""Who may use the web app: the auth modes ``create_app`` is given.

``LocalToken`` (``gapscan web``): like a notebook server, the printed URL carries a random token
made for this run of the server. The first request with it gets a session cookie (HttpOnly,
SameSite=Strict, named after the port so two servers on one machine do not share it) and is
redirected to the same page without the token, so the token leaves the address bar and the
browser history. A request with neither a valid token nor a valid session is refused (403).
Each session has its own CSRF token, which every form carries (``forms.verified_form``).

The MSP console (issue 19) has a login-based mode implementing the same ``AuthMode``:
``scanner.web.console.auth.ConsoleLogin``.
"""

from __future__ import annotations

import secrets
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

TOKEN_BYTES = 32


@dataclass(frozen=True)
class Session:
    """One browser's session: its id (the cookie) and the CSRF token its forms must carry."""

    id: str
    csrf: str
    principal: str  # who is using the app: "local technician" / a console user name


class AuthMode(ABC):
    """How a request proves it may use the app."""

    name: str

    @abstractmethod
    def session(self, request: Request) -> Session | None:
        """The request's session, or None (then ``challenge`` answers the request)."""

    @abstractmethod
    def challenge(self, request: Request) -> Response:
        """The answer to a request without a session: a redirect that sets one, or a refusal."""


@dataclass
class LocalToken(AuthMode):
    """Loopback use by the technician who started the server (see the module docstring)."""

    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(TOKEN_BYTES))
    name: str = "local"
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cookie(self) -> str:
        return f"gapscan_session_{self.port}"

    def session(self, request: Request) -> Session | None:
        sid = request.cookies.get(self.cookie, "")
        with self._lock:
            return self._sessions.get(sid) if sid else None

    def _token_given(self, request: Request) -> bool:
        given = request.query_params.get("token", "")
        return bool(given) and secrets.compare_digest(given.encode(), self.token.encode())

    def challenge(self, request: Request) -> Response:
        from scanner.web.rendering import error_page

        if request.method != "GET" or not self._token_given(request):
            return error_page(request, 403, "Not allowed",
                              "This page needs the address gapscan web printed when it started (it carries a token "
                              "made for that run of the server). Open that address again.")
        session = Session(id=secrets.token_urlsafe(TOKEN_BYTES), csrf=secrets.token_urlsafe(TOKEN_BYTES),
                          principal="local technician")
        with self._lock:
            self._sessions[session.id] = session
        rest = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "token"]
        target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(self.cookie, session.id, httponly=True, samesite="strict", path="/")
        return response

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/?token={self.token}"
