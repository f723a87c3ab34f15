"""Discovery benchmark: gapscan's built-in discovery against ``nmap -sT -T4 -n`` on the lab.

    sudo .venv/bin/python benchmarks/discovery_bench.py [--runs 5] [--networks sparse,dense]
        [--no-onboarding] [--no-tolerance] [--code DIR] [--keep-lab] [--json out.json]

Both networks are swept on nmap's top 1,000 TCP ports (``scanner.config.ports``: the same list
for both tools), from inside the scanner namespace:

- sparse: the practice /24, ~20 live hosts on the scanner's own segment, four of them behind a
  host firewall that drops every port (three drop everything, laptop-good all but 22);
- dense: 198.18.1.0/24, 254 live addresses behind a router, 7 ports open on each (1,778 open
  ports, served by forking daemons that drop SYNs when their listen backlogs overflow).

Each run times the whole process (start-up included) of each tool, rotating which goes first,
and records each process's peak RSS (getrusage of children, in a small wrapper). Printed per
network: median and best wall time, the ratio of medians against nmap measured in the same
runs (the machine is shared and has 2 cores: absolute seconds are noisy, the ratio is the
figure), open ports per run, every port one tool saw in some run and the other missed in
some run, and peak RSS. gapscan runs with ``--service-detection none`` (host discovery, sweep,
port-map names), since ``nmap -sT`` reads no banners; as root gapscan's sweep is half-open (SYN),
so ``gapscan --sweep connect`` (what it does without root) is measured in the same runs too.

Then, unless ``--no-onboarding``: one full ``gapscan scan`` of the dense /24 with the default
onboarding profile (65 s passive listening window, every check), wall time and peak RSS; and,
unless ``--no-tolerance``: how many simultaneous handshakes each kind of forking lab daemon
takes before it drops SYNs (``backlog_probe.py``), the measurement behind the sweep's limits.

``--code DIR`` runs gapscan from another source tree (e.g. ``git archive main`` unpacked), to
record figures before a change; options it does not know are left out. The script prints
figures; it asserts nothing about timings. The lab is reused when it is already up (both
parts); otherwise it is started here and torn down at the end (unless ``--keep-lab``). Every
packet stays inside the lab's namespaces.
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

from scanner.config.ports import CHECK_PORTS, default_ports  # noqa: E402  (needs the repository on sys.path)
from tests.lab import Lab, topology  # noqa: E402

Port = tuple[str, int]
TARGETS = {"sparse": 0.7, "dense": 0.5}
ONBOARDING_TARGET_S, ONBOARDING_TARGET_MB = 70.0, 300.0
# Forking daemons of the lab, one listener each: (address, port, what).
TOLERANCE_TARGETS = (
    ("198.18.1.1", 21, "vsftpd"), ("198.18.1.1", 22, "sshd"), ("198.18.1.1", 139, "smbd (139)"),
    ("198.18.1.1", 445, "smbd"), ("198.18.1.1", 80, "nginx"), ("198.18.0.20", 25, "postfix smtpd"),
    ("198.18.0.40", 23, "inetd telnetd"),
)
TOLERANCE_BURSTS = (8, 16, 32, 48, 64, 128, 256)


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


TIMEOUT = 900.0  # seconds one measured command may take (--timeout)


def measure(argv: list[str], tool: str, parse: Any, timeout: float | None = None, cwd: Path | None = None) -> Run:
    """Run ``argv`` (in ``cwd``: ``python -m`` puts the working directory first on sys.path, so
    it decides which source tree runs); wall time, peak RSS (KB), and its parsed open ports."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", _RSS_WRAPPER, rss_file.name, *argv],
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout or TIMEOUT, cwd=cwd)
        rss_text, wall_text = [*rss_file.read().split(), "0", "nan"][:2]
        rss_kb, wall = int(rss_text), float(wall_text)
    if proc.returncode not in (0, 3):  # gapscan scan exits 3 when it found gaps
        return Run(tool, wall, rss_kb, set(), proc.returncode, proc.stderr.decode(errors="replace")[-800:])
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


class Tools:
    """Command lines of the measured tools, for the code tree under test."""

    def __init__(self, lab: Lab, code: Path) -> None:
        self.lab, self.code = lab, code
        self.python = ["env", f"PYTHONPATH={code}", sys.executable]
        helptext = subprocess.run([*self.python, "-m", "scanner.discovery.pipeline", "--help"],
                                  capture_output=True, text=True, timeout=60, cwd=code).stdout
        self.has_sweep_option = "--sweep {" in helptext  # not --sweep-concurrency

    def gapscan(self, network: str, ports: list[int], *, banners: bool = False, sweep: str = "") -> list[str]:
        argv = [*self.python, "-m", "scanner.discovery.pipeline", network,
                "--ports", ",".join(map(str, ports)), "--json"]
        if not banners:
            argv += ["--service-detection", "none"]
        if sweep:
            argv += ["--sweep", sweep]
        return self.lab.scanner_cmd(argv)

    def nmap(self, network: str, ports: list[int]) -> list[str]:
        return self.lab.scanner_cmd(["nmap", "-sT", "-T4", "-n", "-p", ",".join(map(str, ports)), "-oX", "-", network])

    def scan(self, network: str, out: Path) -> list[str]:
        main = "import sys; from scanner.cli import main; sys.exit(main())"
        return self.lab.scanner_cmd([*self.python, "-c", main, "scan", network, "--out", str(out), "-q",
                                     "--format", "json"])


def bench(tools: Tools, name: str, network: str, ports: list[int], runs: int, pause: float) -> NetworkResult:
    result = NetworkResult(name, network, ports)
    kinds = ["gapscan", "nmap"] + (["gapscan-connect"] if tools.has_sweep_option else [])
    for i in range(runs):
        order = kinds[i % len(kinds):] + kinds[:i % len(kinds)]
        for tool in order:
            if tool == "gapscan":
                run = measure(tools.gapscan(network, ports), tool, parse_gapscan, cwd=tools.code)
            elif tool == "gapscan-connect":
                run = measure(tools.gapscan(network, ports, sweep="connect"), tool, parse_gapscan, cwd=tools.code)
            else:
                run = measure(tools.nmap(network, ports), tool, parse_nmap)
            result.runs.append(run)
            print(f"   run {i + 1} {tool}: {run.wall_s:.2f} s, {len(run.open_ports)} open", flush=True)
            time.sleep(pause)  # let forked daemon children of the last run exit
    result.full = measure(tools.gapscan(network, ports, banners=True), "gapscan+banners", parse_gapscan,
                          cwd=tools.code)
    return result


def _misses(mine: list[Run], theirs: list[Run]) -> set[Port]:
    """Ports some run of ``theirs`` saw that some run of ``mine`` missed."""
    union = set().union(*(r.open_ports for r in theirs)) if theirs else set()
    return {p for r in mine for p in union - r.open_ports}


def report(result: NetworkResult, target: float) -> dict[str, Any]:
    by_tool: dict[str, list[Run]] = {}
    for r in result.runs:
        by_tool.setdefault(r.tool, []).append(r)
    nmap = by_tool["nmap"]
    med_n = statistics.median(r.wall_s for r in nmap)
    lines = [f"== {result.name}: {result.network}, {len(result.ports)} ports, {len(nmap)} runs each "
             "(ratios: medians of runs in the same session, order rotated)"]
    figures: dict[str, Any] = {"network": result.network, "ports": len(result.ports), "target": target,
                               "nmap_median_s": med_n, "tools": {}}
    for tool, runs in by_tool.items():
        med = statistics.median(r.wall_s for r in runs)
        ratio = med / med_n if med_n else float("nan")
        missed = _misses(runs, [r for t, rs in by_tool.items() if t != tool for r in rs])
        label = {"gapscan": "gapscan (default sweep)", "gapscan-connect": "gapscan --sweep connect",
                 "nmap": "nmap -sT -T4 -n"}[tool]
        verdict = "" if tool == "nmap" else f"  ratio {ratio:.2f}" + (
            f" (target <= {target:.1f}: {'met' if ratio <= target else 'NOT met'})" if tool == "gapscan" else "")
        lines += [
            f"   {label:<26}: median {med:.2f} s, best {min(r.wall_s for r in runs):.2f} s, "
            f"runs {[round(r.wall_s, 2) for r in runs]}{verdict}",
            f"   {'':<26}  open ports per run {[len(r.open_ports) for r in runs]}, peak RSS "
            f"{max(r.rss_kb for r in runs) / 1024:.1f} MB, missed (seen by another tool or run) {len(missed)} "
            f"{sorted(missed)[:8]}",
        ]
        figures["tools"][tool] = {"median_s": med, "ratio": ratio, "missed": sorted(missed),
                                  "open_per_run": [len(r.open_ports) for r in runs],
                                  "peak_rss_mb": max(r.rss_kb for r in runs) / 1024}
    lines.append(f"   gapscan detail (last run): {by_tool['gapscan'][-1].detail}")
    if result.full is not None:
        full = result.full
        lines.append(f"   for information, gapscan with banner identification: {full.wall_s:.2f} s, "
                     f"{len(full.open_ports)} open, {full.rss_kb / 1024:.1f} MB ({full.detail})")
    for run in (r for r in result.runs if r.returncode != 0):
        lines.append(f"   FAILED {run.tool} (exit {run.returncode}): {run.detail}")
    print("\n".join(lines), flush=True)
    figures["runs"] = [{**asdict(r), "open_ports": len(r.open_ports)} for r in result.runs]
    return figures


def onboarding(tools: Tools, network: str) -> dict[str, Any]:
    """One full default scan (onboarding profile) of ``network``: wall time, RSS, what it found."""
    with tempfile.TemporaryDirectory(prefix="gapscan-bench-") as tmp:
        out = Path(tmp)
        info: dict[str, Any] = {}

        def parse(_stdout: bytes) -> tuple[set[Port], str]:
            data = json.loads((out / "scan.json").read_text())
            ports = {(h["address"], s["port"]) for h in data["hosts"] for s in h["services"]
                     if s["transport"] == "tcp"}
            info.update(hosts=len(data["hosts"]), results=len(data["results"]), complete=data["complete"],
                        discovery_s=data["discovery"]["duration_s"],
                        statuses=data["summary"]["by_status"])
            return ports, ""

        run = measure(tools.scan(network, out), "gapscan scan", parse, cwd=tools.code)
    wall, mb = run.wall_s, run.rss_kb / 1024
    met = wall <= ONBOARDING_TARGET_S and mb <= ONBOARDING_TARGET_MB and run.returncode == 0
    print(f"== full onboarding scan of {network} (profile onboarding, 65 s listening window): {wall:.1f} s, "
          f"peak RSS {mb:.0f} MB (targets <= {ONBOARDING_TARGET_S:.0f} s and <= {ONBOARDING_TARGET_MB:.0f} MB: "
          f"{'met' if met else 'NOT met'})\n   {len(run.open_ports)} open TCP ports, {info}"
          + (f"\n   FAILED (exit {run.returncode}): {run.detail}" if run.returncode else ""), flush=True)
    return {"wall_s": wall, "peak_rss_mb": mb, "open_ports": len(run.open_ports), "returncode": run.returncode,
            **info}


def tolerance(lab: Lab) -> list[dict[str, Any]]:
    request = {"targets": [[a, p] for a, p, _ in TOLERANCE_TARGETS], "bursts": list(TOLERANCE_BURSTS)}
    proc = subprocess.run(lab.scanner_cmd([sys.executable, "-I", "-S", str(REPO / "benchmarks" / "backlog_probe.py")]),
                          input=json.dumps(request), capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        print(f"== daemon tolerance: probe failed: {proc.stderr[-500:]}")
        return []
    rows = json.loads(proc.stdout)
    names = {(a, p): n for a, p, n in TOLERANCE_TARGETS}
    print("== forking daemons: simultaneous handshakes to ONE listener -> first SYNs dropped (backlog full)")
    print("   " + f"{'daemon':<16}" + "".join(f"{b:>6}" for b in TOLERANCE_BURSTS))
    for (address, port), what in names.items():
        cells = [r for r in rows if (r["address"], r["port"]) == (address, port)]
        print(f"   {what:<16}" + "".join(f"{r['first_syn_dropped']:>6}" for r in cells))
    return list(rows)


def markdown_summary(figures: dict[str, Any]) -> str:
    lines = ["| network | gapscan (default) | gapscan --sweep connect | nmap -sT -T4 -n | ratio | target | missed |",
             "|---|---|---|---|---|---|---|"]
    for name in ("sparse", "dense"):
        f = figures.get(name)
        if not f:
            continue
        g, c = f["tools"]["gapscan"], f["tools"].get("gapscan-connect")
        connect = f"{c['median_s']:.2f} s ({c['ratio']:.2f}x)" if c else "-"
        missed = len(g["missed"]) + (len(c["missed"]) if c else 0)
        lines.append(f"| {name}: {f['network']}, {f['ports']} ports | {g['median_s']:.2f} s | {connect} | "
                     f"{f['nmap_median_s']:.2f} s | **{g['ratio']:.2f}x** | <= {f['target']}x | {missed} |")
    if "onboarding" in figures:
        o = figures["onboarding"]
        lines.append(f"| full onboarding scan, dense /24 | {o['wall_s']:.1f} s, {o['peak_rss_mb']:.0f} MB | | | | "
                     f"<= {ONBOARDING_TARGET_S:.0f} s, <= {ONBOARDING_TARGET_MB:.0f} MB | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="runs of each tool per network (default 5)")
    parser.add_argument("--networks", default="sparse,dense")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between runs")
    parser.add_argument("--no-onboarding", action="store_true", help="skip the full scan of the dense /24")
    parser.add_argument("--no-tolerance", action="store_true", help="skip the daemon backlog measurement")
    parser.add_argument("--code", type=Path, default=REPO, help="source tree of the gapscan under test")
    parser.add_argument("--keep-lab", action="store_true", help="leave a lab started here running")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds one measured command may take")
    args = parser.parse_args(argv)
    global TIMEOUT
    TIMEOUT = args.timeout
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
        defaults = default_ports()
        top = sorted(p for p in defaults.ports if p not in CHECK_PORTS)  # nmap's top 1,000 only
        networks = {"sparse": topology.PRACTICE_NET, "dense": topology.DENSE_NET}
        tools = Tools(lab, args.code.resolve())
        load = os.getloadavg()
        print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start; other "
              "helpers' labs share the machine: compare ratios, not seconds", flush=True)
        print(f"code under test: {tools.code}; ports: {len(top)} ({defaults.source})", flush=True)
        figures: dict[str, Any] = {"code": str(tools.code), "load_at_start": load}
        if not args.no_tolerance:
            figures["tolerance"] = tolerance(lab)
        for name in args.networks.split(","):
            name = name.strip()
            figures[name] = report(bench(tools, name, networks[name], top, args.runs, args.pause), TARGETS[name])
        if not args.no_onboarding:
            figures["onboarding"] = onboarding(tools, topology.DENSE_NET)
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end\n")
        print(markdown_summary(figures))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=list))
    finally:
        if started and not args.keep_lab:
            lab.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
