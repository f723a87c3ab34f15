"""The CLI end to end on loopback: exit codes, scan.json against its schema, re-rendering."""

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

import scanner.engine.runner
from scanner.cli import app
from scanner.models import Host, Service
from scanner.schema import generate, shipped
from tests.unit.helpers import smtp_handler, tcp_server
from tests.unit.test_runner import FakeDiscovery

runner = CliRunner()


@pytest.fixture
def smtp_without_tls(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    with tcp_server(smtp_handler(["PIPELINING", "SIZE 1000", "<script>alert(1)</script>"])) as (host, port, _):
        def discover(scope: Any, config: Any, concurrency: Any, *, on_progress: Any = None,
                     found: Any = None) -> FakeDiscovery:
            assert scope.contains(host)
            return FakeDiscovery(hosts=(Host(address=host, services=(Service(port=port, service="smtp"),)),))

        monkeypatch.setattr(scanner.engine.runner, "_default_discover", lambda: discover)
        yield host, port


def test_scan_writes_schema_valid_scan_json_and_fail_on(tmp_path: Path, smtp_without_tls: tuple[str, int]) -> None:
    host, port = smtp_without_tls
    result = runner.invoke(app, ["scan", host, "--out", str(tmp_path), "--client", "Demo Dental",
                                 "--authorized-by", "Dr. Lee", "--fail-on", "high", "--format", "json,csv"])
    assert result.exit_code == 3, result.output
    data = json.loads((tmp_path / "scan.json").read_text())
    jsonschema.validate(data, shipped())
    assert data["client"] == "Demo Dental" and data["scope"]["authorized_by"] == "Dr. Lee"
    (res,) = [r for r in data["results"] if r["check_id"] == "smtp.starttls_missing"]
    assert res["status"] == "fail" and res["check_id"] == "smtp.starttls_missing"
    assert res["target"] == {"host": host, "port": port, "transport": "tcp", "service": "smtp", "domain": None}
    assert res["hipaa"] == ["164.312(e)(1)", "164.312(e)(2)(ii)"]
    assert res["evidence"][0]["data"]["ehlo_lines"][2] == "<script>alert(1)</script>"
    assert data["summary"]["by_status"]["fail"] == sum(r["status"] == "fail" for r in data["results"]) >= 1
    rows = list(csv.DictReader((tmp_path / "findings.csv").open()))
    assert {"check_id": "smtp.starttls_missing", "status": "fail"}.items() <= next(
        r for r in rows if r["check_id"] == "smtp.starttls_missing").items()


def test_scan_without_fail_on_exits_zero(tmp_path: Path, smtp_without_tls: tuple[str, int]) -> None:
    result = runner.invoke(app, ["scan", smtp_without_tls[0], "--out", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output


def test_fail_on_above_the_finding_exits_zero(tmp_path: Path, smtp_without_tls: tuple[str, int]) -> None:
    result = runner.invoke(app, ["scan", smtp_without_tls[0], "--out", str(tmp_path), "-q", "--fail-on", "critical"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args, message", [
    (["scan"], "nothing to scan"),
    (["scan", "8.8.8.8"], "globally routable"),
    (["scan", "198.18.0.1", "--profile", "nope"], "unknown profile"),
    (["scan", "198.18.0.1", "--format", "docx"], "format docx is not available"),
    (["scan", "198.18.0.300"], "target '198.18.0.300'"),
    (["scan", "198.18.0.1", "--fail-on", "apocalyptic"], "apocalyptic"),
    (["report", "/nonexistent/scan.json"], "cannot read run"),
])
def test_bad_input_exit_2_without_traceback(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_credentials_file_must_be_private(tmp_path: Path) -> None:
    creds = tmp_path / "creds.yaml"
    creds.write_text("{}\n")
    creds.chmod(0o644)
    result = runner.invoke(app, ["scan", "198.18.0.1", "--credentials", str(creds)])
    assert result.exit_code == 2 and "chmod 600" in result.output


def test_report_rerenders_without_network(tmp_path: Path, smtp_without_tls: tuple[str, int]) -> None:
    runner.invoke(app, ["scan", smtp_without_tls[0], "--out", str(tmp_path / "run"), "-q"])
    result = runner.invoke(app, ["report", str(tmp_path / "run" / "scan.json"), "--format", "csv",
                                 "--out", str(tmp_path / "again.csv")])
    assert result.exit_code == 0, result.output
    assert "smtp.starttls_missing" in (tmp_path / "again.csv").read_text()


def test_report_refuses_garbage_run(tmp_path: Path) -> None:
    bad = tmp_path / "scan.json"
    bad.write_text('{"hello": 1}')
    result = runner.invoke(app, ["report", str(bad)])
    assert result.exit_code == 2 and "not a gapscan scan.json" in result.output


def test_shipped_schema_matches_models() -> None:
    assert shipped() == json.loads(json.dumps(generate(), sort_keys=True)), (
        "scan.schema.json is stale: python -m scanner.schema > scanner/schema/scan.schema.json")


def test_checks_and_profiles_commands() -> None:
    result = runner.invoke(app, ["checks"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "smtp.starttls_missing" in result.output and "164.312(e)(1)" in result.output
    result = runner.invoke(app, ["profiles"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "onboarding" in result.output


def test_error_text_with_brackets_is_printed_verbatim(tmp_path: Path) -> None:
    folder = tmp_path / "client[red]files"  # rich would read "[red]" as markup and drop it
    folder.mkdir()
    profile = folder / "p.yaml"
    profile.write_text("name: p\ndescription: d\nchecks:\n  include: [smtp.nope]\n")
    result = runner.invoke(app, ["scan", "198.18.0.1", "--profile", str(profile)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "client[red]files" in result.output and "checks.include[0]" in result.output
