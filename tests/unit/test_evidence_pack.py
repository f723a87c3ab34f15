"""The evidence pack (issue 21): exported from a signed, timestamped, anchored store, copied to a
fresh folder and checked there in an environment holding nothing but the pack (and gapscan): every
command of its README succeeds; a changed byte makes the matching command fail."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.engine.output import write_scan_json
from scanner.history.decisions import DecisionKind
from scanner.history.signing import default_key_path, init_key
from scanner.history.store import Store
from scanner.models import Status
from tests.lab.tsa import TsaFiles, TsaServer
from tests.unit.test_store import fails, lab_run, variant
from tests.unit.test_timestamps import configure

cli = CliRunner()
CLIENT = "Demo Dental (lab)"
GAP = next(r for r in lab_run().results if r.status is Status.FAIL and r.target.host)
HOST = GAP.target.host or ""
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def pack(tmp_path: Path, tsa: TsaServer, tsa_files: TsaFiles) -> tuple[Path, str, str]:
    """Three stored runs (the gap fixed in the second, the host gone in the third), a decision;
    the pack exported and copied to a folder of its own. Returns (pack, db, newest head)."""
    configure(tsa.url, tsa_files.ca_cert)
    signer = init_key(default_key_path())
    db = str(tmp_path / "h.db")
    base = lab_run()
    runs = [base, variant(base, "run-2", 7, status={GAP.fingerprint: Status.PASS}),
            base.model_copy(update={"run_id": "run-3", "results": tuple(r for r in base.results
                                                                         if r.target.host != HOST)})]
    for run in runs:
        folder = tmp_path / "scans" / run.run_id
        folder.mkdir(parents=True)
        stored = cli.invoke(app, ["store", str(write_scan_json(run, folder)), "--client", CLIENT, "--db", db])
        assert stored.exit_code == 0 and "timestamped" in stored.output, stored.output
    with Store.open(db) as store:
        store.add_decision(CLIENT, fails(base)[1], DecisionKind.DECLINED, "Dr. Lee, owner", note="cost")
        head, _ = store.client_heads(CLIENT)
    assert head is not None
    exported = tmp_path / "exported"
    result = cli.invoke(app, ["evidence", "--client", CLIENT, "--host", HOST, "--db", db, "--export", str(exported)])
    assert result.exit_code == 0, result.output
    assert f"signing key(s): {signer.fingerprint}" in " ".join(result.output.split())
    elsewhere = tmp_path / "investigator" / "pack"
    shutil.copytree(exported, elsewhere)
    return elsewhere, db, head.text()


def _fresh_env(root: Path) -> dict[str, str]:
    """Nothing of the MSP's: a new HOME, no XDG paths, gapscan and the system tools on PATH."""
    home = root / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(home), "LC_ALL": "C.UTF-8"}


def readme_commands(pack: Path) -> list[str]:
    text = (pack / "README.md").read_text()
    (block,) = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [line for line in block.splitlines() if line.strip()]


def run_in_pack(pack: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=pack, env=_fresh_env(pack.parent), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_every_readme_command_succeeds_with_only_the_pack(pack: tuple[Path, str, str]) -> None:
    folder, _, head = pack
    commands = readme_commands(folder)
    kinds = {c.split()[0] + " " + c.split()[1] for c in commands}
    assert {"sha256sum -c", "openssl pkeyutl", "openssl ts", "grep -c", "gapscan verify"} <= kinds, commands
    assert sum(c.startswith("openssl pkeyutl") for c in commands) == 3
    assert sum(c.startswith("openssl ts") for c in commands) == 3
    for command in commands:
        done = run_in_pack(folder, command)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        if command.startswith("grep -c"):
            assert done.stdout.strip() == "1"
    verify = next(c for c in commands if c.startswith("gapscan verify"))
    done = run_in_pack(folder, verify)
    assert "3 run signature(s) by trusted keys, 3 timestamp token(s)" in done.stderr, done.stderr
    with_report_head = run_in_pack(folder, f"{verify} --anchor {head}")
    assert with_report_head.returncode == 0, with_report_head.stderr


def test_the_pack_holds_the_device_across_time(pack: tuple[Path, str, str]) -> None:
    import json

    folder, _, _ = pack
    chain = json.loads((folder / "chain.json").read_text())
    assert [r["host_results"] > 0 for r in chain["runs"]] == [True, True, False]
    per_run = [json.loads(p.read_text()) for p in sorted(folder.glob(f"runs/*/host-{HOST}.json"))]
    statuses = [[r["status"] for r in run["results"] if r["fingerprint"] == GAP.fingerprint] for run in per_run]
    assert statuses == [["fail"], ["pass"], []]
    assert json.loads((folder / "decisions.json").read_text())[0]["decided_by"] == "Dr. Lee, owner"
    assert len((folder / "anchors.txt").read_text().splitlines()) == 1 + 3 + 1  # comment, 3 runs, 1 decision
    for path in folder.rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"


def test_a_changed_byte_fails_the_matching_command(pack: tuple[Path, str, str]) -> None:
    folder, _, _ = pack
    commands = readme_commands(folder)
    scan = next(folder.glob("runs/0002-*/scan.json"))
    scan.write_bytes(scan.read_bytes().replace(b'"status": "pass"', b'"status": "fail"', 1))
    assert run_in_pack(folder, commands[0]).returncode != 0  # sha256sum -c
    stamp = next(c for c in commands if c.startswith("openssl ts") and "0002-" in c)
    assert run_in_pack(folder, stamp).returncode != 0
    sig = folder / "signatures" / "run-0001.sig"
    raw = bytearray(sig.read_bytes())
    raw[0] ^= 1
    sig.write_bytes(bytes(raw))
    pkey = next(c for c in commands if c.startswith("openssl pkeyutl") and "run-0001" in c)
    assert run_in_pack(folder, pkey).returncode != 0
    with sqlite3.connect(folder / "history.db") as conn:
        conn.execute("UPDATE results SET status = 'pass' WHERE status = 'fail' AND host = ?", (HOST,))
    verify = run_in_pack(folder, next(c for c in commands if c.startswith("gapscan verify")))
    assert verify.returncode == 4 and "TAMPERED" in verify.stderr


def test_the_pack_never_writes_into_an_existing_folder(tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    with Store.open(db) as store:
        store.store_run(lab_run())
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine\n")
    result = cli.invoke(app, ["evidence", "--client", CLIENT, "--host", HOST, "--db", db, "--export", str(taken)])
    assert result.exit_code == 2 and "never written over anything" in result.output
    assert os.listdir(taken) == ["keep.txt"]
    unknown = cli.invoke(app, ["evidence", "--client", CLIENT, "--host", "192.0.2.9", "--db", db, "--export",
                               str(tmp_path / "new")])
    assert unknown.exit_code == 2 and not (tmp_path / "new").exists()
