"""The default sweep list: nmap's top 1,000 TCP ports, read from nmap-services or from gapscan's
generated copy, which must equal what an installed nmap says."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scanner.config import ports

SAMPLE = """# comment line
http\t80/tcp\t0.484143\t# World Wide Web HTTP
telnet\t23/tcp\t0.221265
unknown\t1/udp\t0.9
broken line
ssh\t22/tcp\tnotanumber
a\t3/tcp\t0.1
b\t2/tcp\t0.1
"""


def test_parse_and_rank_like_nmap() -> None:
    rows = ports.parse_nmap_services(SAMPLE)
    assert rows == [(80, 0.484143), (23, 0.221265), (3, 0.1), (2, 0.1)]  # tcp only, bad lines skipped
    assert ports.top_tcp_ports(rows, 3) == (2, 23, 80)  # a tie goes to the lower port
    assert ports.top_tcp_ports(rows, 2) == (23, 80)


def test_compress_round_trips() -> None:
    sample = (1, 3, 4, 6, 7, 8, 100)
    assert ports.compress(sample) == "1,3-4,6-8,100"
    assert ports.expand(ports.compress(sample)) == sample
    assert len(ports.shipped_top_ports()) == 1000


def test_a_garbled_or_missing_file_falls_back(tmp_path: Path) -> None:
    (tmp_path / "nmap-services").write_text(SAMPLE)
    assert ports.installed_top_ports((tmp_path / "nmap-services", tmp_path / "missing")) is None


@pytest.mark.skipif(ports.installed_top_ports() is None, reason="nmap is not installed")
def test_the_shipped_copy_is_current() -> None:
    installed = ports.installed_top_ports()
    assert installed is not None
    top, path, version = installed
    assert ports.shipped_top_ports() == top, (
        f"scanner/config/nmap_top_ports.py differs from {path} ({version}): "
        "run `python -m scanner.config.ports --write`")
    assert ports.render_module(top, version) == Path(ports.__file__).with_name("nmap_top_ports.py").read_text()


@pytest.mark.skipif(shutil.which("nmap") is None or shutil.which("unshare") is None or os.geteuid() != 0,
                    reason="needs nmap and root (an empty network namespace)")
def test_the_ranking_is_nmaps_own() -> None:
    """nmap's own --top-ports 1000 list, asked of nmap in a network namespace of its own that
    holds nothing but a loopback (its probes go nowhere)."""
    script = "ip link set lo up; nmap -sT -n -Pn --top-ports 1000 -oX - 127.0.0.1"
    done = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import re

    spec = re.findall(r'services="([^"]*)"', done.stdout)[-1]
    assert ports.expand(spec) == ports.shipped_top_ports()
