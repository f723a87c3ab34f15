"""Certificates for the lab, generated fresh at every `up` (OpenSSL through `cryptography`).

A local CA signs the "valid" certificates of the hardened hosts; a scanner that should judge
them valid must trust ``ca.pem`` (the lab runs the scanner with SSL_CERT_FILE pointing at a
bundle of the system CAs plus this one). The weak portal gets the classic bad certificates:
self-signed with a 1024-bit key and a SHA-1 signature, and one that expired in 2021.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .proc import run

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gapscan lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(directory: Path, stem: str, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> CertPair:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return CertPair(cert_path, key_path)


class LabPki:
    """The lab CA and the server certificates it issues, all under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        ca_name = _name("gapscan lab CA")
        self._ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._ca_key.public_key()), False)
            .sign(self._ca_key, hashes.SHA256())
        )
        self.ca = _write(directory, "ca", self._ca_cert, self._ca_key)
        self.bundle = directory / "trust-bundle.pem"
        system = SYSTEM_BUNDLE.read_text() if SYSTEM_BUNDLE.exists() else ""
        self.bundle.write_text(system + self.ca.cert.read_text())

    def issue(
        self,
        stem: str,
        dns_names: tuple[str, ...],
        addresses: tuple[str, ...] = (),
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> CertPair:
        """An RSA-2048 server certificate from the lab CA for ``dns_names`` + ``addresses`` (SANs;
        CN = first name); pass ``not_after`` in the past for an expired one."""
        now = dt.datetime.now(dt.UTC)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = _name(dns_names[0])
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(days=1))
            .not_valid_after(not_after or now + dt.timedelta(days=397))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        return _write(self.directory, stem, builder.sign(self._ca_key, hashes.SHA256()), key)

    def self_signed_weak(self, stem: str, dns_name: str, address: str) -> CertPair:
        """Self-signed, RSA-1024, SHA-1 signature: three planted certificate problems at once.

        Made with the openssl CLI because `cryptography` refuses to sign with SHA-1.
        """
        pair = CertPair(self.directory / f"{stem}.crt", self.directory / f"{stem}.key")
        run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:1024",
                "-sha1",
                "-nodes",
                "-days",
                "365",
                "-subj",
                f"/O=gapscan lab/CN={dns_name}",
                "-addext",
                f"subjectAltName=DNS:{dns_name},IP:{address}",
                "-keyout",
                str(pair.key),
                "-out",
                str(pair.cert),
            ],
            timeout=20,
        )
        return pair
