"""The safeguard heat map with names: each box prints the citation and the safeguard's name
(on paper a tooltip is lost, and a bare "(a)(2)(iv)" says nothing to a practice owner)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup

from reports.pictures.svg import clip, document, el, text, title
from reports.view import GAP_FOUND, HEAT_COLOURS, SafeguardRow

COLUMNS, CELL_W, CELL_H, GAP = 5, 140, 30, 3


def safeguard_heat_map(rows: Sequence[SafeguardRow], parts: Mapping[str, str]) -> Markup:
    body: list[str] = []
    y = 0
    for part, name in parts.items():
        items = [r for r in rows if r.part == part]
        if not items:
            continue
        body.append(text(0, y + 14, f"{part} {name}", 12, font_weight="bold", fill="#1d2329"))
        y += 20
        for i, row in enumerate(items):
            key = row.worst.value if row.status == GAP_FOUND and row.worst else row.status
            dark = key in ("critical", "high", "no gap observed")
            ink = "#ffffff" if dark else "#1d2329"
            x, cy = (i % COLUMNS) * (CELL_W + GAP), y + (i // COLUMNS) * (CELL_H + GAP)
            tip = f"{row.citation} {row.requirement.title}: {row.status}"
            if row.failed:
                tip += f" ({len(row.failed)} finding(s))"
            body.append(el("g", title(tip),
                           el("rect", x=x, y=cy, width=CELL_W, height=CELL_H, rx=3, fill=HEAT_COLOURS[key]),
                           text(x + 5, cy + 12, row.citation, 9, font_weight="bold", fill=ink),
                           text(x + 5, cy + 24, clip(row.requirement.title, 27), 8.5, fill=ink),
                           class_="safeguard"))
        y += ((len(items) + COLUMNS - 1) // COLUMNS) * (CELL_H + GAP) + 6
    return document(COLUMNS * (CELL_W + GAP), y, "Safeguard heat map", body, "heat-map")
