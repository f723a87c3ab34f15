"""The front page of a plain-HTTP service (RFC 9110, 9112): GET /, redirects on the same host
followed (at most 3, each on the port its Location names), the page finally given scanned for a
password field or a form posting to http: (never stored), and a 401's challenge schemes kept.

Every hop is recorded, so the check judges the page it was actually given: a redirect to
https:, a redirect that leaves the target (not followed), a challenge (401), a refusal (403) or
a server error are facts of their own, never "no login form". The whole exchange, every hop
included, is bounded by one total deadline (a server that drips one byte every few seconds
cannot stretch it): the sockets are ``DeadlineSocket``s.
"""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeError, ProtocolError, translate_os_error
from scanner.models import Evidence, Target, utcnow
from scanner.net.sockets import connect_bounded
from scanner.net.text import sanitize

MAX_BODY = 512 * 1024
MAX_REDIRECTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PASSWORD = re.compile(rb"<input\b[^>]*\btype\s*=\s*[\"']?password\b", re.I)
_FORM_HTTP = re.compile(rb"<form\b[^>]*\baction\s*=\s*[\"']?\s*http://[^\"'\s>]*", re.I)


@dataclass(frozen=True)
class HttpHop:
    """One request and its answer."""

    url: str  # http://host:port/path as requested
    status: int
    location: str = ""  # the Location header, or ""
    challenges: tuple[str, ...] = ()  # auth schemes of WWW-Authenticate (RFC 9110 §11.6.1), lower case


@dataclass(frozen=True)
class HttpPageFacts:
    """The hops of GET / and what the last page held. ``not_followed`` says why the last hop's
    redirect was not followed ("" when it was not a redirect, or was followed)."""

    chain: tuple[HttpHop, ...]
    password_field: bool = False
    form_posts_to_http: str = ""  # the action URL, or ""
    body_bytes: int = 0
    not_followed: str = ""

    @property
    def final(self) -> HttpHop:
        return self.chain[-1]

    @property
    def final_status(self) -> int:
        return self.final.status

    @property
    def redirected_to_https(self) -> str:
        """The https: Location the last hop sent, or ""."""
        hop = self.final
        if hop.status in REDIRECTS and urlsplit(hop.location).scheme.lower() == "https":
            return hop.location
        return ""

    @property
    def basic_challenge(self) -> bool:
        """A 401 asking for HTTP Basic credentials (RFC 7617: the password is only base64-encoded)."""
        return self.final.status == 401 and "basic" in self.final.challenges

    def evidence(self) -> Evidence:
        return Evidence(
            kind="http-page",
            summary=f"GET / -> {self.final_status}"
                    + (f", redirect to {sanitize(self.final.location, 100)}" if self.final.location else "")
                    + (f" (not followed: {sanitize(self.not_followed, 100)})" if self.not_followed else "")
                    + (f", challenge {', '.join(self.final.challenges)}" if self.final.challenges else "")
                    + f"; password field {'present' if self.password_field else 'absent'}",
            data={"requests": [{"url": sanitize(h.url, 200), "status": h.status, "location": sanitize(h.location, 200),
                                "challenges": [sanitize(c, 40) for c in h.challenges]} for h in self.chain],
                  "not_followed": sanitize(self.not_followed, 200),
                  "password_field": self.password_field, "form_action_http": sanitize(self.form_posts_to_http, 200),
                  "body_bytes": self.body_bytes},
            collected_at=utcnow(),
            method="HTTP/1.1 GET / (redirects on the same host followed on their own port, at most 3; body "
                   "scanned, not stored)",
        )


_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def auth_schemes(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The auth schemes named in WWW-Authenticate values (RFC 9110 §11.6.1: a challenge is a
    scheme token, then parameters; several challenges are comma-separated), lower case."""
    schemes: set[str] = set()
    for value in values:
        for piece in value.split(","):
            first = piece.strip().split(" ", 1)[0]
            if _TOKEN.fullmatch(first):  # a parameter ("realm=...") or a quoted fragment is not a scheme
                schemes.add(first.lower())
    return tuple(sorted(schemes))[:8]


def _authority(host: str, port: int) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port == 80 else f"{name}:{port}"


def next_hop(target_host: str, current: str, location: str) -> tuple[int, str] | str:
    """(port, path) of the redirect to follow from ``current`` to ``location``, or why it is not
    followed: another scheme, another host (outside what this target is), a port out of range."""
    absolute = urljoin(current, location)
    parts = urlsplit(absolute)
    scheme = parts.scheme.lower()
    if scheme != "http":
        return f"redirect to another scheme ({sanitize(scheme, 20) or 'none'})"
    if (parts.hostname or "").lower() != target_host.lower():
        return f"redirect leaves the target for {sanitize(parts.hostname or '?', 100)}"
    try:
        port = parts.port or 80
    except ValueError:
        return "redirect to an invalid port"
    return port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class HttpFrontPage(Probe[HttpPageFacts]):
    name = "http-front-page"

    def collect(self, target: Target, ctx: ProbeContext) -> HttpPageFacts:
        assert target.host is not None and target.port is not None
        deadline = ctx.until(ctx.timeouts.probe)
        host, port, path = target.host, target.port, "/"
        chain: list[HttpHop] = []
        for _ in range(MAX_REDIRECTS + 1):
            url = f"http://{_authority(host, port)}{path}"
            status, location, challenges, body = _get(host, port, path, ctx, deadline)
            chain.append(HttpHop(url, status, location, challenges))
            if status in REDIRECTS and location:
                if urlsplit(urljoin(url, location)).scheme.lower() == "https":
                    return HttpPageFacts(tuple(chain))
                hop = next_hop(host, url, location)
                if isinstance(hop, str):
                    return HttpPageFacts(tuple(chain), not_followed=hop)
                port, path = hop
                continue
            action = _FORM_HTTP.search(body)
            return HttpPageFacts(tuple(chain), bool(_PASSWORD.search(body)),
                                 action.group(0).decode("latin-1").split("=", 1)[-1].strip("\"' ") if action else "",
                                 len(body))
        raise ProtocolError(f"HTTP {target.host}:{target.port}: more than {MAX_REDIRECTS} redirects")


class _BoundedConnection(http.client.HTTPConnection):
    """http.client over a socket bounded by the probe's total deadline (its own timeout is per read)."""

    def __init__(self, host: str, port: int, deadline: float, connect_timeout: float) -> None:
        super().__init__(host, port)
        self._deadline, self._connect_timeout = deadline, connect_timeout

    def connect(self) -> None:
        self.sock = connect_bounded(self.host, self.port, self._deadline, self._connect_timeout, "HTTP")


def _get(host: str, port: int, path: str, ctx: ProbeContext,
         deadline: float) -> tuple[int, str, tuple[str, ...], bytes]:
    conn = _BoundedConnection(host, port, deadline, ctx.timeouts.connect)
    try:
        conn.request("GET", path, headers={"Host": _authority(host, port), "User-Agent": "gapscan",
                                            "Accept": "text/html"})
        resp = conn.getresponse()
        body = resp.read(MAX_BODY)
        challenges = auth_schemes(resp.headers.get_all("WWW-Authenticate") or ())
        return resp.status, resp.getheader("Location") or "", challenges, body
    except ProbeError:
        raise
    except (http.client.HTTPException, ValueError) as exc:
        raise ProtocolError(f"HTTP {host}:{port}: not an HTTP answer ({exc.__class__.__name__})") from exc
    except Exception as exc:
        raise translate_os_error(exc, f"HTTP GET {host}:{port}{path}") from exc
    finally:
        conn.close()
