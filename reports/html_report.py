"""report.html: one self-contained file (inline CSS, no scripts, nothing fetched).

Every string that came off the network is escaped (jinja2 autoescape); a Content-Security-Policy
meta forbids remote loads. Wording says "gap against" a safeguard, never "compliant".
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from scanner.models import ScanRun, Severity, Status

# Zero-width and bidirectional-override characters make text read differently from what the
# server sent (CVE-2021-42574, "Trojan Source"): shown as visible escapes, never rendered.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _visible(value: Any) -> Any:
    if isinstance(value, str):
        return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    return value


def _pretty_json(value: Any) -> str:
    """Plain text (not Markup), so autoescape escapes it like any other string."""
    return json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True, default=str)


_ENV = Environment(
    loader=PackageLoader("reports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_visible,
)
_ENV.filters["pretty_json"] = _pretty_json

_STATUS_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.SKIPPED: 2, Status.PASS: 3}


def render_html(run: ScanRun, path: Path) -> Path:
    results = sorted(run.results, key=lambda r: (_STATUS_ORDER[r.status], -r.severity.rank, r.check_id,
                                                 r.target.label()))
    html = _ENV.get_template("report.html.j2").render(
        run=run, results=results, severities=[s.value for s in sorted(Severity, key=lambda s: -s.rank)],
    )
    path.write_text(html, encoding="utf-8")
    return path
