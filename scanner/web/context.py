"""What the page handlers share: the opened store and the read-only data, set by ``create_app``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from scanner.config.framework import Framework
from scanner.config.interview_guide import InterviewGuide
from scanner.history.document_signing import DocumentSigner
from scanner.history.store import Store, StoreError
from scanner.web.errors import PageError

T = TypeVar("T")


@dataclass(frozen=True)
class AppContext:
    store: Store
    framework: Framework
    guide: InterviewGuide
    origins: frozenset[str]  # where this app's own pages come from ("http://127.0.0.1:PORT")
    sealer: DocumentSigner | None  # the MSP's document-signing certificate; None: sign-off cannot seal
    sealer_problem: str | None = None  # why there is none, shown on the sign-off page
    today: Callable[[], date] = date.today


def context_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def in_store(request: Request, work: Callable[[Store], T]) -> T:
    """Run a store call off the event loop; a database that cannot be used is a clear 503 page."""
    store = context_of(request).store
    try:
        return await run_in_threadpool(work, store)
    except StoreError as exc:
        raise PageError(503, "The history database cannot be used", str(exc)) from exc
