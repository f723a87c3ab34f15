"""The document-signing certificate (keys init, PKCS#12) and the PAdES seal, checked by pyHanko's own
validator (``pyhanko sign validate``): the sealed record is VALID, a one-byte change is not."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from typer.testing import CliRunner

from reports.decision_record import SheetLine, SignedSheet, record_pdf
from scanner.cli import app
from scanner.errors import InputError
from scanner.history.document_signing import (
    import_pkcs12,
    load_document_signer,
    self_signed,
)

cli = CliRunner()
PYHANKO = Path(sys.executable).with_name("pyhanko")


def validate(pdf: Path, cert: Path) -> subprocess.CompletedProcess[str]:
    if not PYHANKO.exists():
        pytest.fail("pyhanko CLI missing: pip install -e '.[dev]' installs pyhanko-cli")
    return subprocess.run([str(PYHANKO), "sign", "validate", "--no-revocation-check", "--trust-replace", "--trust",
                           str(cert), "--executive-summary", str(pdf)], capture_output=True, text=True, timeout=120)


def sample_sheet(signature: bytes | None = None) -> SignedSheet:
    line = SheetLine(project_id="smb.v1_enabled", title="SMB1 is enabled <b>", citations=("164.312(e)(1)",),
                     required=False, decision="Declined", detail="cost", findings=2)
    return SignedSheet(client="Demo Dental", msp="Lab MSP", run_id="run-1", scan_started="2026-11-22 23:51 UTC",
                       scan_digest="a" * 64, lines=(line,), signer_name="Robin Lee", signer_role="owner",
                       signature_kind="drawn" if signature else "typed", signature_png=signature,
                       statement="I sign.", signed_at="2026-12-02T10:00:00", seq=1, digest="b" * 64,
                       prev_digest=None, decisions=2, sealed_by="O=Lab MSP", seal_fingerprint="c" * 64)


def test_keys_init_makes_a_private_ecdsa_key_and_a_certificate_and_overwrites_nothing(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "signing-key.pem"
    result = cli.invoke(app, ["keys", "init", "--key", str(key), "--org", "Lab MSP"])
    assert result.exit_code == 0, result.output
    doc_key, doc_cert = key.with_name("document-signing-key.pem"), key.with_name("document-signing-cert.pem")
    assert stat.S_IMODE(doc_key.stat().st_mode) == 0o600
    signer = load_document_signer(doc_key, doc_cert)
    assert signer.key.curve.name == "secp256r1"  # type: ignore[union-attr]
    assert "O=Lab MSP" in signer.subject and signer.fingerprint in result.output
    before = doc_key.read_bytes()
    again = cli.invoke(app, ["keys", "init", "--key", str(key)])
    assert again.exit_code == 2 and "not overwritten" in again.output and doc_key.read_bytes() == before
    shown = cli.invoke(app, ["keys", "show", "--key", str(key)])
    assert shown.exit_code == 0 and signer.fingerprint in shown.output
    doc_key.chmod(0o644)
    with pytest.raises(InputError, match="chmod 600"):
        load_document_signer(doc_key, doc_cert)


def test_keys_init_adds_the_certificate_beside_an_existing_run_key(tmp_path: Path) -> None:
    key = tmp_path / "signing-key.pem"
    assert cli.invoke(app, ["keys", "init", "--key", str(key)]).exit_code == 0
    key.with_name("document-signing-key.pem").unlink()
    key.with_name("document-signing-cert.pem").unlink()
    before = key.read_bytes()
    result = cli.invoke(app, ["keys", "init", "--key", str(key), "--org", "Later MSP"])
    assert result.exit_code == 0 and "kept the existing run-signing key" in result.output
    assert key.read_bytes() == before and key.with_name("document-signing-cert.pem").exists()


def test_the_msps_own_pkcs12_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = self_signed("Own CA MSP")
    blob = pkcs12.serialize_key_and_certificates(b"msp", own.key, own.certificate, None,
                                                 serialization.BestAvailableEncryption(b"s3cret"))
    p12 = tmp_path / "msp.p12"
    p12.write_bytes(blob)
    with pytest.raises(InputError, match="password is wrong"):
        import_pkcs12(blob, b"wrong", tmp_path / "k.pem", tmp_path / "c.pem")
    monkeypatch.setenv("GAPSCAN_PKCS12_PASSWORD", "s3cret")
    key = tmp_path / "keys" / "signing-key.pem"
    result = cli.invoke(app, ["keys", "init", "--key", str(key), "--pkcs12", str(p12)])
    assert result.exit_code == 0, result.output
    loaded = load_document_signer(key.with_name("document-signing-key.pem"),
                                  key.with_name("document-signing-cert.pem"))
    assert loaded.fingerprint == own.fingerprint and "s3cret" not in result.output


def test_a_sealed_record_validates_and_a_one_byte_change_does_not(tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    signer = self_signed("Lab MSP")
    cert = tmp_path / "cert.pem"
    cert.write_bytes(signer.certificate.public_bytes(serialization.Encoding.PEM))
    sealed = signer.seal(record_pdf(sample_sheet()), reason="test")
    good = tmp_path / "record.pdf"
    good.write_bytes(sealed)
    done = validate(good, cert)
    assert done.returncode == 0 and f"MSPSeal:{signer.fingerprint}:VALID" in done.stdout, done.stdout + done.stderr
    text = subprocess.run(["pdftotext", str(good), "-"], capture_output=True, text=True, timeout=60).stdout
    assert "Robin Lee" in text and "a" * 40 in text.replace("\n", "") and "SMB1 is enabled <b>" in text
    # one byte inside the signed range (the first half of the file, before the signature's /Contents)
    tampered = bytearray(sealed)
    offset = len(sealed) // 4
    tampered[offset] = (tampered[offset] + 1) % 256
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(tampered))
    broken = validate(bad, cert)
    assert broken.returncode != 0 and "VALID" not in broken.stdout.replace("INVALID", ""), broken.stdout
    other = self_signed("Someone Else")
    other_cert = tmp_path / "other.pem"
    other_cert.write_bytes(other.certificate.public_bytes(serialization.Encoding.PEM))
    assert validate(good, other_cert).returncode != 0  # trusted only with the MSP's own certificate
