"""`python -m tests.lab demo --out out/demo`: lab up, one onboarding scan of the whole practice
network and every lab domain from inside the scanner namespace, reports written, lab down."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .lab import Lab
from .proc import LabError
from .topology import DOMAINS, ENDPOINT_PASSWORD, ENDPOINT_USER, HOSTS, NAMESERVER, PRACTICE_NET, SCANNER_ADDRESS

REPO = Path(__file__).resolve().parents[2]
GAPSCAN = REPO / ".venv" / "bin" / "gapscan"
CLIENT = "Demo Dental (lab)"
SCAN_TIMEOUT = 1200.0


def scan_argv(out_dir: Path, formats: str, credentials: Path | None = None) -> list[str]:
    # COLUMNS: the summary table is captured, not on a terminal; give it room to be readable.
    argv = ["env", "COLUMNS=160", str(GAPSCAN), "scan", PRACTICE_NET, "--listen-seconds", "35"]
    if credentials is not None:
        argv += ["--credentials", str(credentials)]
    for domain in DOMAINS:
        argv += ["--domain", domain.name]
    # The scanner's own address is in the range: leave it out, it is not a practice machine.
    argv += ["--exclude", SCANNER_ADDRESS, "--nameserver", NAMESERVER]
    argv += ["--profile", "onboarding", "--client", CLIENT]
    return [*argv, "--out", str(out_dir), "--format", formats]


def planted_summary() -> str:
    """What the lab planted, from the topology table (the report should find exactly this)."""
    rows = []
    targets = [(h.name, h.address, h.gaps, h.hardened) for h in HOSTS]
    targets += [(d.name, "domain", d.gaps, d.hardened) for d in DOMAINS]
    for name, where, gaps, hardened in targets:
        rows.append(f"  {name} ({where})")
        rows.append(f"      must FAIL: {_ids(gaps)}")
        rows.append(f"      must PASS: {_ids(hardened)}")
    return "\n".join(rows)


def _ids(ids: frozenset[str]) -> str:
    return ", ".join(sorted(ids)) or "-"


def write_credentials(lab: Lab, where: Path) -> Path:
    """The credentials a technician would give for the two lab laptops: the weak one's password
    from the environment, the hardened one's SSH key (copied out of the lab, mode 0600)."""
    workdir = lab.workdir
    assert workdir is not None
    key = where / "laptop_key"
    shutil.copy(Path(workdir) / "laptop-good" / "endpoint" / "client_ed25519", key)
    key.chmod(0o600)
    os.environ["GS_DEMO_LAPTOP_PASSWORD"] = ENDPOINT_PASSWORD
    # The lab makes new host keys at every `up`: trusting them on first use would leave keys in
    # the technician's known_hosts that the next demo sees as *changed*. Give the lab's own keys,
    # as a technician would give the practice's known_hosts, and require them.
    known = where / "known_hosts"
    lines = []
    for host in HOSTS:
        if host.name.startswith("laptop-"):
            for pub in sorted((Path(workdir) / host.name / "endpoint").glob("ssh_host_*_key.pub")):
                kind, blob = pub.read_text().split()[:2]
                lines.append(f"{host.address} {kind} {blob}\n")
    known.write_text("".join(lines))
    text = f"known_hosts: {known}\ncredentials:\n"
    for host in HOSTS:
        if host.name == "laptop-weak":
            secret = "password_env: GS_DEMO_LAPTOP_PASSWORD"
        elif host.name == "laptop-good":
            secret = f"key_file: {key}"
        else:
            continue
        text += (f"  - name: {host.name}\n    kind: ssh\n    targets: [{host.address}]\n"
                 f"    username: {ENDPOINT_USER}\n    {secret}\n    sudo: true\n    host_key: known_hosts\n")
    creds = where / "credentials.yaml"
    creds.write_text(text)
    creds.chmod(0o600)
    return creds


def _scan(lab: Lab, out_dir: Path) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="gapscan-demo-") as private:
        creds = write_credentials(lab, Path(private))
        return lab.run_in_scanner(scan_argv(out_dir, "json,html,csv", creds), timeout=SCAN_TIMEOUT)


def run_demo(out: str) -> int:
    """Exit status: 0 when the scan completed, 1 when it failed, 2 when the lab did not start."""
    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if not GAPSCAN.exists():
        print(f"demo: {GAPSCAN} not found; install the package into .venv first", file=sys.stderr)
        return 2
    lab = Lab()
    try:
        seconds = lab.up(("practice",))
        print(f"lab up in {seconds:.1f}s; scanning {PRACTICE_NET} and {len(DOMAINS)} domains...")
        try:
            result = _scan(lab, out_dir)
        except subprocess.TimeoutExpired:
            print(f"demo: gapscan did not finish within {SCAN_TIMEOUT:.0f}s", file=sys.stderr)
            return 1
    except LabError as exc:
        print(f"demo: lab error: {exc}", file=sys.stderr)
        return 2
    finally:
        lab.down()
    sys.stdout.write(result.stdout[-6000:])
    sys.stderr.write(result.stderr[-3000:])
    print("\nPlanted in the lab (tests/lab/topology.py):\n" + planted_summary())
    reports = sorted(p for p in out_dir.iterdir() if p.is_file())
    print(f"\nReports in {out_dir}:" + "".join(f"\n  {p}" for p in reports))
    if result.returncode != 0:
        print(f"demo: gapscan exited {result.returncode}", file=sys.stderr)
        return 1
    return 0
