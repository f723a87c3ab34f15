"""gapscan web on a real uvicorn server (127.0.0.1, ephemeral port): token, Host, CSRF, origin,
headers, escaping, 404 pages, the interview form and the sign-off form's refusals."""

from __future__ import annotations

import base64
import io
import re
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image

import scanner.history.store
from scanner.config.framework import load_framework
from scanner.errors import InputError
from scanner.history.decisions import DecisionKind
from scanner.history.store import Store
from scanner.web.app import local_routes
from scanner.web.local.projects import Project, projects
from scanner.web.rendering import path
from scanner.web.server import bind_loopback
from tests.webapp import CLIENT, Browser, WebServer, lab_run, served

RUN = lab_run()
HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>\u202eevil"


@pytest.fixture
def db(tmp_path: Path) -> str:
    path_ = str(tmp_path / "h.db")
    with Store.open(path_) as store:
        store.store_run(RUN)
    return path_


@pytest.fixture
def server(db: str) -> Iterator[WebServer]:
    with served(db) as running:
        yield running


@pytest.fixture
def browser(server: WebServer) -> Browser:
    b = Browser(server.port)
    b.login(server)
    return b


def png_data_url(image: Image.Image) -> str:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def sheet_url() -> str:
    return path("clients", CLIENT, "runs", RUN.run_id, "signoff")


def interview_url(standard: str = "164.308(a)(7)") -> str:
    return path("clients", CLIENT, "interview", standard)


def run_projects() -> list[Project]:
    return projects(RUN, load_framework())


def sheet(overrides: dict[str, str] | None = None, **signer: str) -> dict[str, str]:
    fields = {f"p-{p.project_id}-decision": "accept" for p in run_projects()}
    fields.update({"signer_name": "Robin Lee", "signer_role": "owner", "agree": "yes", "typed_consent": "yes"})
    fields.update(signer)
    fields.update(overrides or {})
    return {k: v for k, v in fields.items() if v is not None}


def addressable_project() -> Project:
    return next(p for p in run_projects() if not p.required)


def required_project() -> Project:
    return next(p for p in run_projects() if p.required)


# ------------------------------------------------------------------ access


def test_without_the_token_every_page_is_403(server: WebServer) -> None:
    anonymous = Browser(server.port)
    for target in ("/", path("clients", CLIENT), sheet_url(), "/static/app.css", "/nothing-here"):
        reply = anonymous.get(target)
        assert reply.status == 403, target
        assert "content-security-policy" in reply.headers
    assert anonymous.get("/?token=" + "x" * 43).status == 403
    assert anonymous.post(sheet_url(), sheet(), csrf=None).status == 403  # no session, no post


def test_the_token_is_exchanged_for_a_session_cookie_and_leaves_the_url(server: WebServer) -> None:
    b = Browser(server.port)
    reply = b.get(sheet_url() + f"?token={server.auth.token}&x=1")
    assert reply.status == 303
    assert reply.headers["location"] == sheet_url() + "?x=1"
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"gapscan_session_{server.port}=") and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert b.get(sheet_url()).status == 200


def test_another_host_name_is_refused_even_with_a_session(browser: Browser) -> None:
    """DNS rebinding: a page of evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    browser.host = "evil.example"
    assert browser.get("/").status == 403
    browser.host = "localhost"
    assert browser.get("/").status == 200


def test_local_mode_binds_only_loopback() -> None:
    for host in ("0.0.0.0", "198.18.0.1", "::", "example.org"):
        with pytest.raises(InputError, match="loopback"):
            bind_loopback(0, host)
    sock = bind_loopback(0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_every_response_carries_the_security_headers(browser: Browser) -> None:
    for target in ("/", sheet_url(), interview_url(), path("clients", "nobody"), "/static/app.css"):
        headers = browser.get(target).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "form-action 'self'" in csp and "frame-ancestors 'none'" in csp
        assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]{44}';", csp), csp
        assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "same-origin"


# ------------------------------------------------------------------ CSRF and origin


def _post_routes() -> list[str]:
    found = []
    for route in local_routes():
        if "POST" in (getattr(route, "methods", None) or ()):
            found.append(route.path)  # type: ignore[attr-defined]
    return found


def test_every_form_route_refuses_a_post_without_the_sessions_csrf_token(browser: Browser, db: str) -> None:
    targets = {"/clients/{client}/interview/{standard}": interview_url(),
               "/clients/{client}/runs/{run}/signoff": sheet_url()}
    assert set(_post_routes()) == set(targets)  # a new form must be added here, with its CSRF test
    for target in targets.values():
        fields = sheet() | {"answered_by": "Robin Lee, owner", "a-164.308(a)(7)-1-answer": "in-place"}
        for token in (None, "not-the-token"):
            reply = browser.post(target, fields, csrf=token)
            assert reply.status == 403 and "CSRF" in reply.text, target
        other = Browser(browser.port)
        other.cookies = {}
        assert other.post(target, fields, csrf=None).status == 403
    with Store.open(db) as store:
        assert store.decisions(CLIENT) == [] and store.interview_answers(CLIENT) == []


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:1", "null"])
def test_a_cross_site_post_is_refused_even_with_a_valid_token(browser: Browser, db: str, origin: str) -> None:
    reply = browser.post(sheet_url(), sheet(), origin=origin)
    assert reply.status == 403 and "another site" in reply.text
    reply = browser.post(sheet_url(), sheet(), origin=None, extra={"Sec-Fetch-Site": "same-site"})
    assert reply.status == 403
    with Store.open(db) as store:
        assert store.decisions(CLIENT) == [] and store.signoffs(CLIENT) == []


# ------------------------------------------------------------------ pages and escaping


def test_unknown_client_run_standard_and_record_are_clear_404_pages(browser: Browser) -> None:
    cases = {path("clients", "Nobody Dental"): "no client named “Nobody Dental”",
             path("clients", CLIENT, "runs", "no-such-run", "signoff"): "has no stored run “no-such-run”",
             path("clients", CLIENT, "interview", "164.999(z)"): "is not a Security Rule standard",
             path("clients", CLIENT, "runs", RUN.run_id, "signoff", "7", "record.pdf"): "has no sign-off #7",
             "/no/such/page": "no such page"}
    for target, words in cases.items():
        reply = browser.get(target)
        assert reply.status == 404, target
        assert words.lower() in reply.text.lower(), reply.text


def test_hostile_strings_are_escaped_everywhere(db: str, tmp_path: Path) -> None:
    with Store.open(db) as store:
        store.store_run(RUN.model_copy(update={"run_id": "hostile-1"}), client=HOSTILE)
    with served(db) as server:
        b = Browser(server.port)
        b.login(server)
        index = b.get("/").text
        assert "<script>alert" not in index and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in index
        assert "\u202e" not in index and "\\u202e" in index
        client_page = b.get(path("clients", HOSTILE))
        assert client_page.status == 200 and "<img src=x" not in client_page.text
        std = "164.308(a)(1)"
        answer = {"answered_by": HOSTILE, "a-164.308(a)(1)-1-answer": "partly", "a-164.308(a)(1)-1-notes": HOSTILE,
                  "a-164.308(a)(1)-1-evidence": HOSTILE}
        saved = b.post(path("clients", HOSTILE, "interview", std), answer)
        assert saved.status == 303
        shown = b.get(path("clients", HOSTILE, "interview", std)).text
        assert "<script>alert" not in shown and "onerror=alert(1)>" not in shown
        assert shown.count("&lt;img src=x onerror=alert(1)&gt;") >= 3


# ------------------------------------------------------------------ interview


def test_interview_answers_are_recorded_append_only_and_unchanged_ones_are_not_repeated(browser: Browser,
                                                                                        db: str) -> None:
    first = {"answered_by": "Maria Lopez, office manager", "a-164.308(a)(7)-6-answer": "not-in-place",
             "a-164.308(a)(7)-6-notes": "Backups on one USB disk", "a-164.308(a)(7)-6-evidence": "none",
             "a-164.308(a)(7)-1-answer": "in-place"}
    reply = browser.post(interview_url(), first)
    assert reply.status == 303 and reply.headers["location"].endswith("?saved=2")
    again = browser.post(interview_url(), first | {"answered_by": "Someone Else, dentist"})
    assert again.headers["location"].endswith("?saved=0")  # unchanged: nothing re-attributed
    changed = browser.post(interview_url(), first | {"a-164.308(a)(7)-6-answer": "partly"})
    assert changed.headers["location"].endswith("?saved=1")
    page = browser.get(interview_url()).text
    assert "Earlier answers (1)" in page and "partly in place" in page
    with Store.open(db) as store:
        answers = store.interview_answers(CLIENT)
        assert [(a.key_activity, a.answer.value) for a in answers] == [
            ("164.308(a)(7)-1", "in-place"), ("164.308(a)(7)-6", "not-in-place"), ("164.308(a)(7)-6", "partly")]
        assert answers[-1].answered_by == "Maria Lopez, office manager" and answers[-1].source == "web"
        assert store.verify().ok


def test_interview_form_refusals_name_the_field(browser: Browser, db: str) -> None:
    no_who = browser.post(interview_url(), {"a-164.308(a)(7)-1-answer": "in-place"})
    assert no_who.status == 400 and "Answered by: say who gave these answers" in no_who.text
    assert 'id="answered_by" name="answered_by" value="" maxlength="200" aria-invalid="true"' in no_who.text
    notes_only = browser.post(interview_url(), {"answered_by": "A, b", "a-164.308(a)(7)-1-notes": "kept"})
    assert notes_only.status == 400 and "choose one for the notes" in notes_only.text and ">kept</textarea>" in \
        notes_only.text
    bad = browser.post(interview_url(), {"answered_by": "A, b", "a-164.308(a)(7)-1-answer": "maybe"})
    assert bad.status == 400 and "not one of the choices" in bad.text
    with Store.open(db) as store:
        assert store.interview_answers(CLIENT) == []


# ------------------------------------------------------------------ sign-off refusals


def _refused(browser: Browser, fields: dict[str, str], words: str, field: str) -> None:
    reply = browser.post(sheet_url(), fields)
    assert reply.status == 400, reply.text[:300]
    assert "Not signed: nothing was recorded" in reply.text
    assert words in reply.text, reply.text
    assert f'data-field="{field}"' in reply.text


def test_signoff_refusals_name_the_field_and_record_nothing(browser: Browser, db: str) -> None:
    opt, req = addressable_project(), required_project()
    d, r = f"p-{opt.project_id}-decision", f"p-{opt.project_id}-reason"
    _refused(browser, sheet({d: "decline"}), "Reason: a decline needs its reason", r)
    _refused(browser, sheet({d: "defer"}), "Defer until: a deferral needs the date", f"p-{opt.project_id}-until")
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    _refused(browser, sheet({d: "defer", f"p-{opt.project_id}-until": yesterday}),
             f"Defer until: the date {yesterday} is not in the future", f"p-{opt.project_id}-until")
    _refused(browser, sheet({d: "defer", f"p-{opt.project_id}-until": "31/12/2030"}), "not a date",
             f"p-{opt.project_id}-until")
    _refused(browser, sheet({f"p-{req.project_id}-decision": "decline", f"p-{req.project_id}-reason": "cost"}),
             "cannot simply be declined", f"p-{req.project_id}-decision")
    _refused(browser, sheet({d: "compensate"}), "Compensating control: a compensating control needs a description",
             f"p-{opt.project_id}-control")
    _refused(browser, sheet({d: ""}), "choose Accept, Decline, Defer or Compensating control", d)
    _refused(browser, sheet(signer_name=""), "Full name: needed to sign", "signer_name")
    _refused(browser, sheet(signer_role=""), "Role: needed to sign", "signer_role")
    _refused(browser, sheet(agree=""), "tick the box", "agree")
    _refused(browser, sheet(typed_consent=""), "draw your signature in the box", "signature")
    blank = png_data_url(Image.new("RGBA", (300, 100), (0, 0, 0, 0)))
    _refused(browser, sheet(typed_consent="", signature_png=blank), "the signature box is empty", "signature")
    _refused(browser, sheet(typed_consent="", signature_png="data:image/png;base64,!!"), "damaged", "signature")
    kept = browser.post(sheet_url(), sheet({d: "decline", r: "x" * 3000}))
    assert kept.status == 400 and "longer than 2000 characters" in kept.text
    with Store.open(db) as store:
        assert store.decisions(CLIENT) == [] and store.signoffs(CLIENT) == []


def test_a_valid_sheet_records_every_decision_and_freezes(browser: Browser, db: str) -> None:
    opt, req = addressable_project(), required_project()
    later = (date.today() + timedelta(days=60)).isoformat()
    fields = sheet({f"p-{opt.project_id}-decision": "decline", f"p-{opt.project_id}-reason": HOSTILE,
                    f"p-{req.project_id}-decision": "compensate",
                    f"p-{req.project_id}-control": "Mail goes through the hosted provider only"})
    other = next(p for p in run_projects() if p.project_id not in (opt.project_id, req.project_id))
    fields |= {f"p-{other.project_id}-decision": "defer", f"p-{other.project_id}-until": later}
    reply = browser.post(sheet_url(), fields)
    assert reply.status == 303, reply.text[:500]
    assert reply.headers["location"] == sheet_url() + "?signed=1"
    frozen = browser.get(sheet_url())
    assert "This sheet is frozen" in frozen.text and "<script>alert" not in frozen.text
    assert 'name="csrf"' not in frozen.text  # no form: nothing to edit
    with Store.open(db) as store:
        decisions = store.decisions(CLIENT)
        signoffs = store.signoffs(CLIENT)
        assert store.verify().ok
    assert len(decisions) == sum(len(p.fingerprints) for p in run_projects())
    assert {d.decided_by for d in decisions} == {"Robin Lee, owner"}
    by_fp = {d.subject: d for d in decisions}
    assert {by_fp[fp].decision for fp in opt.fingerprints} == {DecisionKind.DECLINED}
    assert by_fp[opt.fingerprints[0]].note == HOSTILE
    assert by_fp[req.fingerprints[0]].decision is DecisionKind.COMPENSATING_CONTROL
    assert by_fp[other.fingerprints[0]].until == date.fromisoformat(later)
    (signed,) = signoffs
    assert signed.signature_kind == "typed" and signed.signature_png is None
    assert set(signed.decision_digests) == {d.digest for d in decisions}
    assert signed.record_pdf is not None and signed.record_pdf.startswith(b"%PDF")
    pdf = browser.get(path("clients", CLIENT, "runs", RUN.run_id, "signoff", "1", "record.pdf"))
    assert pdf.status == 200 and pdf.body == signed.record_pdf
    assert pdf.headers["content-type"] == "application/pdf"
    # a second submission supersedes: a new sign-off and new decisions, the first ones kept
    again = browser.get(sheet_url() + "?again=1")
    assert "supersedes it" in again.text and 'value="decline" checked' in again.text
    token = browser.csrf(sheet_url() + "?again=1")
    assert browser.post(sheet_url(), sheet(), csrf=token).headers["location"].endswith("?signed=2")
    with Store.open(db) as store:
        assert [s.seq for s in store.signoffs(CLIENT)] == [1, 2]
        assert len(store.decisions(CLIENT)) == 2 * len(decisions)
        assert store.verify().ok


def test_without_a_document_signing_certificate_signing_is_refused(db: str) -> None:
    with served(db, seal=False) as server:
        b = Browser(server.port)
        b.login(server)
        assert "cannot be sealed" in b.get(sheet_url()).text
        reply = b.post(sheet_url(), sheet())
        assert reply.status == 503 and "Nothing was recorded" in reply.text
    with Store.open(db) as store:
        assert store.decisions(CLIENT) == [] and store.signoffs(CLIENT) == []


def test_a_locked_database_gives_an_error_page_and_loses_nothing(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner.history.store, "SQLITE_BUSY_TIMEOUT", 0.3)
    with served(db) as server:
        browser = Browser(server.port)
        browser.login(server)
        first = {"answered_by": "Maria Lopez, office manager", "a-164.308(a)(7)-1-answer": "in-place"}
        assert browser.post(interview_url(), first).status == 303
        token = browser.csrf(interview_url())
        sheet_token = browser.csrf(sheet_url())
        holder = sqlite3.connect(db, isolation_level=None, timeout=0.1)
        try:
            holder.execute("BEGIN EXCLUSIVE")  # another program holds the database
            reply = browser.post(interview_url(), first | {"a-164.308(a)(7)-2-answer": "partly",
                                                           "a-164.308(a)(7)-2-notes": "typed in the meeting"},
                                 csrf=token)
            assert reply.status == 503
            assert "locked" in reply.text and "Nothing on this page was recorded" in reply.text
            assert ">typed in the meeting</textarea>" in reply.text  # what was typed is still on the page
            signed = browser.post(sheet_url(), sheet(), csrf=sheet_token)
            assert signed.status == 503 and "locked" in signed.text and "Nothing was recorded" in signed.text
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert browser.get(interview_url()).status == 200  # the server carries on once the lock is gone
    with Store.open(db) as store:
        assert [a.key_activity for a in store.interview_answers(CLIENT)] == ["164.308(a)(7)-1"]
        assert store.signoffs(CLIENT) == [] and store.verify().ok


def test_a_not_in_place_answer_is_a_row_of_the_sheet_and_decided_in_the_chain(browser: Browser, db: str) -> None:
    answers = {"answered_by": "Maria Lopez, office manager", "a-164.308(a)(7)-6-answer": "not-in-place",
               "a-164.308(a)(7)-6-notes": "One USB disk, never restored", "a-164.308(a)(7)-1-answer": "partly"}
    assert browser.post(interview_url(), answers).status == 303
    page = browser.get(sheet_url()).text
    assert "Not in place (interview): Data Backup Plan and Disaster Recovery Plan" in page
    assert "One USB disk, never restored" in page and "Not in place (interview): Develop a Contingency" not in page
    row = "p-interview:164.308(a)(7)-6"
    refused = browser.post(sheet_url(), sheet({f"{row}-decision": "decline", f"{row}-reason": "cost"}))
    assert refused.status == 400 and "cannot simply be declined" in refused.text  # data backup plan is Required
    fields = sheet({f"{row}-decision": "compensate", f"{row}-control": "Nightly copy to the hosted EHR's vault"})
    assert browser.post(sheet_url(), fields).status == 303
    with Store.open(db) as store:
        decided = [d for d in store.decisions(CLIENT) if d.subject == "interview:164.308(a)(7)-6"]
        assert store.verify().ok
    assert len(decided) == 1 and decided[0].subject_kind == "interview"
    assert decided[0].decision is DecisionKind.COMPENSATING_CONTROL
