"""The network map: one frame per subnet (and one for the practice's domains), the devices in it
grouped by role, and under each device the services that carry findings, coloured by risk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from markupsafe import Markup

from reports.pictures.inputs import DOMAINS, NO_FINDING_COLOUR, MapDevice
from reports.pictures.svg import clip, document, el, text, title

WIDTH = 720
COLUMNS = 4
PAD = 10
NODE_W = (WIDTH - 2 * PAD - (COLUMNS - 1) * 8) // COLUMNS  # 169
GAP = 8
HEAD_H = 44  # name, address, role
CHIP_H = 17
MAX_CHIPS = 4


def _node_height(device: MapDevice) -> int:
    chips = min(len(device.services), MAX_CHIPS) + (1 if len(device.services) > MAX_CHIPS else 0)
    if not device.services and device.findings:
        chips = 1  # "n finding(s) on the host"
    return HEAD_H + chips * (CHIP_H + 3) + 4


def _node(device: MapDevice, x: float, y: float, h: int) -> str:
    border = device.risk.colour if device.risk else NO_FINDING_COLOUR
    tip = f"{device.name} ({device.address}), {device.role}: "
    tip += f"{device.findings} finding(s)" if device.findings else "no finding"
    if device.risk:
        tip += f"; risk {device.risk.level} (likelihood {device.risk.likelihood}, impact {device.risk.impact})"
    parts = [title(tip),
             el("rect", x=x, y=y, width=NODE_W, height=h, rx=5, fill="#ffffff", stroke=border, stroke_width=2.5),
             text(x + 7, y + 15, clip(device.name, 24), 11, font_weight="bold", fill="#1d2329")]
    second = device.address if device.name != device.address else ""
    parts.append(text(x + 7, y + 28, clip(second or device.role, 28), 9.5, fill="#57606a"))
    if second:
        parts.append(text(x + 7, y + 39, clip(device.role, 28), 9.5, fill="#57606a", font_style="italic"))
    cy = y + HEAD_H
    shown = device.services[:MAX_CHIPS]
    for svc in shown:
        dark = svc.risk.level == "high"
        parts.append(el("g", title(f"{svc.label}: " + "; ".join(svc.titles)),
                        el("rect", x=x + 6, y=cy, width=NODE_W - 12, height=CHIP_H, rx=3, fill=svc.risk.colour),
                        text(x + 11, cy + 12, clip(f"{svc.label} · {svc.findings}", 27), 9.5,
                             fill="#ffffff" if dark else "#1d2329"),
                        class_="service"))
        cy += CHIP_H + 3
    if len(device.services) > MAX_CHIPS:
        parts.append(text(x + 11, cy + 12, f"+ {len(device.services) - MAX_CHIPS} more service(s)", 9.5,
                          fill="#57606a"))
    elif not device.services and device.findings and device.risk:
        parts.append(el("rect", x=x + 6, y=cy, width=NODE_W - 12, height=CHIP_H, rx=3, fill=device.risk.colour))
        parts.append(text(x + 11, cy + 12, f"{device.findings} finding(s)", 9.5,
                          fill="#ffffff" if device.risk.level == "high" else "#1d2329"))
    kind = "domain" if device.subnet == DOMAINS else "device"
    return el("g", *parts, class_=f"node {kind}", data_role=device.role)


def _role_order(device: MapDevice) -> tuple[int, str, str]:
    # servers first, then the rest, each group by address; devices with findings before clean ones
    return (0 if device.findings else 1, device.role, device.address)


def network_map(devices: Sequence[MapDevice]) -> Markup:
    by_subnet: dict[str, list[MapDevice]] = defaultdict(list)
    for d in devices:
        by_subnet[d.subnet].append(d)
    subnets = sorted(by_subnet, key=lambda s: (s == DOMAINS, s))
    body: list[str] = []
    y = 0.0
    for subnet in subnets:
        members = sorted(by_subnet[subnet], key=_role_order)
        rows = [members[i:i + COLUMNS] for i in range(0, len(members), COLUMNS)]
        top = y
        inner: list[str] = []
        cy = y + 26
        for row in rows:
            h = max(_node_height(d) for d in row)
            for i, d in enumerate(row):
                inner.append(_node(d, PAD + i * (NODE_W + GAP), cy, h))
            cy += h + GAP
        frame_h = cy - top + 2
        label = subnet if subnet == DOMAINS else f"Subnet {subnet}"
        count = f"{len(members)} {'domain' if subnet == DOMAINS else 'device'}(s)"
        body.append(el("g",
                       el("rect", x=1, y=top + 1, width=WIDTH - 2, height=frame_h, rx=8, fill="#f6f8fa",
                          stroke="#8c959f", stroke_dasharray="4 3"),
                       text(PAD, top + 18, f"{label} · {count}", 12, font_weight="bold", fill="#1d2329"),
                       *inner, class_="subnet"))
        y = top + frame_h + 10
    label = "Network map: devices by subnet and role, services with findings coloured by risk"
    return document(WIDTH, max(y, 40), label, body, "network-map")
