"""cleartext.http_login — a login form served over plain HTTP, or one that posts to http:.

GET / on the plain-HTTP port (following at most 3 redirects on the same host and scheme). A
redirect to https: is a PASS (the site moves to TLS before anything is typed). A page with an
``<input type=password>`` or a ``<form>`` whose action is an ``http:`` URL is a FAIL: the
password would cross the network in clear. A page without either is a PASS for ``/`` only (the
detail says so: other paths are not crawled).
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scanner.check import Applies, Check, CheckMeta, Probe, ProbeContext
from scanner.errors import ProtocolError, translate_os_error
from scanner.models import Evidence, Finding, Severity, Skip, Target, utcnow
from scanner.net.text import sanitize

MAX_BODY = 512 * 1024
MAX_REDIRECTS = 3
_PASSWORD = re.compile(rb"<input\b[^>]*\btype\s*=\s*[\"']?password\b", re.I)
_FORM_HTTP = re.compile(rb"<form\b[^>]*\baction\s*=\s*[\"']?\s*http://[^\"'\s>]*", re.I)


@dataclass(frozen=True)
class HttpPageFacts:
    chain: tuple[tuple[str, int, str], ...]  # (path, status, Location or "") per request
    final_status: int
    redirected_to_https: str  # the https: Location, or ""
    password_field: bool
    form_posts_to_http: str  # the action URL, or ""
    body_bytes: int

    def evidence(self) -> Evidence:
        return Evidence(
            kind="http-page",
            summary=f"GET / -> {self.final_status}"
                    + (f", redirect to {sanitize(self.redirected_to_https, 100)}" if self.redirected_to_https else "")
                    + f"; password field {'present' if self.password_field else 'absent'}",
            data={"requests": [{"path": sanitize(p, 200), "status": s, "location": sanitize(loc, 200)}
                               for p, s, loc in self.chain],
                  "password_field": self.password_field, "form_action_http": sanitize(self.form_posts_to_http, 200),
                  "body_bytes": self.body_bytes},
            collected_at=utcnow(),
            method="HTTP/1.1 GET / (same-host redirects followed, at most 3; body scanned, not stored)",
        )


class HttpFrontPage(Probe[HttpPageFacts]):
    name = "http-front-page"

    def collect(self, target: Target, ctx: ProbeContext) -> HttpPageFacts:
        assert target.host is not None and target.port is not None
        path, chain = "/", []
        for _ in range(MAX_REDIRECTS + 1):
            status, location, body = _get(target.host, target.port, path, ctx)
            chain.append((path, status, location))
            if status in (301, 302, 303, 307, 308) and location:
                parts = urlsplit(location)
                if parts.scheme.lower() == "https":
                    return HttpPageFacts(tuple(chain), status, location, False, "", 0)
                if parts.scheme and (parts.scheme.lower() != "http" or (parts.hostname or "") != target.host):
                    return HttpPageFacts(tuple(chain), status, "", False, "", 0)  # leaves the target: not followed
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                continue
            action = _FORM_HTTP.search(body)
            return HttpPageFacts(tuple(chain), status, "", bool(_PASSWORD.search(body)),
                                 action.group(0).decode("latin-1").split("=", 1)[-1].strip("\"' ") if action else "",
                                 len(body))
        raise ProtocolError(f"HTTP {target.host}:{target.port}: more than {MAX_REDIRECTS} redirects")


def _get(host: str, port: int, path: str, ctx: ProbeContext) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=ctx.timeouts.read)
    try:
        conn.request("GET", path, headers={"Host": host if ":" not in host else f"[{host}]",
                                            "User-Agent": "gapscan", "Accept": "text/html"})
        resp = conn.getresponse()
        body = resp.read(MAX_BODY)
        return resp.status, resp.getheader("Location") or "", body
    except (http.client.HTTPException, ValueError) as exc:
        raise ProtocolError(f"HTTP {host}:{port}: not an HTTP answer ({exc.__class__.__name__})") from exc
    except Exception as exc:
        raise translate_os_error(exc, f"HTTP GET {host}:{port}{path}") from exc
    finally:
        conn.close()


class CleartextHttpLogin(Check):
    meta = CheckMeta(
        id="cleartext.http_login",
        title="Login form served over plain HTTP",
        severity=Severity.HIGH,
        applies_to=Applies(services=frozenset({"http"})),
        why=(
            "A login page is served without encryption, so staff passwords (and whatever the page shows after "
            "login) cross the network readable."
        ),
        remediation=(
            "Serve the application over HTTPS only: redirect every plain-HTTP request to https:// (nginx: "
            "return 301 https://$host$request_uri;) and add HSTS; never post a form to an http: URL."
        ),
        description="GETs / over plain HTTP and looks for a password field or a form posting to http:.",
    )
    probes = (HttpFrontPage,)

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        page: HttpPageFacts = facts[HttpFrontPage]
        where = f"http://{target.host}:{target.port}/"
        if page.redirected_to_https:
            yield self.finding(target, passed=True, evidence=[page.evidence()],
                               detail=f"{where} redirects to {sanitize(page.redirected_to_https, 120)}")
        elif page.password_field or page.form_posts_to_http:
            what = "a password field" if page.password_field else ""
            if page.form_posts_to_http:
                what += (" and " if what else "") + f"a form posting to {sanitize(page.form_posts_to_http, 100)}"
            yield self.finding(target, passed=False, evidence=[page.evidence()],
                               detail=f"{where} (status {page.final_status}) serves {what} over plain HTTP")
        else:
            yield self.finding(target, passed=True, evidence=[page.evidence()],
                               detail=f"{where} (status {page.final_status}) has no login form on / (other paths "
                                      "not crawled)")
