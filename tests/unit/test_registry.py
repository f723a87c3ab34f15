import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from scanner.check import Applies, Check, CheckMeta, Probe
from scanner.config.framework import load_framework
from scanner.engine.registry import RegistryError, load_registry
from scanner.models import Finding, Severity, Skip, Target

REPO = Path(__file__).resolve().parents[2]


class _Dummy(Check):
    meta = CheckMeta(id="test.dummy", title="A dummy check for tests", severity=Severity.LOW,
                     applies_to=Applies(hosts=True), remediation="Nothing to remediate here.",
                     why="A dummy gap that exists only in this test; nothing about patient information depends on it.")

    def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
        yield self.finding(target, passed=True, detail="ok")


def test_builtin_checks_load_with_citations() -> None:
    registry = load_registry(load_framework())
    check = registry.get("smtp.starttls_missing")
    assert "164.312(e)(1)" in check.hipaa
    assert "entry point" in check.source


def test_duplicate_id_refused_with_both_sources() -> None:
    with pytest.raises(RegistryError, match=r"duplicate check id 'test.dummy'.*first.*second"):
        load_registry(load_framework(), extra=[(_Dummy, "first"), (_Dummy, "second")])


def test_duplicate_of_builtin_refused() -> None:
    class Clash(_Dummy):
        meta = _Dummy.meta.model_copy(update={"id": "smtp.starttls_missing"})

    with pytest.raises(RegistryError, match=r"duplicate check id 'smtp\.starttls_missing'"):
        load_registry(load_framework(), extra=[(Clash, "plugin x")])


VALID_META: dict[str, Any] = {
    "id": "a.b", "title": "Valid title", "severity": "low", "applies_to": {"hosts": True},
    "remediation": "Do the thing properly.",
    "why": "A gap that stands for any weakness putting patient information at risk in this test.",
}


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in VALID_META.items() if k != key}


@pytest.mark.parametrize(
    "meta, message",
    [
        ({**VALID_META, "id": "NoDots"}, "id"),
        ({**VALID_META, "severity": "apocalyptic"}, "severity"),
        ({**VALID_META, "applies_to": {}}, "applies to nothing"),
        ({**VALID_META, "title": "x" * 101}, "title"),
        (_without("why"), "why: Field required"),
        ({**VALID_META, "why": "It is bad."}, "why: String should have at least"),
        ({**VALID_META, "why": "One sentence here. Then a second one. Then a third one. And a fourth, too many."},
         "1 to 3 whole sentences"),
        (_without("remediation"), "remediation: Field required"),
    ],
)
def test_invalid_metadata_refused(meta: dict[str, Any], message: str) -> None:
    class Bad(Check):
        def evaluate(self, target: Target, facts: Mapping[type[Probe[Any]], Any]) -> Iterator[Finding | Skip]:
            yield from ()

    Bad.meta = meta  # type: ignore[assignment]
    with pytest.raises(RegistryError, match=message):
        load_registry(load_framework(), extra=[(Bad, "plugin bad")])


def test_not_a_check_refused() -> None:
    with pytest.raises(RegistryError, match="not point at a gapscan Check"):
        load_registry(load_framework(), extra=[(object, "plugin obj")])


def test_bad_probe_refused() -> None:
    class BadProbes(_Dummy):
        probes: ClassVar[tuple[Any, ...]] = (int,)

    with pytest.raises(RegistryError, match="not a Probe"):
        load_registry(load_framework(), extra=[(BadProbes, "plugin probes")])


def _make_distribution(root: Path, dist: str, module: str, check_id: str) -> None:
    """A real (if tiny) installed distribution: a module and its .dist-info with entry points,
    exactly what pip leaves in site-packages."""
    (root / f"{module}.py").write_text(textwrap.dedent(f"""
        from scanner.check import Applies, Check, CheckMeta
        from scanner.models import Severity

        class ThirdPartyCheck(Check):
            meta = CheckMeta(id="{check_id}", title="Third-party plugin check",
                             severity=Severity.MEDIUM, applies_to=Applies(hosts=True),
                             why="The printer keeps its factory password, so anyone on the network can read what "
                                 "it printed, patient letters included.",
                             remediation="Follow the vendor's hardening guide.")
            def evaluate(self, target, facts):
                yield self.finding(target, passed=True, detail="plugin ran")
    """))
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[gapscan.checks]\n{check_id} = {module}:ThirdPartyCheck\n")
    (info / "RECORD").write_text("")


def _gapscan_checks(extra_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=f"{extra_path}{os.pathsep}{REPO}", COLUMNS="200")
    return subprocess.run([sys.executable, "-c", "from scanner.cli import main; main()", "checks"],
                          capture_output=True, text=True, env=env, timeout=60)


def test_third_party_distribution_adds_a_check(tmp_path: Path) -> None:
    _make_distribution(tmp_path, "gapscan_acme_plugin", "acme_gapscan_check", "acme.printer_default_password")
    proc = _gapscan_checks(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "acme.printer_default_password" in proc.stdout
    assert "smtp.starttls_missing" in proc.stdout


def test_third_party_duplicate_id_is_a_clear_error(tmp_path: Path) -> None:
    _make_distribution(tmp_path, "gapscan_evil_plugin", "evil_gapscan_check", "smtp.starttls_missing")
    proc = _gapscan_checks(tmp_path)
    assert proc.returncode == 1
    assert "duplicate check id 'smtp.starttls_missing'" in proc.stderr
    assert "gapscan_evil_plugin" in proc.stderr
    assert "Traceback" not in proc.stderr
