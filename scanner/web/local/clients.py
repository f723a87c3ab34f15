"""The start page (the store's clients) and a client's page (its runs, interview, sign-offs)."""

from __future__ import annotations

from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from scanner.history.store import RunInfo
from scanner.web.context import context_of, in_store
from scanner.web.errors import PageError
from scanner.web.rendering import page


def client_param(request: Request) -> str:
    """The client name of the URL (its segment is percent-encoded: see ``app.EncodedSegments``)."""
    return unquote(str(request.path_params["client"]))


async def known_client(request: Request, client: str) -> None:
    if client not in await in_store(request, lambda s: s.clients()):
        raise PageError(404, "No such client", f"There is no client named “{client}” in this history database.")


async def known_run(request: Request, client: str) -> RunInfo:
    await known_client(request, client)
    run_id = unquote(str(request.path_params["run"]))
    found = [r for r in await in_store(request, lambda s: s.list_runs(client)) if r.run_id == run_id]
    if not found:
        raise PageError(404, "No such run", f"Client “{client}” has no stored run “{run_id}”.")
    return found[0]


async def index(request: Request) -> Response:
    names = await in_store(request, lambda s: s.clients())
    return page(request, "index.html.j2", clients=names, store_url=context_of(request).store.url)


async def client_page(request: Request) -> Response:
    client = client_param(request)
    await known_client(request, client)
    runs = await in_store(request, lambda s: s.list_runs(client))
    signoffs = await in_store(request, lambda s: s.signoffs(client))
    answers = await in_store(request, lambda s: s.interview_answers(client))
    signed_runs = {s.run_id: s for s in signoffs}
    return page(request, "client.html.j2", client=client, runs=list(reversed(runs)), signed=signed_runs,
                answers=len({a.key_activity for a in answers}), activities=len(context_of(request).guide.activities()))
