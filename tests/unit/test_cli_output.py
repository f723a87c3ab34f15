"""Output for scripts (issue 15): in a pipe every list is one unwrapped, tab-separated row per item;
every list command has --json; a scan prints a short summary, --verbose every result."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from scanner.cli import app
from scanner.cli.listing import cell
from tests.unit.test_cli import smtp_without_tls  # noqa: F401 - the fixture

runner = CliRunner()


def test_checks_in_a_pipe_are_tab_separated_and_never_wrapped() -> None:
    result = runner.invoke(app, ["checks"], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split("\t") == ["id", "title", "severity", "intrusive", "HIPAA"]
    ids = [row.split("\t")[0] for row in rows]
    assert "endpoint.disk_encryption_off" in ids and len(ids) == len(set(ids)) >= 42
    assert all(len(row.split("\t")) == 5 for row in rows)


def test_every_list_command_has_json() -> None:
    checks = json.loads(runner.invoke(app, ["checks", "--json"]).stdout)
    assert {"id", "title", "severity", "intrusive", "hipaa"} <= checks[0].keys()
    profiles = json.loads(runner.invoke(app, ["profiles", "--json"]).stdout)
    assert {p["name"] for p in profiles} >= {"onboarding", "quick", "rescan", "external"}
    for command in (["history"], ["decisions", "--client", "x"], ["evidence", "--client", "x", "--host", "h"],
                    ["diff", "a", "b"], ["discover", "198.18.0.1"]):
        assert "--json" in runner.invoke(app, [*command, "--help"]).stdout, command


def test_a_scan_prints_a_summary_and_verbose_every_result(tmp_path: Path,
                                                         smtp_without_tls: tuple[str, int]) -> None:  # noqa: F811
    host = smtp_without_tls[0]
    short = runner.invoke(app, ["scan", host, "--out", str(tmp_path / "a"), "--format", "json"])
    assert short.exit_code == 0, short.output
    saved = json.loads((tmp_path / "a" / "scan.json").read_text())
    assert "open gaps:" in short.stdout and "top gaps" in short.stdout
    assert f"reports: {tmp_path / 'a' / 'scan.json'}" in short.stdout
    assert len(short.stdout.splitlines()) < len(saved["results"]) + 3
    passed = [r["check_id"] for r in saved["results"] if r["status"] == "pass"]
    assert passed and not any(f"\t{cid}\t" in short.stdout for cid in passed)
    full = runner.invoke(app, ["scan", host, "--out", str(tmp_path / "b"), "--format", "json", "--verbose"])
    rows = [line.split("\t") for line in full.stdout.splitlines() if line.count("\t") == 4]
    assert len(rows) == len(saved["results"]) + 1  # the header and one row per result


def test_control_characters_from_the_network_are_shown_inert() -> None:
    assert cell("evil\x1b[31mred\x1b[0m\u202eabc\ttab") == "evil\\x1b[31mred\\x1b[0m\\u202eabc tab"
