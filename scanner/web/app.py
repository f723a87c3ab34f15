"""The app factory: ``create_app(ctx, auth, hosts)`` builds the Starlette app of one area set.

Routes are grouped by area (``local_routes``: the interview and sign-off pages; the MSP console
of issue 19 adds its own list) and wrapped, outermost first, in: ``EncodedSegments`` (route on
percent-encoded path segments, so a client name may hold any character, "/" included), then
``security.Guard`` (Host check, the auth mode, security headers).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, unquote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from scanner.web.auth import AuthMode
from scanner.web.context import AppContext
from scanner.web.errors import PageError
from scanner.web.local import clients, interview, signoff
from scanner.web.rendering import error_page, static_text
from scanner.web.security import Guard, content_security_policy

MAX_BODY = 2 * 1024 * 1024  # a sign-off with a drawn signature is well under 1 MiB
STATIC = {"app.css": "text/css; charset=utf-8"}
INLINE_SCRIPTS = ("signature.js",)  # allowed by their SHA-256 in the CSP


async def static(request: Request) -> Response:
    name = unquote(str(request.path_params["name"]))
    if name not in STATIC:
        raise PageError(404, "Not found", "No such file.")
    return Response(static_text(name), media_type=STATIC[name])


def local_routes() -> list[BaseRoute]:
    """The technician's pages used on site with the practice."""
    return [
        Route("/", clients.index, methods=["GET"]),
        Route("/clients/{client}", clients.client_page, methods=["GET"]),
        Route("/clients/{client}/interview", interview.interview_index, methods=["GET"]),
        Route("/clients/{client}/interview/{standard}", interview.standard_page, methods=["GET"]),
        Route("/clients/{client}/interview/{standard}", interview.submit_answers, methods=["POST"]),
        Route("/clients/{client}/runs/{run}/signoff", signoff.signoff_page, methods=["GET"]),
        Route("/clients/{client}/runs/{run}/signoff", signoff.submit_signoff, methods=["POST"]),
        Route("/clients/{client}/runs/{run}/signoff/{seq}/record.pdf", signoff.record_download, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
    ]


class EncodedSegments:
    """Route on the request path as sent, one percent-encoded segment per path part (ASGI's ``path``
    is already decoded, so a "/" inside a client name would split it): handlers unquote their
    path parameters exactly once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope["path"].encode("utf-8")
            segments = raw.decode("latin-1").split("?", 1)[0].split("/")
            scope = dict(scope)
            scope["path"] = "/".join(quote(unquote(s, encoding="utf-8", errors="replace"), safe="") for s in segments)
        await self.app(scope, receive, send)


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    message = exc.message
    if request.method == "POST" and exc.status >= 500:
        message += (". Nothing was recorded and nothing recorded before is lost; your browser's Back button "
                    "returns to the form as you filled it in")
    return error_page(request, exc.status, exc.title, message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_page(request, 404, "Not found", "There is no such page here.")
    if exc.status_code == 405:
        return error_page(request, 405, "Not allowed", "This page cannot be used that way.")
    return error_page(request, exc.status_code, "Error", str(exc.detail))


def create_app(ctx: AppContext, auth: AuthMode, hosts: frozenset[str],
               routes: Sequence[BaseRoute] | None = None) -> ASGIApp:
    """The ASGI app: ``routes`` (default: the local area) behind the Host check and ``auth``."""
    app = Starlette(routes=list(routes if routes is not None else local_routes()),
                    exception_handlers={PageError: _page_error, HTTPException: _http_error}, max_body_size=MAX_BODY)
    app.state.ctx = ctx
    app.state.auth = auth
    csp = content_security_policy(static_text(name) for name in INLINE_SCRIPTS)
    return EncodedSegments(Guard(app, auth=auth, hosts=hosts, csp=csp))
