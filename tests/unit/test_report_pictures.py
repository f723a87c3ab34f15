"""The report's pictures and HIPAA presentation on the recorded demo scan (no browser: the SVG
is parsed as XML; tests/test_report_pictures_browser.py draws it in Chromium)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reports.hipaa_view import (
    RISK_ANALYSIS,
    applicable_framework,
    assessment_checklist,
    citation_notes,
    key_activity,
)
from reports.html_report import html_text, report_context
from reports.pictures import map_devices, network_map
from reports.pictures.inputs import RiskLevel
from reports.view import NOT_ASSESSED, safeguard_matrix
from scanner.config.framework import load_framework
from scanner.config.interview_guide import load_guide
from scanner.models import Host, Status
from tests.fixtures.report_data import demo_client, demo_run, lab_client

NS = "{http://www.w3.org/2000/svg}"


def _svg(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def _domains(run) -> set[str]:  # type: ignore[no-untyped-def]
    return {r.target.domain for r in run.results if r.target.domain and r.status in (Status.PASS, Status.FAIL)}


def test_network_map_has_one_node_per_device_and_domain() -> None:
    run = demo_run()
    svg = _svg(report_context(run, lab_client())["pictures"]["network_map"])
    nodes = [g for g in svg.iter(f"{NS}g") if "node" in g.get("class", "").split()]
    assert len([g for g in nodes if "device" in g.get("class", "")]) == len(run.hosts) == 18
    assert len([g for g in nodes if "domain" in g.get("class", "")]) == len(_domains(run)) == 8
    services = [g for g in svg.iter(f"{NS}g") if g.get("class") == "service"]
    assert services, "services that carry findings are drawn"


def test_pictures_name_devices_from_the_asset_inventory() -> None:
    run = demo_run()
    pictures = report_context(run, demo_client())["pictures"]
    svg = _svg(pictures["network_map"])
    node = next(g for g in svg.iter(f"{NS}g") if "node" in g.get("class", "").split()
                and any(t.text == "198.18.0.40" for t in g.iter(f"{NS}text")))
    texts = [t.text for t in node.iter(f"{NS}text")]
    assert texts[0] == "Front desk PC" and "workstation" in texts  # the inventory's name and role
    grid = [t.text for t in _svg(pictures["severity_grid"]).iter(f"{NS}text")]
    assert "Front desk PC (198.18.0.40)" in grid
    bare = _svg(report_context(run)["pictures"]["network_map"])  # no client file: the address
    assert not any(t.text == "Front desk PC" for t in bare.iter(f"{NS}text"))


def test_risk_matrix_places_every_project_once_with_the_risk_analysis_rating() -> None:
    run = demo_run()
    ctx = report_context(run, demo_client())
    projects = [p for p in ctx["projects"] if any(i.results for i in p.items)]
    items = ctx["pictures"]["matrix_items"]
    assert sorted(i.label for i in items) == sorted(p.title for p in projects)
    assert [i.number for i in items] == list(range(1, len(items) + 1))
    number = {p.title: n for n, p in enumerate(ctx["projects"], 1)}
    assert all(i.number == number[i.label] for i in items)  # disc 3 is project 3 of section 3
    discs = [g for g in _svg(ctx["pictures"]["risk_matrix"]).iter(f"{NS}g") if g.get("class") == "item"]
    assert len(discs) == len(items)
    assert not ctx["pictures"]["placeholder"]
    assert all("section 6" in i.risk.basis for i in items)
    scores = [i.risk.score for i in items]
    assert scores == sorted(scores, reverse=True)
    # the project the risk analysis rates worst sits in the matrix's top row
    worst = max(projects, key=lambda p: (p.rating.level, p.rating.score))
    assert next(i for i in items if i.label == worst.title).risk.score >= 6


def test_heat_map_prints_safeguard_names() -> None:
    html = html_text(demo_run(), lab_client())
    assert ">Risk management</text>" in html and ">Access control</text>" in html


def test_hostile_hostname_is_escaped_in_the_map() -> None:
    run = demo_run()
    evil = Host(address="198.18.0.99", hostnames=("<script>x</script>\u202e",))
    run = run.model_copy(update={"hosts": (*run.hosts, evil)})
    markup = str(network_map(map_devices(run)))
    assert "<script>" not in markup and "&lt;script&gt;" in markup and "\\u202e" in markup
    _svg(markup)  # still well-formed XML


def test_risk_level_scale() -> None:
    assert RiskLevel(3, 3).level == "high" and RiskLevel(2, 2).level == "moderate" and RiskLevel(1, 2).level == "low"


def test_no_scan_finding_is_a_gap_against_the_risk_analysis() -> None:
    fw = load_framework()
    assert not fw.requirement(RISK_ANALYSIS).checks  # type: ignore[union-attr]
    rows = {r.citation: r for r in safeguard_matrix(demo_run(), fw)}
    assert rows[RISK_ANALYSIS].status == NOT_ASSESSED
    assert "Risk analysis: gap found" not in html_text(demo_run(), lab_client())


def test_mapping_review_of_issue_17() -> None:
    fw = load_framework()
    assert set(fw.citations_for("endpoint.os_unsupported")) == {"164.308(a)(1)(ii)(B)", "164.308(a)(5)(ii)(B)"}
    # Syncthing is peer-to-peer: uncontrolled copies, not a business associate
    assert set(fw.citations_for("cloudsync.syncthing")) == {"164.310(d)(1)", "164.312(a)(1)"}


def test_group_health_plan_paragraphs_only_when_the_client_is_one() -> None:
    fw = load_framework()
    assert not any(r.citation.startswith("164.314(b)") for r in applicable_framework(fw).requirements)
    assert any(r.citation.startswith("164.314(b)") for r in applicable_framework(fw, True).requirements)
    html = html_text(demo_run(), lab_client())
    assert "Requirements for group health plans" not in html
    plan = lab_client().model_copy(update={"group_health_plan": True})
    assert "Requirements for group health plans" in html_text(demo_run(), plan)


def test_not_assessed_becomes_one_checklist_item_per_standard() -> None:
    fw = applicable_framework(load_framework())
    rows = safeguard_matrix(demo_run(), fw)
    na = [r for r in rows if r.status == NOT_ASSESSED]
    items = assessment_checklist(rows, fw)
    assert len(items) < len(na) / 2
    assert sum(1 + len(i.specifications) for i in items) >= len(na)  # every row is in some item
    assert all(i.documents and i.questions for i in items)
    ra = next(i for i in items if i.citation == "164.308(a)(1)(i)")
    assert any(c == RISK_ANALYSIS for c, _, _ in ra.specifications)


def test_each_citation_shows_its_rationale_and_key_activity() -> None:
    fw = load_framework()
    share = next(r for r in demo_run().results if r.check_id == "smb.open_share" and r.status is Status.FAIL)
    notes = {n.citation: n for n in citation_notes(share.model_copy(update={"hipaa": fw.citations_for(share.check_id)}),
                                                   fw)}
    link = next(c for c in fw.requirement("164.312(a)(1)").checks if c.check == "smb.open_share")  # type: ignore[union-attr]
    assert notes["164.312(a)(1)"].rationale == link.rationale
    assert notes["164.312(a)(1)"].activity is not None
    assert key_activity("164.308(a)(1)(ii)(A)", load_guide()).id == "164.308(a)(1)-2"  # type: ignore[union-attr]
    html = html_text(demo_run(), lab_client())
    assert link.rationale.replace("'", "&#39;") in html and "key activity 164.312(a)-" in html


def test_trend_is_drawn_with_history_only() -> None:
    run = demo_run()
    assert report_context(run, lab_client())["pictures"]["trend"] is None
    rows = [{"run_id": "a", "started_at": "2026-11-01T00:00:00", "open_by_severity": {"high": 50, "low": 30}},
            {"run_id": "b", "started_at": "2026-12-02T00:00:00", "open_by_severity": dict(run.summary.by_severity)}]
    html = html_text(run, lab_client(), trend=rows)
    svg = _svg(report_context(run, lab_client(), trend=rows)["pictures"]["trend"])
    series = [g for g in svg.iter(f"{NS}g") if g.get("class") == "series"]
    assert {g.get("data-severity") for g in series} == {"critical", "high", "medium", "low"}
    assert "Open gaps over time" in html and "2026-11-01" in html
