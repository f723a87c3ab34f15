"""Files people write: a size cap, decoding errors named, line numbers for unknown check ids, no
alias bombs (issue 15: a 50 MB profile ran 300 s and 5.5 GB; a UTF-16 scope file was exit 1)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.config.framework import load_framework
from scanner.config.profiles import load_profile
from scanner.config.scope_file import load_scope_file
from scanner.config.userfiles import MAX_USER_FILE_BYTES, read_yaml
from scanner.engine.registry import load_registry
from scanner.errors import InputError

runner = CliRunner()


def test_a_huge_profile_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("name: big\ndescription: x\n# " + "A" * (MAX_USER_FILE_BYTES + 10) + "\n")
    started = time.monotonic()
    with pytest.raises(InputError, match="larger than"):
        read_yaml(path)
    assert time.monotonic() - started < 1


def test_a_utf16_scope_file_is_exit_2_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "scope.txt"
    path.write_bytes("198.18.0.10\n".encode("utf-16"))
    result = runner.invoke(app, ["scan", "--scope-file", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output and "UTF-16" in result.output


def test_latin1_text_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "scope.txt"
    path.write_bytes(b"198.18.0.10\n# Caf\xe9 network\n")
    with pytest.raises(InputError, match="line 2") as exc:
        load_scope_file(path)
    assert "not UTF-8" in str(exc.value)


def test_an_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="aliases"):
        read_yaml(path)


def test_unknown_check_ids_name_their_line(tmp_path: Path) -> None:
    registry = load_registry(load_framework())
    path = tmp_path / "p.yaml"
    path.write_text("name: p\ndescription: test\nchecks:\n  include:\n    - smb.*\n    - smb.signing_not_requird\n")
    with pytest.raises(InputError, match=r"line 6, key 'checks.include\[1\]': unknown check id"):
        load_profile(str(path), registry)
    path.write_text("name: p\ndescription: test\nchecks:\n  include: [all]\nsettings:\n  endpoint.screen_lok: {}\n")
    with pytest.raises(InputError, match=r"line 6, key 'settings.endpoint.screen_lok': unknown check id"):
        load_profile(str(path), registry)
