"""Discovery benchmark: gapscan's built-in discovery against ``nmap -sT -T4 -n`` on the lab.

    sudo .venv/bin/python benchmarks/discovery_bench.py [--runs 3] [--keep-lab] [--json out.json]

For two lab networks, from inside the scanner namespace (gs-scan):

- dense: 198.18.1.0/24, 254 live addresses behind a router, each with the lab's 20
  ``DENSE_PORTS`` swept (7 open: 1,778 open ports, served by forking daemons that drop SYNs
  when their listen backlogs overflow);
- sparse: the practice /24, a handful of live hosts on the scanner's own segment, swept on
  the 20 dense ports plus every TCP port the practice hosts use.

Each run times the whole process (start-up included) of both tools, alternating which goes
first, and records each process's peak RSS (getrusage of children, in a small wrapper).
Printed per network: median and best wall time of each, the ratio of medians (targets:
dense <= 0.5, sparse <= 1.0), open-port counts per run, the ports one saw and the other did
not (over all runs: any miss in any run is shown), and peak RSS.

The like-for-like comparison runs gapscan with ``--service-detection none`` (host discovery,
connect sweep, port-map names), since ``nmap -sT`` names ports from its services table and
reads no banners. One extra run with gapscan's default banner identification is shown for
information. The script prints figures; it asserts nothing about timings.

The lab is reused when it is already up (both parts); otherwise it is started here and torn
down at the end (unless ``--keep-lab``). Every packet stays inside the lab's namespaces.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab import Lab, topology  # noqa: E402  (needs the repository on sys.path)

Port = tuple[str, int]


@dataclass
class Run:
    tool: str
    wall_s: float
    rss_kb: int
    open_ports: set[Port]
    returncode: int
    detail: str = ""


@dataclass
class NetworkResult:
    name: str
    network: str
    ports: list[int]
    runs: list[Run] = field(default_factory=list)
    full: Run | None = None


# Peak RSS is read with getrusage(RUSAGE_CHILDREN) in a tiny separate interpreter that runs the
# measured command: Linux records the pre-exec memory of a forked child in its ru_maxrss, so
# forking the command straight from this (larger) process would report this process's size.
# The wrapper also times the command itself, so its own start-up is in neither tool's figure.
_RSS_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "start = time.monotonic()\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "wall = time.monotonic() - start\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(f'{rss} {wall}')\n"
    "sys.exit(code)\n"
)


def measure(argv: list[str], tool: str, parse: Any) -> Run:
    """Run ``argv``; wall time, peak RSS (KB) of the command, and its parsed open ports."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", _RSS_WRAPPER, rss_file.name, *argv],
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=600)
        rss_text, wall_text = [*rss_file.read().split(), "0", "nan"][:2]
        rss_kb, wall = int(rss_text), float(wall_text)
    if proc.returncode != 0:
        return Run(tool, wall, rss_kb, set(), proc.returncode, proc.stderr.decode(errors="replace")[-500:])
    ports, detail = parse(proc.stdout)
    return Run(tool, wall, rss_kb, ports, 0, detail)


def parse_gapscan(out: bytes) -> tuple[set[Port], str]:
    data = json.loads(out)
    ports = {(h["address"], s["port"]) for h in data["hosts"] for s in h["services"] if s["transport"] == "tcp"}
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in data["timings"].items())
    sweep_note = next((n for n in data["notes"] if n.startswith("TCP sweep")), "")
    return ports, f"{len(data['hosts'])} hosts; {timings}; {sweep_note}"


def parse_nmap(out: bytes) -> tuple[set[Port], str]:
    root = ElementTree.fromstring(out)
    ports: set[Port] = set()
    up = 0
    for host in root.iter("host"):
        status = host.find("status")
        if status is not None and status.get("state") == "up":
            up += 1
        address = next((a.get("addr") for a in host.iter("address") if a.get("addrtype") == "ipv4"), None)
        for port in host.iter("port"):
            state = port.find("state")
            if address and state is not None and state.get("state") == "open":
                ports.add((address, int(port.get("portid") or 0)))
    return ports, f"{up} hosts up"


def gapscan_cmd(lab: Lab, network: str, ports: list[int], *, banners: bool) -> list[str]:
    argv = ["env", f"PYTHONPATH={REPO}", sys.executable, "-m", "scanner.discovery.pipeline", network,
            "--ports", ",".join(map(str, ports)), "--json"]
    if not banners:
        argv += ["--service-detection", "none"]
    return lab.scanner_cmd(argv)


def nmap_cmd(lab: Lab, network: str, ports: list[int]) -> list[str]:
    return lab.scanner_cmd(["nmap", "-sT", "-T4", "-n", "-p", ",".join(map(str, ports)), "-oX", "-", network])


def bench(lab: Lab, name: str, network: str, ports: list[int], runs: int, pause: float) -> NetworkResult:
    result = NetworkResult(name, network, ports)
    for i in range(runs):
        order = ("gapscan", "nmap") if i % 2 == 0 else ("nmap", "gapscan")
        for tool in order:
            if tool == "gapscan":
                run = measure(gapscan_cmd(lab, network, ports, banners=False), "gapscan", parse_gapscan)
            else:
                run = measure(nmap_cmd(lab, network, ports), "nmap", parse_nmap)
            result.runs.append(run)
            time.sleep(pause)  # let forked daemon children of the last run exit
    result.full = measure(gapscan_cmd(lab, network, ports, banners=True), "gapscan+banners", parse_gapscan)
    return result


def report(result: NetworkResult, target: float) -> dict[str, Any]:
    ours = [r for r in result.runs if r.tool == "gapscan"]
    theirs = [r for r in result.runs if r.tool == "nmap"]
    failed = [r for r in result.runs if r.returncode != 0]
    med_g = statistics.median(r.wall_s for r in ours)
    med_n = statistics.median(r.wall_s for r in theirs)
    union_n = set().union(*(r.open_ports for r in theirs))
    union_g = set().union(*(r.open_ports for r in ours))
    missed_by_gapscan = {p for r in ours for p in union_n - r.open_ports}
    missed_by_nmap = {p for r in theirs for p in union_g - r.open_ports}
    ratio = med_g / med_n if med_n else float("nan")
    lines = [
        f"== {result.name}: {result.network}, {len(result.ports)} ports, {len(ours)} runs each",
        f"   gapscan (--service-detection none): median {med_g:.2f} s, best {min(r.wall_s for r in ours):.2f} s, "
        f"runs {[round(r.wall_s, 2) for r in ours]}",
        f"   nmap -sT -T4 -n                   : median {med_n:.2f} s, best {min(r.wall_s for r in theirs):.2f} s, "
        f"runs {[round(r.wall_s, 2) for r in theirs]}",
        f"   ratio gapscan/nmap (medians): {ratio:.2f}  (target <= {target:.1f}: "
        f"{'met' if ratio <= target else 'NOT met'})",
        f"   open ports per run: gapscan {[len(r.open_ports) for r in ours]}, "
        f"nmap {[len(r.open_ports) for r in theirs]}",
        f"   seen by nmap, missed by gapscan in some run: {len(missed_by_gapscan)} {sorted(missed_by_gapscan)[:10]}",
        f"   seen by gapscan, missed by nmap in some run: {len(missed_by_nmap)} {sorted(missed_by_nmap)[:10]}",
        f"   peak RSS: gapscan {max(r.rss_kb for r in ours) / 1024:.1f} MB, "
        f"nmap {max(r.rss_kb for r in theirs) / 1024:.1f} MB",
        f"   gapscan detail (last run): {ours[-1].detail}",
    ]
    if result.full is not None:
        full = result.full
        lines.append(f"   for information, gapscan with banner identification: {full.wall_s:.2f} s, "
                     f"{len(full.open_ports)} open, {full.rss_kb / 1024:.1f} MB ({full.detail})")
    for run in failed:
        lines.append(f"   FAILED {run.tool} (exit {run.returncode}): {run.detail}")
    print("\n".join(lines), flush=True)
    return {
        "network": result.network, "ports": result.ports, "ratio": ratio, "target": target,
        "gapscan_median_s": med_g, "nmap_median_s": med_n,
        "missed_by_gapscan": sorted(missed_by_gapscan), "missed_by_nmap": sorted(missed_by_nmap),
        "runs": [{**asdict(r), "open_ports": len(r.open_ports)} for r in result.runs],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool per network (default 3)")
    parser.add_argument("--networks", default="dense,sparse")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between runs")
    parser.add_argument("--keep-lab", action="store_true", help="leave a lab started here running")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the benchmark runs inside the lab's network namespaces: run it as root", file=sys.stderr)
        return 2

    lab = Lab()
    started = False
    if not (lab.is_up() and {"practice", "dense"} <= set(lab.parts) and lab.healthy()):
        print("starting the lab (practice + dense) ...", flush=True)
        lab = Lab()
        lab.up(("practice", "dense"))
        started = True
    try:
        practice_ports = {s.port for h in topology.HOSTS for s in h.services if s.transport == "tcp"}
        networks = {
            "dense": (topology.DENSE_NET, list(topology.DENSE_PORTS), 0.5),
            "sparse": (topology.PRACTICE_NET, sorted(set(topology.DENSE_PORTS) | practice_ports), 1.0),
        }
        load = os.getloadavg()
        print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start "
              "(other work on the machine adds noise: compare medians)", flush=True)
        figures = {}
        for name in args.networks.split(","):
            network, ports, target = networks[name.strip()]
            figures[name] = report(bench(lab, name, network, ports, args.runs, args.pause), target)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=list))
    finally:
        if started and not args.keep_lab:
            lab.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
