"""The MSP's document-signing certificate and the PAdES seal of a signed decision record.

The run-signing key (``signing.py``) is Ed25519, which PDF readers do not validate; the decision
record a practice keeps is a PDF that any signature-aware reader must show as intact, so it is
sealed with an X.509 certificate: ``gapscan keys init`` makes an ECDSA P-256 key and a
self-signed certificate for it, or takes the MSP's own PKCS#12 (a certificate from a CA that
readers already trust). The key is a 0600 PEM file beside the run-signing key; the certificate
(and its chain) a PEM file beside it.

The seal is a PAdES baseline signature (ETSI EN 319 142-1, SubFilter ETSI.CAdES.detached) made
with pyHanko; any change to the signed bytes breaks it (``pyhanko sign validate``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from scanner.errors import InputError
from scanner.history.signing import default_key_path, write_new_file

CERT_YEARS = 5
SEAL_FIELD = "MSPSeal"
# id-kp-documentSigning (RFC 9336): the certificate is meant for signing documents, not TLS or mail.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def default_document_key_path() -> Path:
    return default_key_path().with_name("document-signing-key.pem")


def default_document_cert_path() -> Path:
    return default_key_path().with_name("document-signing-cert.pem")


@dataclass(frozen=True)
class DocumentSigner:
    """The private key and its certificate chain (the signing certificate first)."""

    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...]

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the signing certificate (DER), as PDF readers and ``pyhanko`` print it."""
        return hashlib.sha256(self.certificate.public_bytes(serialization.Encoding.DER)).hexdigest()

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    def seal(self, pdf: bytes, *, reason: str, location: str | None = None) -> bytes:
        """The PDF with a PAdES signature over all of it (an incremental update)."""
        from asn1crypto import keys as asn1_keys
        from asn1crypto import x509 as asn1_x509
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers
        from pyhanko.sign.fields import SigSeedSubFilter
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        der_key = self.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        certs = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in self.chain]
        signer = signers.SimpleSigner(signing_cert=certs[0], signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
                                      cert_registry=SimpleCertificateStore.from_certs(certs[1:]))
        meta = signers.PdfSignatureMetadata(field_name=SEAL_FIELD, subfilter=SigSeedSubFilter.PADES,
                                            md_algorithm="sha256", reason=reason, location=location)
        out = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), meta, signer=signer)
        return bytes(out.getvalue())


def _is_key_of(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bool:
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _save(signer: DocumentSigner, key_path: Path, cert_path: Path) -> None:
    for path in (key_path, cert_path):
        if path.exists():
            raise InputError("already exists; not overwritten", source=str(path))
    write_new_file(key_path, _key_pem(signer.key), 0o600, what="a document-signing key")
    write_new_file(cert_path, b"".join(c.public_bytes(serialization.Encoding.PEM) for c in signer.chain), 0o644,
                   what="a document-signing certificate")


def self_signed(organisation: str, *, now: datetime | None = None) -> DocumentSigner:
    """A new ECDSA P-256 key and a self-signed document-signing certificate naming the MSP."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} decision records")])
    start = (now or datetime.now(UTC)) - timedelta(minutes=5)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(days=365 * CERT_YEARS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return DocumentSigner(key, (cert,))


def init_document_signer(organisation: str, key_path: Path | None = None,
                         cert_path: Path | None = None) -> DocumentSigner:
    """Create and save a self-signed document signer; existing files are never overwritten."""
    if not organisation.strip():
        raise InputError("the certificate names the MSP: give its name", source="--org")
    signer = self_signed(organisation.strip())
    _save(signer, key_path or default_document_key_path(), cert_path or default_document_cert_path())
    return signer


def import_pkcs12(data: bytes, password: bytes | None, key_path: Path | None = None,
                  cert_path: Path | None = None, *, source: str = "PKCS#12") -> DocumentSigner:
    """Take the MSP's own PKCS#12 (key, certificate, chain) as the document signer."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except ValueError as exc:
        raise InputError(f"not a PKCS#12 file, or the password is wrong ({exc})", source=source) from exc
    if key is None or cert is None:
        raise InputError("the PKCS#12 file holds no private key and certificate", source=source)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise InputError(f"a {type(key).__name__} cannot make a PAdES signature here (ECDSA or RSA)", source=source)
    if not _is_key_of(cert, key):
        raise InputError("the certificate is not the private key's", source=source)
    signer = DocumentSigner(key, (cert, *extra))
    _save(signer, key_path or default_document_key_path(), cert_path or default_document_cert_path())
    return signer


def load_document_signer(key_path: Path | None = None, cert_path: Path | None = None) -> DocumentSigner:
    """Load the document signer; the key must be private (mode 0600)."""
    key_path = key_path or default_document_key_path()
    cert_path = cert_path or default_document_cert_path()
    try:
        mode = key_path.stat().st_mode & 0o777
        key_data = key_path.read_bytes()
        cert_data = cert_path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError("no document-signing certificate: run gapscan keys init", source=str(exc.filename)) from exc
    except OSError as exc:
        raise InputError(f"cannot read the document-signing key ({exc.strerror or exc})",
                         source=str(exc.filename)) from exc
    if mode & 0o077:
        raise InputError(f"the document-signing key is readable by others (mode {mode:o}); run: chmod 600 "
                         f"{key_path}", source=str(key_path))
    try:
        key = serialization.load_pem_private_key(key_data, password=None)
        chain = tuple(x509.load_pem_x509_certificates(cert_data))
    except (ValueError, TypeError) as exc:
        raise InputError(f"not a PEM key and certificate ({exc})", source=str(key_path)) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise InputError("not an ECDSA or RSA key", source=str(key_path))
    if not chain or not _is_key_of(chain[0], key):
        raise InputError("the certificate is not the key's", source=str(cert_path))
    return DocumentSigner(key, chain)
