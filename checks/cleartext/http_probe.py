"""The front page of a plain-HTTP service (RFC 9110, 9112): GET /, same-host redirects followed
(at most 3), the body scanned for a password field or a form posting to http: (never stored).
"""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from scanner.check import Probe, ProbeContext
from scanner.errors import ProtocolError, translate_os_error
from scanner.models import Evidence, Target, utcnow
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
