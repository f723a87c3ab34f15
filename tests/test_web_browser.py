"""gapscan web as the technician and the owner use it: Debian's headless Chromium fills an interview
page and a sign-off sheet, draws a signature with the mouse, submits; the test then reads the
decision chain from the store and validates the sealed PDF with ``pyhanko sign validate``.

Also in the browser: the page's one inline script runs under the CSP (no violation is logged), the
page loads nothing but its own server, a hostile client name renders inert, and a form posted to
the app from another origin (another port on 127.0.0.1) is refused. The server and the attacker's
page listen on 127.0.0.1 with ephemeral ports and are stopped by the test. With
GAPSCAN_DOCS_SCREENSHOTS=1 the screenshots are also written to docs/img/ (docs/signoff.md).
"""

from __future__ import annotations

import base64
import http.server
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from PIL import Image

from scanner.config.framework import load_framework
from scanner.history.decisions import DecisionKind
from scanner.history.document_signing import self_signed
from scanner.history.store import Store
from scanner.web.local.projects import projects
from scanner.web.rendering import path
from tests.chromium import LOOPBACK_FLAGS, DevTools, require_chromium
from tests.webapp import CLIENT, WebServer, lab_run, served

RUN = lab_run()
HOSTILE = '"><img src=x onerror="document.title=\'pwned\'">'
DOCS = Path(__file__).resolve().parents[1] / "docs" / "img"
PYHANKO = Path(sys.executable).with_name("pyhanko")


class Page:
    """One tab, driven like a person: real mouse clicks and typing through the DevTools Input domain."""

    def __init__(self, tools: DevTools) -> None:
        self.tools = tools
        target = tools.call("Target.createTarget", url="about:blank")["targetId"]
        self.session: str = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Network", "Runtime", "Log", "Page"):
            tools.call(f"{domain}.enable", self.session)
        tools.call("Emulation.setDeviceMetricsOverride", self.session, width=1100, height=1300,
                   deviceScaleFactor=1, mobile=False)

    def js(self, expression: str) -> Any:
        reply = self.tools.call("Runtime.evaluate", self.session, expression=expression, returnByValue=True)
        assert "exceptionDetails" not in reply, reply
        return reply["result"].get("value")

    def settle(self, previous: str | None) -> None:
        """Wait until a new document (not ``previous``) has loaded: load events of about:blank or of
        the page being left can arrive late, so the document itself is asked."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = self.js("[document.readyState, location.href, String(window.__gapscanMark || '')]")
            if state[0] == "complete" and state[2] == "" and state[1] != "about:blank" and state[1] != previous:
                self.js("window.__gapscanMark = 'seen'")
                return
            time.sleep(0.05)
        raise TimeoutError(f"no new page loaded after {previous}")

    def goto(self, url: str) -> None:
        self.js("window.__gapscanMark = 'left'")
        self.tools.call("Page.navigate", self.session, url=url)
        self.settle(None)

    def text(self, selector: str) -> str:
        found = self.js(f"(() => {{ const e = document.querySelector({selector!r}); "
                        "return e ? e.textContent : null; })()")
        where = self.js("location.href")
        assert found is not None, f"no {selector} on {where}: {self.js('document.body.innerText')[:1500]}"
        return str(found)

    def centre(self, selector: str) -> tuple[float, float]:
        box = self.js(f"(() => {{ const e = document.querySelector({selector!r}); "
                      "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); "
                      "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        return float(box[0]), float(box[1])

    def mouse(self, kind: str, x: float, y: float, buttons: int = 0) -> None:
        self.tools.call("Input.dispatchMouseEvent", self.session, type=kind, x=x, y=y, button="left",
                        buttons=buttons, clickCount=1 if kind != "mouseMoved" else 0)

    def click(self, selector: str, *, navigates: bool = False) -> None:
        x, y = self.centre(selector)
        if navigates:
            self.js("window.__gapscanMark = 'left'")
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y, 1)
        self.mouse("mouseReleased", x, y)
        if navigates:
            self.settle(None)

    def type(self, selector: str, text: str) -> None:
        self.click(selector)
        self.tools.call("Input.insertText", self.session, text=text)

    def draw_signature(self, selector: str) -> None:
        """A signature-like stroke: press, a looping path of small moves, release."""
        x, y = self.centre(selector)
        start = (x - 150, y + 10)
        self.mouse("mouseMoved", *start)
        self.mouse("mousePressed", *start, 1)
        for i in range(1, 60):
            step = i / 59
            px = start[0] + 300 * step
            py = start[1] - 35 * (1 if (i // 6) % 2 else -1) * (step % (1 / 6)) * 6
            self.mouse("mouseMoved", px, py, 1)
        self.mouse("mouseReleased", start[0] + 300, start[1])

    def screenshot(self, name: str, out: Path) -> Path:
        shot = base64.b64decode(self.tools.call("Page.captureScreenshot", self.session, format="png")["data"])
        assert shot.startswith(b"\x89PNG")
        target = out / name
        target.write_bytes(shot)
        if os.environ.get("GAPSCAN_DOCS_SCREENSHOTS"):
            DOCS.mkdir(parents=True, exist_ok=True)
            (DOCS / name).write_bytes(shot)
        return target

    def problems(self) -> list[dict[str, Any]]:
        return [e["params"] for e in self.tools.events if e.get("sessionId") == self.session and (
            (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
            or e.get("method") in ("Runtime.exceptionThrown", "Page.javascriptDialogOpening")
            or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error"))]

    def requested(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.tools.events
                if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == self.session]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    binary = require_chromium()
    work = tmp_path_factory.mktemp("chromium-web")
    tools = DevTools(binary, Path(tempfile.mkdtemp(prefix="profile-", dir=work)), flags=LOOPBACK_FLAGS)
    try:
        yield tools
    finally:
        tools.close()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[WebServer, Path]]:
    db = str(tmp_path / "h.db")
    with Store.open(db) as store:
        store.store_run(RUN)
        store.store_run(RUN.model_copy(update={"run_id": "hostile-run"}), client=HOSTILE)
    sealer = self_signed("Lab MSP")
    cert = tmp_path / "msp-cert.pem"
    cert.write_bytes(sealer.certificate.public_bytes(serialization.Encoding.PEM))
    with served(db, sealer=sealer) as server:
        yield server, cert


def test_interview_and_signoff_in_a_real_browser(browser: DevTools, web: tuple[WebServer, Path],
                                                 tmp_path: Path) -> None:
    server, cert = web
    base = f"http://127.0.0.1:{server.port}"
    page = Page(browser)

    # -- the interview page, filled in as the technician would during the meeting
    interview = path("clients", CLIENT, "interview", "164.308(a)(7)")
    page.goto(f"{base}{interview}?token={server.auth.token}")
    assert page.js("location.search") == "", page.js("location.href")  # the token left the address bar
    assert page.js("document.querySelector('#answered_by') !== null"), page.js("document.body.innerText")
    page.type("#answered_by", "Maria Lopez, office manager")
    page.click('input[name="a-164.308(a)(7)-1-answer"][value="in-place"]')
    page.type('textarea[name="a-164.308(a)(7)-1-notes"]', "Written plan, reviewed every January")
    page.type('input[name="a-164.308(a)(7)-1-evidence"]', "Contingency plan v2, January 2026")
    page.click('input[name="a-164.308(a)(7)-6-answer"][value="not-in-place"]')
    page.type('textarea[name="a-164.308(a)(7)-6-notes"]', "One USB disk in the server room; never restored")
    page.js("window.scrollTo(0, 0)")
    page.screenshot("web-interview.png", tmp_path)
    page.click("#save", navigates=True)
    assert page.text("#saved") == "Saved: 2 answer(s) recorded."
    with Store.open(server.store.url.replace("sqlite:///", "")) as store:
        answers = {a.key_activity: a for a in store.interview_answers(CLIENT)}
    assert answers["164.308(a)(7)-6"].answer.value == "not-in-place"
    assert answers["164.308(a)(7)-1"].evidence_ref == "Contingency plan v2, January 2026"
    assert answers["164.308(a)(7)-1"].answered_by == "Maria Lopez, office manager"

    # -- the sign-off sheet, decided and signed by the owner
    sheet_projects = projects(RUN, load_framework())
    optional = next(p for p in sheet_projects if not p.required)
    required = next(p for p in sheet_projects if p.required)
    deferred = next(p for p in sheet_projects if p not in (optional, required))
    page.goto(base + path("clients", CLIENT, "runs", RUN.run_id, "signoff"))
    for p in sheet_projects:
        choice = {optional.project_id: "decline", required.project_id: "compensate",
                  deferred.project_id: "defer"}.get(p.project_id, "accept")
        page.click(f'input[name="p-{p.project_id}-decision"][value="{choice}"]')
    # the interview's "not in place" answer is a row of its own
    assert "Not in place (interview)" in page.text("#project-interview\\:164\\.308\\(a\\)\\(7\\)-6 h3")
    page.click('input[name="p-interview:164.308(a)(7)-6-decision"][value="accept"]')
    page.type(f'textarea[name="p-{optional.project_id}-reason"]', "Costs more than the practice can spend this year")
    page.type(f'textarea[name="p-{required.project_id}-control"]', "All mail goes through the hosted provider")
    later = (date.today() + timedelta(days=90)).isoformat()
    page.js(f"document.querySelector('input[name=\"p-{deferred.project_id}-until\"]').value = '{later}'")
    page.type("#signer_name", "Dr. Robin Lee")
    page.type("#signer_role", "owner")
    page.click("#agree")
    assert page.js("document.querySelector('#signature-area').hidden") is False  # the script ran under the CSP
    page.draw_signature("#signature-pad")
    drawn = page.js("document.querySelector('#signature_png').value")
    assert drawn.startswith("data:image/png;base64,")
    page.screenshot("web-signoff.png", tmp_path)
    page.click("#sign", navigates=True)
    assert "Signed and recorded: sign-off #1" in page.text("#signed-banner")
    page.js("window.scrollTo(0, 0)")
    page.screenshot("web-signed.png", tmp_path)

    # -- what was recorded: the decision chain, the signature, the sealed record
    with Store.open(server.store.url.replace("sqlite:///", "")) as store:
        decisions = store.decisions(CLIENT)
        (signoff,) = store.signoffs(CLIENT)
        assert store.verify().ok
    assert len(decisions) == sum(len(p.fingerprints) for p in sheet_projects) + 1
    assert by_interview(decisions).decision is DecisionKind.ACCEPTED
    by_fp = {d.subject: d for d in decisions}
    assert by_fp[optional.fingerprints[0]].decision is DecisionKind.DECLINED
    assert by_fp[optional.fingerprints[0]].note == "Costs more than the practice can spend this year"
    assert by_fp[required.fingerprints[0]].decision is DecisionKind.COMPENSATING_CONTROL
    assert by_fp[deferred.fingerprints[0]].until == date.fromisoformat(later)
    assert {d.decided_by for d in decisions} == {"Dr. Robin Lee, owner"}
    assert signoff.signature_kind == "drawn" and signoff.signature_png is not None
    with Image.open(io.BytesIO(signoff.signature_png)) as img:
        ink = sum(c for v, c in enumerate(img.getchannel("A").histogram()) if v > 32)
    assert ink > 200  # the stroke the mouse drew
    assert signoff.record_pdf is not None
    record = tmp_path / "decision-record.pdf"
    record.write_bytes(signoff.record_pdf)
    done = subprocess.run([str(PYHANKO), "sign", "validate", "--no-revocation-check", "--trust-replace", "--trust",
                           str(cert), "--executive-summary", str(record)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and ":VALID" in done.stdout, done.stdout + done.stderr
    pages = subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(record),
                            str(tmp_path / "record")], capture_output=True, timeout=60)
    assert pages.returncode == 0
    if os.environ.get("GAPSCAN_DOCS_SCREENSHOTS"):
        (DOCS / "decision-record.png").write_bytes(next(tmp_path.glob("record*.png")).read_bytes())

    assert not page.problems(), page.problems()
    assert all(u.startswith(base) or u.startswith("data:") for u in page.requested()), page.requested()


def by_interview(decisions: list[Any]) -> Any:
    (found,) = [d for d in decisions if d.subject == "interview:164.308(a)(7)-6"]
    return found


class _Attacker(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: object) -> None:
        pass


def test_hostile_names_are_inert_and_a_cross_site_post_is_refused(browser: DevTools,
                                                                  web: tuple[WebServer, Path]) -> None:
    server, _cert = web
    base = f"http://127.0.0.1:{server.port}"
    page = Page(browser)
    page.goto(f"{base}{path('clients', HOSTILE)}?token={server.auth.token}")
    assert page.text("#client-name") == HOSTILE
    assert page.js("document.title") != "pwned" and page.js("document.querySelectorAll('main img').length") == 0

    # another origin on this machine (another port: the same *site*, so the SameSite cookie goes along)
    fields = "".join(f'<input name="p-{p.project_id}-decision" value="accept">'
                     for p in projects(RUN, load_framework()))
    target = base + path("clients", CLIENT, "runs", RUN.run_id, "signoff")
    _Attacker.page = (f'<html><body><form id="f" method="post" action="{target}">{fields}'
                      '<input name="signer_name" value="Mallory"><input name="signer_role" value="owner">'
                      '<input name="agree" value="yes"><input name="typed_consent" value="yes"></form>'
                      "<script>document.getElementById('f').submit()</script></body></html>").encode()
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    thread = threading.Thread(target=attacker.serve_forever, daemon=True)
    thread.start()
    try:
        page.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
        if not page.js("location.href").startswith(base):  # the attacker's page, before its script posted
            page.settle(page.js("location.href"))
        assert page.js("location.href") == target
        assert "sent from another site" in page.text("#error-message")
    finally:
        attacker.shutdown()
        attacker.server_close()
        thread.join(5)
    with Store.open(server.store.url.replace("sqlite:///", "")) as store:
        assert store.signoffs(CLIENT) == [] and store.decisions(CLIENT) == []
