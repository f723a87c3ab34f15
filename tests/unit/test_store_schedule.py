"""Scheduled rescans: the generated systemd pair (checked by systemd-analyze where present) and cron line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.history.schedule import Every, build
from scanner.history.store import Store
from tests.unit.test_store import lab_run

cli = CliRunner()
CLIENT = "Demo Dental (lab)"


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "h.db")
    with Store.open(path) as store:
        store.store_run(lab_run())
    return path


def test_units_and_crontab_quote_hostile_names() -> None:
    plan = build('Dr. "Lee" 100% Dental', Every.WEEKLY, "3:05", ["/opt/gapscan", "rescan", "--client",
                                                                   'Dr. "Lee" 100% Dental'])
    assert plan.unit_name == "gapscan-rescan-dr-lee-100-dental"
    assert 'ExecStart="/opt/gapscan" "rescan" "--client" "Dr. \\"Lee\\" 100%% Dental"' in plan.service
    assert "OnCalendar=Mon *-*-* 03:05:00" in plan.timer and "Persistent=true" in plan.timer
    assert plan.crontab.startswith("5 3 * * 1 /opt/gapscan rescan --client ")
    assert "100\\% Dental" in plan.crontab
    assert build("x", Every.MONTHLY, "23:59", ["/g"]).crontab == "59 23 1 * * /g"


def test_schedule_writes_a_verified_pair_and_never_overwrites(tmp_path: Path, db: str) -> None:
    units = tmp_path / "units"
    args = ["schedule", "--client", CLIENT, "--every", "daily", "--at", "02:30", "--units-dir", str(units),
            "--db", db, "--out", str(tmp_path / "rescans")]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    service = (units / "gapscan-rescan-demo-dental-lab.service").read_text()
    timer = (units / "gapscan-rescan-demo-dental-lab.timer").read_text()
    assert '"rescan" "--client" "Demo Dental (lab)"' in service and f'"sqlite:///{db}"' in service
    assert "OnCalendar=*-*-* 02:30:00" in timer
    assert "30 2 * * * " in result.output
    if shutil.which("systemd-analyze"):
        assert "systemd-analyze verify: ok" in result.output
    assert cli.invoke(app, args).exit_code == 0  # the same content again: fine
    (units / "gapscan-rescan-demo-dental-lab.timer").write_text(timer + "# mine\n")
    again = cli.invoke(app, args)
    assert again.exit_code == 2 and "not overwritten" in again.output
    assert (units / "gapscan-rescan-demo-dental-lab.timer").read_text().endswith("# mine\n")


@pytest.mark.parametrize("extra, message", [
    (["--every", "hourly"], "expected daily, weekly or monthly"),
    (["--every", "daily", "--at", "25:00"], "not a time of day"),
])
def test_schedule_bad_input_exit_2(tmp_path: Path, db: str, extra: list[str], message: str) -> None:
    result = cli.invoke(app, ["schedule", "--client", CLIENT, "--db", db, "--units-dir", str(tmp_path), *extra])
    assert result.exit_code == 2 and message in result.output


def test_schedule_needs_a_stored_run(tmp_path: Path, db: str) -> None:
    result = cli.invoke(app, ["schedule", "--client", "Nobody", "--every", "daily", "--db", db,
                              "--units-dir", str(tmp_path)])
    assert result.exit_code == 2


def test_schedule_refuses_a_password_in_the_database_url(tmp_path: Path) -> None:
    result = cli.invoke(app, ["schedule", "--client", CLIENT, "--every", "daily", "--units-dir", str(tmp_path),
                              "--db", "postgresql+psycopg://gapscan:hunter2@/gapscan?host=/nonexistent"])
    assert result.exit_code == 2 and "holds a password" in result.output
    assert "hunter2" not in result.output and list(tmp_path.iterdir()) == []


def test_schedule_passes_credentials_but_refuses_a_prompting_file(tmp_path: Path, db: str) -> None:
    creds = tmp_path / "creds.yaml"
    base = "credentials:\n  - name: x\n    kind: ssh\n    targets: [192.0.2.1]\n    username: u\n"
    creds.write_text(base + "    password_file: /etc/gapscan/x.pw\n")
    creds.chmod(0o600)
    args = ["schedule", "--client", CLIENT, "--every", "weekly", "--units-dir", str(tmp_path / "u"), "--db", db,
            "--credentials", str(creds)]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    service = next((tmp_path / "u").glob("*.service")).read_text()
    assert f'"--credentials" "{creds}"' in service
    creds.write_text(base + "    password_prompt: true\n")
    refused = cli.invoke(app, [*args[:6], str(tmp_path / "u2"), *args[7:]])
    assert refused.exit_code == 2 and "password_prompt" in refused.output
