"""A real gapscan web server for tests: uvicorn on 127.0.0.1, an ephemeral port, stopped by the test.

``served(store_path, ...)`` opens the store, serves the local area in a thread and yields a
``WebServer`` (its port, token and URL); ``Browser`` is a tiny HTTP client with a cookie jar
(http.client over loopback only) that follows the token redirect like a browser does.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

from scanner.config.framework import load_framework
from scanner.config.interview_guide import load_guide
from scanner.engine.output import load_scan_json
from scanner.history.document_signing import DocumentSigner, self_signed
from scanner.history.store import Store
from scanner.models import ScanRun
from scanner.web.app import create_app
from scanner.web.auth import LocalToken
from scanner.web.context import AppContext
from scanner.web.server import bind_loopback, local_hosts, local_origins, serve_in_thread

FIXTURE = Path(__file__).parent / "fixtures" / "demo-scan.json"  # the recorded demo: projects of both kinds
CLIENT = "Demo Dental (lab)"


def lab_run() -> ScanRun:
    return load_scan_json(FIXTURE)


@dataclass
class WebServer:
    port: int
    auth: LocalToken
    store: Store
    sealer: DocumentSigner | None

    @property
    def url(self) -> str:
        return self.auth.url()


@contextmanager
def served(db: str, *, sealer: DocumentSigner | None = None, seal: bool = True,
           today: date | None = None) -> Iterator[WebServer]:
    if sealer is None and seal:
        sealer = self_signed("Lab MSP")
    with Store.open(db) as store:
        sock = bind_loopback(0)
        port = sock.getsockname()[1]
        auth = LocalToken(port=port)
        ctx = AppContext(store=store, framework=load_framework(), guide=load_guide(), origins=local_origins(port),
                         sealer=sealer, sealer_problem=None if sealer else "no document-signing certificate",
                         **({"today": lambda: today} if today else {}))
        with serve_in_thread(create_app(ctx, auth, local_hosts(port)), sock):
            yield WebServer(port, auth, store, sealer)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Browser:
    """Cookies, and the origin a real browser would send with a form."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"

    def request(self, method: str, target: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            sent = {"Host": f"{self.host}:{self.port}", **(headers or {})}
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request(method, target, body=body, headers=sent)
            resp = conn.getresponse()
            data = resp.read()
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";", 1)[0]
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def get(self, target: str) -> Reply:
        return self.request("GET", target)

    def login(self, server: WebServer) -> Reply:
        reply = self.get(f"/?token={server.auth.token}")
        assert reply.status == 303, reply.text
        return reply

    def csrf(self, target: str) -> str:
        page = self.get(target)
        assert page.status == 200, page.text
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, "no CSRF field on " + target
        return found.group(1)

    def post(self, target: str, fields: dict[str, str] | list[tuple[str, str]], *, origin: str | None = "same",
             csrf: str | None = "fetch", extra: dict[str, str] | None = None) -> Reply:
        items = list(fields.items()) if isinstance(fields, dict) else list(fields)
        if csrf == "fetch":
            csrf = self.csrf(target)
        if csrf is not None:
            items.append(("csrf", csrf))
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(extra or {})}
        if origin == "same":
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
        elif origin is not None:
            headers["Origin"] = origin
        return self.request("POST", target, body=urlencode(items).encode(), headers=headers)
