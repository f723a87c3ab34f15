"""The client file is validated like every input: a mistake names the file, line and key."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reports.client_file import LOGO_MAX_BYTES, ClientFile, LogoError, logo_data_uri
from scanner.cli import app
from scanner.config.userfiles import load_model
from scanner.errors import InputError
from tests.fixtures.report_data import CLIENT_FILE, LAB_SCAN, lab_client

runner = CliRunner()
PNG_1PX = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
                           "RU5ErkJggg==")


def test_fixture_client_file_loads() -> None:
    client = lab_client()
    assert client.practice == "Demo Dental (lab)" and client.decision_maker.role == "Owner"
    assert [e.baa_on_file for e in client.baa_register] == [True, False, True]


def test_typo_key_names_file_line_and_key(tmp_path: Path) -> None:
    text = CLIENT_FILE.read_text().replace("  role: Field engineer", "  rol: Field engineer")
    path = tmp_path / "client.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_model(path, ClientFile)
    message = str(info.value)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("  rol:"))
    assert str(path) in message and f"line {line}" in message and "technician.rol" in message
    assert "unknown key" in message


def test_wrong_type_in_baa_register_is_located(tmp_path: Path) -> None:
    path = tmp_path / "client.yaml"
    path.write_text(CLIENT_FILE.read_text().replace("baa_on_file: false", "baa_on_file: maybe"))
    with pytest.raises(InputError, match=r"baa_register\.1\.baa_on_file"):
        load_model(path, ClientFile)


def test_logo_png_is_embedded_and_others_refused(tmp_path: Path) -> None:
    png = tmp_path / "logo.png"
    png.write_bytes(PNG_1PX)
    assert logo_data_uri(png).startswith("data:image/png;base64,iVBOR")
    svg = tmp_path / "logo.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    with pytest.raises(LogoError, match="SVG is refused"):
        logo_data_uri(svg)
    big = tmp_path / "big.png"
    big.write_bytes(PNG_1PX + b"\0" * LOGO_MAX_BYTES)
    with pytest.raises(LogoError, match="larger than"):
        logo_data_uri(big)
    with pytest.raises(LogoError, match="cannot read"):
        logo_data_uri(tmp_path / "missing.png")


def test_relative_logo_is_read_beside_the_client_file(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(PNG_1PX)
    path = tmp_path / "client.yaml"
    path.write_text(CLIENT_FILE.read_text().replace("  name: Northside IT", "  name: Northside IT\n  logo: logo.png"))
    client = load_model(path, ClientFile)
    assert (client.logo_data_uri(tmp_path) or "").startswith("data:image/png")


def test_cli_report_with_client_file(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(PNG_1PX)
    client = tmp_path / "client.yaml"
    client.write_text(CLIENT_FILE.read_text().replace("  name: Northside IT", "  name: Northside IT\n  logo: logo.png"))
    result = runner.invoke(app, ["report", str(LAB_SCAN), "--client-file", str(client), "--format", "html,tickets",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'src="data:image/png;base64,' in html and "Northside IT" in html
    assert (tmp_path / "out" / "tickets.csv").exists()


def test_cli_bad_client_file_exits_2(tmp_path: Path) -> None:
    client = tmp_path / "client.yaml"
    client.write_text(CLIENT_FILE.read_text().replace("decision_maker:", "decision_makr:"))
    result = runner.invoke(app, ["report", str(LAB_SCAN), "--client-file", str(client), "--format", "html",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert re.search(r"line \d+, key 'decision_makr': unknown key", result.output)
    assert not (tmp_path / "out" / "report.html").exists()


def test_cli_svg_logo_exits_2(tmp_path: Path) -> None:
    (tmp_path / "logo.svg").write_text("<svg/>")
    client = tmp_path / "client.yaml"
    client.write_text(CLIENT_FILE.read_text().replace("  name: Northside IT", "  name: Northside IT\n  logo: logo.svg"))
    result = runner.invoke(app, ["report", str(LAB_SCAN), "--client-file", str(client), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "msp.logo" in result.output
