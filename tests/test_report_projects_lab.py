"""Issue 17 on a live demo scan: `gapscan scan` of the whole lab practice (tests/lab/demo.py's
command line) with the demo client file, then the deliverables read as the practice would: the
risk ranking, the collapsed DNS cards, the decision sheet's rows, the letter and the tickets."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest

from reports.client_file import ClientFile
from reports.projects import ranked_items, remediation_projects
from scanner.config.framework import load_framework
from scanner.config.userfiles import load_model
from scanner.engine.output import load_scan_json
from tests.fixtures.report_data import DEMO_CLIENT_FILE
from tests.lab.demo import scan_argv

pytestmark = pytest.mark.lab
DNS_HYGIENE = {"dns.dnssec_missing", "dns.mta_sts_missing", "dns.tls_rpt_missing"}


@pytest.fixture(scope="module")
def demo_out(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo-projects")
    argv = [*scan_argv(out, "json,html,tickets,letter"), "--client-file", str(DEMO_CLIENT_FILE), "-q"]
    proc = lab.run_in_scanner(argv, timeout=900)
    assert proc.returncode == 0, f"gapscan scan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return out


def test_ranking_decision_sheet_letter_and_tickets_of_the_demo(demo_out: Path) -> None:
    run = load_scan_json(demo_out / "scan.json")
    client = load_model(DEMO_CLIENT_FILE, ClientFile)
    projects = remediation_projects(run, load_framework(), client=client)
    items = ranked_items(projects)

    def rank(check: str) -> int:
        return next(n for n, (item, _p) in enumerate(items) if check in item.check_ids)

    hygiene = min(rank(c) for c in DNS_HYGIENE)
    assert rank("cleartext.vnc") < hygiene and rank("smb.open_share") < hygiene
    print("top 5 after:", [(i.rating.name, i.key, len(i.places)) for i, _p in items[:5]])

    html = (demo_out / "report.html").read_text(encoding="utf-8")
    findings = html.split('<section id="findings">')[1].split("</section>")[0]
    title = next(r.title for r in run.results if r.check_id == "dns.dnssec_missing")
    assert findings.count(f"</span> {title}</h4>") == 1
    sheet = html.split('<section id="decisions">')[1].split("</section>")[0]
    assert len(re.findall(r"<tr>\s*<td>\d+</td>", sheet)) == len(projects)
    assert sheet.count("declining is not a lawful option") == sum(1 for p in projects if p.required)
    assert "164.306(d)(3)" in sheet
    assert "Front desk PC (198.18.0.40)" in html

    learned = {h.address: [n.name for n in h.learned_names] for h in run.hosts}
    # The lab's reverse zone names each host <name>.lab.test (tests/lab/daemons/nsd.py).
    assert learned["198.18.0.40"] == ["ws.lab.test"], "reverse DNS at the lab nameserver"
    assert sum(1 for names in learned.values() if names) >= len(run.hosts) - 1
    arp = [h for h in run.hosts if h.discovered_by == "arp"]
    assert arp and all(h.mac and h.mac_vendor for h in arp), "ARP replies carry the MAC; veths are local ones"

    letter = (demo_out / "letter.html").read_text(encoding="utf-8")
    assert "Dear Dr. Robin Lee," in letter and "January 15, 2027" in letter

    raw = (demo_out / "tickets.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert len(rows) == len({(r["project"], r["host"]) for r in rows})
    vnc = next(r for r in rows if "cleartext.vnc" in r["check_ids"].split())
    assert vnc["summary"].startswith("Front desk PC (198.18.0.40): ")
