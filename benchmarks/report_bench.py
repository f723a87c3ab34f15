"""Render time of the gap report for 10,000 findings (issue 9: < 3 s for the HTML). Prints figures.

The findings are the recorded lab scan's failed results (tests/fixtures/lab-scan.json) repeated
on distinct targets until there are N of them, so evidence, details and citations are real ones;
every one is a failed finding, the worst case (each is written out with its evidence twice: the
on-screen <details> and the printed appendix).
Run: .venv/bin/python benchmarks/report_bench.py [N] [--pdf]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reports.csv_report import render_csv, render_tickets  # noqa: E402
from reports.html_report import render_html  # noqa: E402
from reports.pdf_report import pdf_available, render_pdf  # noqa: E402
from scanner.models import ScanRun, Status, Target, fingerprint, summarize  # noqa: E402
from tests.fixtures.report_data import lab_client, lab_run  # noqa: E402


def big_run(n: int) -> ScanRun:
    base = lab_run()
    failed = [r for r in base.results if r.status is Status.FAIL]
    results = []
    for i in range(n):
        r = failed[i % len(failed)]
        target = Target(host=f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", port=r.target.port,
                        service=r.target.service, domain=r.target.domain)
        results.append(r.model_copy(update={"target": target, "fingerprint": fingerprint(r.check_id, target)}))
    return base.model_copy(update={"results": tuple(results), "summary": summarize(results)})


def timed(label: str, fn: object, *args: object, **kwargs: object) -> float:
    start = time.perf_counter()
    path = fn(*args, **kwargs)  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    print(f"{label:<34} {elapsed:7.2f} s   {Path(path).stat().st_size / 1e6:7.1f} MB")
    return elapsed


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), "10000"))
    run = big_run(n)
    failed = run.summary.by_status["fail"]
    print(f"{n} results ({failed} failed findings), client file: tests/fixtures/client.yaml")
    client = lab_client()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        html_s = timed("report.html", render_html, run, out / "report.html", client=client)
        timed("findings.csv", render_csv, run, out / "findings.csv")
        timed("tickets.csv", render_tickets, run, out / "tickets.csv", client=client)
        if "--pdf" in sys.argv:
            if pdf_available():
                timed("report.pdf (WeasyPrint)", render_pdf, run, out / "report.pdf", client=client)
            else:
                print("report.pdf: WeasyPrint not installed")
    print(f"HTML for {n} results: {html_s:.2f} s ({'within' if html_s < 3 else 'OVER'} the 3 s budget)")


if __name__ == "__main__":
    main()
