"""Names learned without credentials, against the lab: the real nmbd (Debian's samba package,
started next to each smbd: tests/lab/daemons/samba.py) answers NetBIOS node status, and an mDNS
announcer (tests/lab/daemons/mdns_announcer.py) next to it names the host ``<name>.local``. One
scan's scan.json carries both names and the workgroup for each file server, as Samba's own
nmblookup reads them; a host without nmbd or announcer has neither."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.lab import topology
from tests.lab.daemons.mdns_announcer import INTERVAL

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
GAPSCAN = str(REPO / ".venv" / "bin" / "gapscan")
FILES = ("files-weak", "files-good")
WITHOUT_NMBD = "ws"


def _address(name: str) -> str:
    return next(h.address for h in topology.HOSTS if h.name == name)


def test_scan_json_carries_the_netbios_and_mdns_names_of_the_samba_hosts(
        lab: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("names-scan")
    targets = [_address(n) for n in (*FILES, WITHOUT_NMBD)]
    proc = lab.run_in_scanner([GAPSCAN, "scan", *targets, "--listen-seconds", str(3 * INTERVAL), "--out", str(out),
                               "-q", "--format", "json"], timeout=300)
    assert proc.returncode == 0, f"gapscan scan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    scan = json.loads((out / "scan.json").read_text())
    hosts = {h["address"]: h for h in scan["hosts"]}
    for name in FILES:
        host = hosts[_address(name)]
        netbios = [n["name"] for n in host.get("learned_names", []) if n["source"] == "netbios"]
        assert netbios == [name.upper().replace("-", "")], host
        assert host["workgroup"] == "CLINIC"
        heard = [n["name"] for n in host.get("learned_names", []) if n["source"] == "mdns"]
        assert heard == [f"{name}.local"], host
    plain = hosts[_address(WITHOUT_NMBD)]
    assert not [n for n in plain.get("learned_names", []) if n["source"] in ("netbios", "mdns")]
    assert "workgroup" not in plain
    notes = scan["discovery"]["notes"]
    assert any(n.startswith("NetBIOS node status") for n in notes), notes
    assert any(n.startswith("mDNS heard passively") for n in notes), notes

    # Agreement with an independent client: Samba's nmblookup asks the same node status.
    if shutil.which("nmblookup") is None:
        pytest.skip("nmblookup (samba-common-bin) not installed: the independent cross-check is not run")
    seen = lab.run_in_scanner(["nmblookup", "-A", _address(FILES[0])], timeout=30)
    assert FILES[0].upper().replace("-", "") in seen.stdout and "CLINIC" in seen.stdout, seen.stdout
