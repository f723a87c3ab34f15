"""The MSP console in headless Chromium: login, portfolio, client page, sensors, logout.

A SQLite history store holds two fleet clients (one with two runs, a decision that expires in 10
days and a site whose sensor was never heard from; one with no run yet, due); the console is
served on 127.0.0.1 (an ephemeral port) with ``ConsoleLogin`` and stopped by the test. Login CSRF
and a wrong password are checked over plain HTTP as well.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from scanner.config.framework import load_framework
from scanner.config.interview_guide import load_guide
from scanner.history.decisions import DecisionKind
from scanner.history.fleet import FleetRecords, scope_of
from scanner.history.signing import Signer
from scanner.history.store import Store
from scanner.models import Severity, Status
from scanner.web.app import create_app
from scanner.web.console.auth import ConsoleLogin
from scanner.web.console.pages import console_routes
from scanner.web.console.passwords import hash_password
from scanner.web.context import AppContext
from scanner.web.server import bind_loopback, local_hosts, local_origins, serve_in_thread
from tests.chromium import LOOPBACK_FLAGS, DevTools, require_chromium
from tests.test_web_browser import Page
from tests.unit.test_store import fails, lab_run, variant
from tests.webapp import Browser

ONE, TWO = "Clinic One (lab)", "Clinic Two <b>(lab)</b>"
USER, PASSWORD = "tech1", "correct horse battery staple"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[int, dict[str, int]]]:
    db = str(tmp_path / "history.db")
    first = lab_run()
    failed = fails(first)
    second = variant(first, "run-two", days=30, status={failed[0]: Status.PASS})
    with Store.open(db) as store:
        records = FleetRecords(store)
        records.add_client(ONE)
        records.add_client(TWO, cadence_days=90)
        store.store_run(first, ONE)
        store.store_run(second, ONE)
        store.add_decision(ONE, failed[1], DecisionKind.ACCEPTED, "Dr. Lee, owner", note="lab",
                           until=date.today() + timedelta(days=10))
        records.add_site("one-main", ONE, Signer.generate().public_raw, "quick", scope_of(["198.18.11.0/24"]))
        expected = {s.value: 0 for s in Severity}
        for r in second.results:
            if r.status is Status.FAIL and r.fingerprint != failed[1]:
                expected[r.severity.value] += 1
        sock = bind_loopback(0)
        port = sock.getsockname()[1]
        auth = ConsoleLogin(users={USER: hash_password(PASSWORD)}, origins=local_origins(port), secure_cookies=False)
        ctx = AppContext(store=store, framework=load_framework(), guide=load_guide(), origins=local_origins(port),
                         sealer=None, sealer_problem="console")
        with serve_in_thread(create_app(ctx, auth, local_hosts(port), console_routes()), sock):
            yield port, expected


def test_login_is_required_and_checked(console: tuple[int, dict[str, int]]) -> None:
    port, _ = console
    http = Browser(port)
    assert http.get("/").status == 303  # to /login
    assert http.get("/sensors").headers["location"].startswith("/login?next=")
    login = http.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert token and login.status == 200
    form = {"username": USER, "password": PASSWORD, "next": "/"}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": f"http://127.0.0.1:{port}"}
    # another site's page posting the login form: refused (login CSRF)
    evil = http.request("POST", "/login", body=urlencode({**form, "csrf": token.group(1)}).encode(),
                        headers={**headers, "Origin": "http://127.0.0.1:9"})
    assert evil.status == 403
    no_token = http.request("POST", "/login", body=urlencode(form).encode(), headers=headers)
    assert no_token.status == 403
    token = re.search(r'name="csrf" value="([^"]+)"', http.get("/login").text)  # every login page has a new one
    assert token
    wrong = http.request("POST", "/login", body=urlencode({**form, "password": "nope", "csrf": token.group(1)})
                         .encode(), headers=headers)
    assert wrong.status == 401 and "Wrong user name or password" in wrong.text
    token = re.search(r'name="csrf" value="([^"]+)"', http.get("/login").text)
    assert token
    ok = http.request("POST", "/login", body=urlencode({**form, "csrf": token.group(1)}).encode(), headers=headers)
    assert ok.status == 303 and "gapscan_console" in http.cookies
    assert http.get("/").status == 200
    run_id = lab_run().run_id
    report = http.get(f"/clients/{quote(ONE, safe='')}/runs/{run_id}/report.html")
    assert report.status == 200 and b"<html" in report.body[:500].lower()
    scan = http.get(f"/clients/{quote(ONE, safe='')}/runs/{run_id}/scan.json")
    assert scan.status == 200 and run_id.encode() in scan.body
    # logout needs the session's CSRF token
    assert http.post("/logout", {}, csrf="wrong").status == 403
    page = http.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    assert http.post("/logout", {}, csrf=csrf.group(1)).status == 303
    assert http.get("/").status == 303


def test_console_in_chromium(console: tuple[int, dict[str, int]]) -> None:
    port, expected = console
    binary = require_chromium()
    with tempfile.TemporaryDirectory(prefix="gapscan-console-chromium-") as tmp:
        tools = DevTools(binary, Path(tmp) / "profile", LOOPBACK_FLAGS)
        try:
            p = Page(tools)
            p.goto(f"http://127.0.0.1:{port}/")
            assert "/login" in p.js("location.href")
            p.type("#username", USER)
            p.type("#password", PASSWORD)
            p.click("#login-button", navigates=True)
            assert p.js("location.pathname") == "/"
            rows = p.js("[...document.querySelectorAll('tr.client-row')].map(r => r.dataset.client)")
            assert rows == [ONE, TWO]  # the hostile name of client two is text, not markup
            assert p.js("document.querySelectorAll('#portfolio b').length") == 0
            one = "tr.client-row:nth-child(1)"
            for severity, count in expected.items():
                assert p.text(f"{one} .gaps-{severity}").strip() == str(count), severity
            assert p.text(f"{one} .expiring").strip() == "1"
            assert p.text(f"{one} .silent").strip() == "one-main"
            assert p.js(f"document.querySelectorAll('{one} svg.spark polyline').length") == 1
            p.screenshot("console-portfolio.png", Path(tmp))  # docs/img/ with GAPSCAN_DOCS_SCREENSHOTS=1
            assert p.text("tr.client-row:nth-child(2) .schedule").startswith("due ")  # never scanned: due now
            p.goto(p.js(f"document.querySelector('{one} a').href"))  # the link as the page wrote it
            assert p.text("#client-name") == ONE
            assert p.js("document.querySelectorAll('tr.run-row').length") == 2
            assert p.js("document.querySelectorAll('#drift li.drift-resolved').length") == 1
            assert "accepted" in p.text("#decisions")
            p.goto(f"http://127.0.0.1:{port}/sensors")
            assert p.text("tr.sensor-row .heartbeat").strip() == "never"
            assert not p.problems(), p.problems()
            p.click("#logout", navigates=True)
            assert "/login" in p.js("location.href")
        finally:
            tools.close()
