"""Output files are private and never written through a planted symlink (issue 15: report.html,
findings.csv and results.partial.jsonl were overwritten through links as root; reports were 0644)."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from scanner.cli import app
from tests.unit.test_cli import smtp_without_tls  # noqa: F401 - the fixture

runner = CliRunner()

PLANTED = ("report.html", "findings.csv", "tickets.csv", "results.partial.jsonl", "scan.json")


def test_planted_symlinks_are_replaced_not_followed(tmp_path: Path, smtp_without_tls: tuple[str, int]) -> None:  # noqa: F811
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for name in PLANTED:
        (out / name).symlink_to(victim)
    result = runner.invoke(app, ["scan", smtp_without_tls[0], "--out", str(out), "-q",
                                 "--format", "json,html,csv,tickets"])
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "keep me"
    for name in ("report.html", "findings.csv", "tickets.csv", "scan.json"):
        path = out / name
        assert not path.is_symlink() and path.is_file(), name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    assert not (out / "results.partial.jsonl").exists()  # a complete run removes its partial log
    assert not [p for p in out.iterdir() if p.name.startswith(".gapscan-")]  # no staging left


def test_report_into_an_existing_directory_writes_the_file_there(tmp_path: Path,
                                                                 smtp_without_tls: tuple[str, int]) -> None:  # noqa: F811
    out = tmp_path / "run"
    assert runner.invoke(app, ["scan", smtp_without_tls[0], "--out", str(out), "-q", "--format", "json"]).exit_code == 0
    target = tmp_path / "reports.d"
    target.mkdir()
    result = runner.invoke(app, ["report", str(out / "scan.json"), "--format", "html", "--out", str(target)])
    assert result.exit_code == 0, result.output
    written = target / "report.html"
    assert written.is_file() and stat.S_IMODE(written.stat().st_mode) == 0o600


def test_a_new_scan_removes_the_previous_runs_outputs_first(tmp_path: Path,
                                                           smtp_without_tls: tuple[str, int]) -> None:  # noqa: F811
    from scanner.engine.output import ResultSink

    out = tmp_path / "out"
    out.mkdir()
    (out / "scan.json").write_text('{"old": true}')
    ResultSink(out).close()
    assert not (out / "scan.json").exists()
