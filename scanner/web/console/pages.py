"""The console's pages: portfolio, client, sensors, downloads, logout (routes for ``create_app``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from scanner.history.fleet import FleetRecords, JobRecord, SiteRecord
from scanner.history.store import Store
from scanner.web.console.auth import COOKIE, ConsoleLogin
from scanner.web.console.portfolio import SEVERITIES, client_detail, portfolio, sparkline
from scanner.web.context import context_of, in_store
from scanner.web.errors import PageError
from scanner.web.forms import session_of, verified_form
from scanner.web.rendering import page


def _client(request: Request) -> str:
    return unquote(str(request.path_params["client"]))


async def portfolio_page(request: Request) -> Response:
    today = context_of(request).today()
    rows = await in_store(request, lambda s: portfolio(s, today))
    return page(request, "console_portfolio.html.j2", rows=rows, severities=SEVERITIES, sparkline=sparkline,
                user=session_of(request).principal)


async def client_page(request: Request) -> Response:
    client = _client(request)
    if client not in await in_store(request, lambda s: set(s.clients())):
        raise PageError(404, "No such client", f"There is no client named “{client}”.")
    today = context_of(request).today()
    detail = await in_store(request, lambda s: client_detail(s, client, today))
    return page(request, "console_client.html.j2", client=client, d=detail, severities=SEVERITIES,
                sparkline=sparkline, user=session_of(request).principal)


async def sensors_page(request: Request) -> Response:
    def load(store: Store) -> tuple[list[SiteRecord], list[JobRecord]]:
        records = FleetRecords(store)
        return records.sites(), records.jobs()

    sites, jobs = await in_store(request, load)
    last_job = {j.site: j for j in jobs}
    return page(request, "console_sensors.html.j2", sites=sites, last_job=last_job,
                user=session_of(request).principal)


async def _run_of(request: Request) -> tuple[str, str]:
    client, run_id = _client(request), unquote(str(request.path_params["run"]))
    infos = await in_store(request, lambda s: s.list_runs(client) if client in s.clients() else [])
    if run_id not in {i.run_id for i in infos}:
        raise PageError(404, "No such run", f"Client “{client}” has no run “{run_id}”.")
    return client, run_id


async def scan_json(request: Request) -> Response:
    _client_name, run_id = await _run_of(request)
    text = await in_store(request, lambda s: s.scan_text(run_id))
    return Response(text, media_type="application/json",
                    headers={"content-disposition": f'attachment; filename="scan-{run_id}.json"'})


async def report_html(request: Request) -> Response:
    from reports import RENDERERS

    _client_name, run_id = await _run_of(request)
    run = await in_store(request, lambda s: s.load_run(run_id))
    with tempfile.TemporaryDirectory(prefix="gapscan-console-") as tmp:
        target = Path(tmp) / "report.html"
        RENDERERS["html"](run, target)
        body = target.read_bytes()
    return Response(body, media_type="text/html; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="report-{run_id}.html"'})


async def logout(request: Request) -> Response:
    await verified_form(request, context_of(request).origins)
    auth = request.app.state.auth
    if isinstance(auth, ConsoleLogin):
        auth.end(session_of(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def console_routes() -> list[BaseRoute]:
    from scanner.web.app import static

    return [
        Route("/", portfolio_page, methods=["GET"]),
        Route("/clients/{client}", client_page, methods=["GET"]),
        Route("/clients/{client}/runs/{run}/scan.json", scan_json, methods=["GET"]),
        Route("/clients/{client}/runs/{run}/report.html", report_html, methods=["GET"]),
        Route("/sensors", sensors_page, methods=["GET"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/static/{name}", static, methods=["GET"]),
    ]
