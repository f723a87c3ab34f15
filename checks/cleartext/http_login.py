"""cleartext.http_login — a login form served over plain HTTP, or one that posts to http:.

GET / on the plain-HTTP port (following at most 3 redirects on the same host and scheme). A
redirect to https: is a PASS (the site moves to TLS before anything is typed). A page with an
``<input type=password>`` or a ``<form>`` whose action is an ``http:`` URL is a FAIL: the
password would cross the network in clear. A page without either is a PASS for ``/`` only (the
detail says so: other paths are not crawled).
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.cleartext.http_probe import HttpFrontPage, HttpPageFacts
from scanner.check import Applies, CheckMeta, SingleProbeCheck
from scanner.models import Finding, Severity, Target
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

    def judge(self, target: Target, page: HttpPageFacts) -> Iterator[Finding]:
        where = f"http://{target.host_port()}/"
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
