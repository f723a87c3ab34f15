"""An error a page handler raises to answer with a clear page (404 unknown client, 403 refused, 503 store)."""

from __future__ import annotations


class PageError(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
