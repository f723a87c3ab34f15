"""``ConsoleLogin``: the MSP staff's login to the console (an ``AuthMode`` of ``scanner.web.auth``).

- Users and their scrypt hashes come from a YAML file the MSP keeps (``users: [{name, password_hash}]``;
  ``gapscan web hash-password`` makes a hash); nothing about them is in the history database.
- The login form is protected against login CSRF with a double-submit cookie (a random value in
  a SameSite=Strict cookie and in the form) and the same Origin check as every other form.
- A successful login gets a new random session id (no fixation) in an HttpOnly, SameSite=Strict
  cookie (Secure unless the console is served on loopback for a local test), a CSRF token for its
  forms, and ends after 8 hours without a request. Five failed logins of one name lock it for
  15 minutes. Logout (POST, CSRF-checked) ends the session on the server.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from scanner.config.userfiles import load_model
from scanner.web.auth import TOKEN_BYTES, AuthMode, Session
from scanner.web.console.passwords import dummy_hash, verify_password

COOKIE = "gapscan_console"
LOGIN_COOKIE = "gapscan_login_csrf"
IDLE_SECONDS = 8 * 3600
MAX_FAILURES, LOCK_SECONDS = 5, 900


class ConsoleUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    password_hash: str = Field(pattern=r"^scrypt\$")


class ConsoleUsers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[ConsoleUser] = Field(min_length=1)


def load_users(path: Path) -> dict[str, str]:
    return {u.name: u.password_hash for u in load_model(path, ConsoleUsers).users}


@dataclass
class ConsoleLogin(AuthMode):
    users: dict[str, str]
    origins: frozenset[str]
    secure_cookies: bool = True
    name: str = "console"
    _sessions: dict[str, tuple[Session, float]] = field(default_factory=dict)
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def session(self, request: Request) -> Session | None:
        sid = request.cookies.get(COOKIE, "")
        now = time.monotonic()
        with self._lock:
            found = self._sessions.get(sid) if sid else None
            if found is None:
                return None
            if now - found[1] > IDLE_SECONDS:
                del self._sessions[sid]
                return None
            self._sessions[sid] = (found[0], now)
            return found[0]

    def end(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)

    def challenge(self, request: Request) -> Response:
        from scanner.web.rendering import static_text

        if request.url.path == "/static/app.css" and request.method == "GET":
            return Response(static_text("app.css"), media_type="text/css; charset=utf-8")
        if request.url.path == "/login" and request.method == "POST":
            return _LoginPost(self)
        if request.url.path == "/login" and request.method == "GET":
            return self.login_page(request)
        target = request.url.path if request.method == "GET" else "/"
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    def login_page(self, request: Request, error: str | None = None, status: int = 200) -> Response:
        from scanner.web.rendering import environment

        token = secrets.token_urlsafe(TOKEN_BYTES)
        nxt = request.query_params.get("next", "/")
        html = environment().get_template("console_login.html.j2").render(
            csrf=token, error=error, next=nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
        response = Response(html, status_code=status, media_type="text/html; charset=utf-8")
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                            secure=self.secure_cookies)
        return response

    def _locked(self, name: str, now: float) -> bool:
        recent = [t for t in self._failures.get(name, []) if now - t < LOCK_SECONDS]
        self._failures[name] = recent
        return len(recent) >= MAX_FAILURES

    def attempt(self, name: str, password: str) -> Session | None:
        now = time.monotonic()
        with self._lock:
            if self._locked(name, now):
                return None
        stored = self.users.get(name)
        ok = verify_password(password, stored if stored is not None else dummy_hash()) and stored is not None
        with self._lock:
            if not ok:
                self._failures.setdefault(name, []).append(now)
                return None
            self._failures.pop(name, None)
            session = Session(id=secrets.token_urlsafe(TOKEN_BYTES), csrf=secrets.token_urlsafe(TOKEN_BYTES),
                              principal=name)
            self._sessions[session.id] = (session, now)
            return session


class _LoginPost(Response):
    """POST /login: read the form (async), check origin and login CSRF, then the password."""

    def __init__(self, auth: ConsoleLogin) -> None:
        super().__init__()
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.concurrency import run_in_threadpool

        request = Request(scope, receive)
        origin, fetch_site = request.headers.get("origin"), request.headers.get("sec-fetch-site")
        form: Any = await request.form(max_files=0, max_fields=10)
        given, cookie = form.get("csrf"), request.cookies.get(LOGIN_COOKIE, "")
        if ((origin is not None and origin not in self.auth.origins) or fetch_site in ("cross-site", "same-site")
                or not isinstance(given, str) or not cookie
                or not secrets.compare_digest(given.encode(), cookie.encode())):
            response = self.auth.login_page(request, "This login form was not sent from this console's own page. "
                                                     "Try again.", status=403)
            await response(scope, receive, send)
            return
        name, password = str(form.get("username") or "")[:100], str(form.get("password") or "")[:200]
        session = await run_in_threadpool(self.auth.attempt, name, password)
        if session is None:
            response = self.auth.login_page(request, "Wrong user name or password (or too many tries: wait "
                                                     "15 minutes).", status=401)
            await response(scope, receive, send)
            return
        nxt = str(form.get("next") or "/")
        redirect = RedirectResponse(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/", status_code=303)
        redirect.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", path="/",
                            secure=self.auth.secure_cookies)
        redirect.delete_cookie(LOGIN_COOKIE, path="/login")
        await redirect(scope, receive, send)
