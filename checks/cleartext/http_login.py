"""cleartext.http_login — a login form served over plain HTTP, or one that posts to http:.

GET / on the plain-HTTP port, following at most 3 redirects on the same host (each fetched on
the port its Location names). The page finally given is judged, and only that page:

- a redirect to https: is a PASS (the site moves to TLS before anything is typed);
- a page with an ``<input type=password>`` or a ``<form>`` whose action is an ``http:`` URL is a
  FAIL, whatever its status: the password would cross the network in clear;
- a 401 asking for HTTP Basic credentials is a FAIL (RFC 7617: the password is only
  base64-encoded, and here nothing encrypts it);
- a 2xx page without either is a PASS for ``/`` only (the detail says so: no crawling);
- anything else proved nothing and is an error with its reason: another 401 challenge or a 403
  (permission: the page was not shown), a redirect that leaves the target or is not followed,
  a 5xx or another status (protocol).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.cleartext.http_probe import HttpFrontPage, HttpPageFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import ErrorReason, Finding, Severity, Target, Undetermined
from scanner.net.text import sanitize


class CleartextHttpLogin(SingleProbeCheck[HttpPageFacts]):
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
    probe = HttpFrontPage

    def judge(self, target: Target, page: HttpPageFacts) -> Iterator[Finding | Undetermined]:
        where = f"http://{target.host_port()}/"
        if not page.chain:  # no HTTP answer recorded: nothing was judged
            yield self.undetermined(target, ErrorReason.PROTOCOL,
                                    detail=f"{where}: no HTTP response was recorded; the page was not judged")
            return
        status = page.final_status
        evidence = [page.evidence()]
        if page.password_field or page.form_posts_to_http:
            what = "a password field" if page.password_field else ""
            if page.form_posts_to_http:
                what += (" and " if what else "") + f"a form posting to {sanitize(page.form_posts_to_http, 100)}"
            yield self.finding(target, passed=False, evidence=evidence,
                               detail=f"{where} (status {status}, {sanitize(page.final.url, 120)}) serves {what} "
                                      "over plain HTTP")
        elif page.basic_challenge:
            yield self.finding(target, passed=False, evidence=evidence,
                               detail=f"{where} asks for HTTP Basic credentials over plain HTTP (401 at "
                                      f"{sanitize(page.final.url, 120)}): the password crosses the network in clear")
        elif page.redirected_to_https:
            yield self.finding(target, passed=True, evidence=evidence,
                               detail=f"{where} redirects to {sanitize(page.redirected_to_https, 120)}")
        elif page.not_followed:
            yield self.undetermined(target, ErrorReason.PROTOCOL, evidence=evidence,
                                    detail=f"{where}: {page.not_followed} ({status} to "
                                           f"{sanitize(page.final.location, 120)}); the page was not judged")
        elif status in (401, 403):
            schemes = ", ".join(page.final.challenges) or "none"
            yield self.undetermined(target, ErrorReason.PERMISSION, evidence=evidence,
                                    detail=f"{where} answered {status} (challenge: {schemes}) at "
                                           f"{sanitize(page.final.url, 120)}: no page to judge")
        elif 200 <= status < 300:
            yield self.finding(target, passed=True, evidence=evidence,
                               detail=f"{where} (status {status}) has no login form on / (other paths not crawled)")
        else:
            yield self.undetermined(target, ErrorReason.PROTOCOL, evidence=evidence,
                                    detail=f"{where} answered {status} at {sanitize(page.final.url, 120)}: "
                                           "no page to judge")
