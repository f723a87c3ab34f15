"""The anchor log: private, append-only, each line chained to the one before; heads as reports
print them; a decision refused on a store that lost its anchored history."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.errors import InputError
from scanner.history.anchors import AnchorLog, parse_anchor_argument
from scanner.history.store import Store
from tests.unit.test_store import lab_run

cli = CliRunner()
HEAD = "ab" * 32


def _fill(log: AnchorLog, n: int, client: str = "C") -> None:
    for seq in range(1, n + 1):
        log.append(store="sqlite:///x.db", client=client, kind="run", seq=seq, head=f"{seq:064x}", run_id=f"r-{seq}")


def test_lines_are_private_and_chained(tmp_path: Path) -> None:
    log = AnchorLog(tmp_path / "state" / "gapscan" / "anchors.log")
    _fill(log, 3)
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    read = log.read()
    assert read.problems == () and [a.seq for a in read.anchors] == [1, 2, 3]
    assert read.anchors[0].source == "anchors.log line 1" and read.anchors[2].run_id == "r-3"


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    log = AnchorLog(tmp_path / "anchors.log")
    threads = [threading.Thread(target=_fill, args=(log, 40, name)) for name in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    read = log.read()
    assert read.problems == () and len(read.anchors) == 120


@pytest.mark.parametrize("edit", ["remove a middle line", "edit a head", "append garbage"])
def test_an_edited_log_is_named(tmp_path: Path, edit: str) -> None:
    log = AnchorLog(tmp_path / "anchors.log")
    _fill(log, 4)
    lines = log.path.read_text().splitlines()
    if edit == "remove a middle line":
        del lines[1]
        expected = "anchors.log line 2: does not follow the line before it"
    elif edit == "edit a head":
        lines[1] = lines[1].replace(f"{2:064x}", "f" * 64)
        expected = "anchors.log line 3: does not follow the line before it"
    else:
        lines.append("not json")
        expected = "anchors.log line 5: not an anchor record"
    log.path.write_text("\n".join(lines) + "\n")
    assert any(p.startswith(expected) for p in log.read().problems), log.read().problems


def test_heads_from_the_command_line_and_from_files(tmp_path: Path) -> None:
    (one,) = parse_anchor_argument(f"run#3:{HEAD}").anchors
    assert (one.kind, one.seq, one.head, one.client) == ("run", 3, HEAD, None)
    both = parse_anchor_argument(f"run#3:{HEAD} · decision#2:{'cd' * 32}").anchors
    assert [a.text() for a in both] == [f"run#3:{HEAD}", f"decision#2:{'cd' * 32}"]
    report = tmp_path / "report.html"
    report.write_text(f"<dd class=digest>run#7:{HEAD} <span>…</span></dd>")
    assert [a.seq for a in parse_anchor_argument(str(report)).anchors] == [7]
    with pytest.raises(InputError, match="neither a head"):
        parse_anchor_argument("run#3:abc")
    plain = tmp_path / "notes.txt"
    plain.write_text("nothing here\n")
    with pytest.raises(InputError, match="holds no chain head"):
        parse_anchor_argument(str(plain))


def test_a_decision_on_a_store_that_lost_its_history_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    run = lab_run()
    with Store.open(str(db)) as store:
        store.store_run(run)
    db.write_bytes(b"")
    with Store.open(str(db)) as store:
        store.store_run(run.model_copy(update={"client": "Someone Else"}), client="Someone Else")  # others may go on
    result = cli.invoke(app, ["decide", "smb.v1_enabled", "--client", run.client or "", "--db", str(db),
                              "--decision", "declined", "--by", "Dr. Lee, owner"])
    assert result.exit_code == 4, result.output
    assert f"run {run.run_id} (#1): recorded in anchors.log line 1" in result.output
