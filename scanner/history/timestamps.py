"""Independent timestamps of stored runs: an RFC 3161 client and the check of its tokens.

Where history.yaml names a timestamp authority, the SHA-256 of each stored run's scan.json is
sent to it as a TimeStampReq (RFC 3161 §2.4.1: version 1, the message imprint, a random nonce,
certReq so the reply carries the TSA's certificate) over HTTP (§3.4: POST
application/timestamp-query). The whole exchange is bounded by one total deadline. The reply
(TimeStampResp, DER) is stored with the run; ``openssl ts -verify -in REPLY -data scan.json
-CAfile TSA-CA`` checks it independently.

``check_reply`` verifies a stored reply: status granted, the token a CMS SignedData (RFC 5652)
over a TSTInfo whose message imprint is the run's digest and whose nonce is the one sent (when
known), the signed attributes' content type and message digest, the signature by the signer
certificate, the ESS signing-certificate attribute binding that certificate (RFC 5035), its
extended key usage timeStamping (RFC 3161 §2.3), and, given the TSA's CA certificates, that the
signer is one of them or directly issued by one of them and was valid at the stamped time.
"""

from __future__ import annotations

import hashlib
import secrets
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyasn1.codec.der import decoder, encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import univ
from pyasn1_modules import rfc3161, rfc5035, rfc5652

from scanner.errors import GapscanError, InputError

MAX_REPLY = 1 << 20  # a reply is a few KB: a megabyte is a hostile server
SHA256_OID = univ.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "2.16.840.1.101.3.4.2.1": hashes.SHA256, "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512, "1.3.14.3.2.26": hashes.SHA1,
}
_RSA_PKCS1 = {"1.2.840.113549.1.1.1", "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13"}
_ECDSA = {"1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4", "1.2.840.10045.2.1"}
_ED25519 = "1.3.101.112"


class TimestampError(GapscanError):
    """The TSA could not be asked, or a reply is not a valid timestamp of the digest."""


@dataclass(frozen=True)
class Stamp:
    """What a verified reply says."""

    gen_time: datetime
    serial: int
    tsa: str  # the signer certificate's subject
    trusted: bool  # the signer chains to a configured TSA CA certificate


# -- asking --------------------------------------------------------------------------------


def build_request(digest_hex: str, nonce: int) -> bytes:
    """TimeStampReq for a SHA-256 digest (RFC 3161 §2.4.1)."""
    req = rfc3161.TimeStampReq()
    req["version"] = 1
    imprint = req["messageImprint"]
    imprint["hashAlgorithm"]["algorithm"] = SHA256_OID
    imprint["hashedMessage"] = bytes.fromhex(digest_hex)
    req["nonce"] = nonce
    req["certReq"] = True
    return bytes(encoder.encode(req))


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimestampError("the timestamp authority did not answer in time")
    return left


def _post(url: str, body: bytes, timeout_s: float) -> bytes:
    """HTTP/1.0 POST with one total deadline for connect, send and every read."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("the timestamp authority URL must be http:// or https://", source=url)
    deadline = time.monotonic() + timeout_s
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    head = (f"POST {path} HTTP/1.0\r\nHost: {host_header}\r\nContent-Type: application/timestamp-query\r\n"
            f"Accept: application/timestamp-reply\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    try:
        sock = socket.create_connection((parts.hostname, port), timeout=_remaining(deadline))
        with sock:
            if parts.scheme == "https":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
            sock.settimeout(_remaining(deadline))
            sock.sendall(head.encode("ascii") + body)
            received = bytearray()
            while True:
                sock.settimeout(_remaining(deadline))
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
                if len(received) > MAX_REPLY:
                    raise TimestampError("the timestamp authority sent more than 1 MB")
    except TimeoutError as exc:
        raise TimestampError("the timestamp authority did not answer in time") from exc
    except (OSError, ssl.SSLError) as exc:
        raise TimestampError(f"cannot reach the timestamp authority ({exc.strerror or exc})") from exc
    header, sep, payload = bytes(received).partition(b"\r\n\r\n")
    status_line = header.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split()
    if not sep or len(fields) < 2 or fields[1] != "200":
        raise TimestampError(f"the timestamp authority answered {status_line[:80]!r}")
    return payload


def request_stamp(url: str, digest_hex: str, *, timeout_s: float, ca_certs: list[x509.Certificate] | None = None
                  ) -> bytes:
    """Ask the TSA to stamp a digest; returns its reply (DER), already checked against the request."""
    nonce = secrets.randbits(63)
    reply = _post(url, build_request(digest_hex, nonce), timeout_s)
    check_reply(reply, digest_hex, ca_certs, nonce=nonce)
    return reply


def load_ca_certs(path: Path) -> list[x509.Certificate]:
    """The TSA's CA certificates (PEM, one or more)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the TSA CA certificates ({exc.strerror or exc})", source=str(path)) from exc
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InputError("not PEM certificates", source=str(path)) from exc
    return certs


# -- checking ------------------------------------------------------------------------------


def _decode(data: bytes, spec: object, what: str) -> object:
    try:
        value, rest = decoder.decode(data, asn1Spec=spec)
    except (PyAsn1Error, ValueError, TypeError) as exc:
        raise TimestampError(f"{what} is not valid DER ({exc.__class__.__name__})") from exc
    if rest:
        raise TimestampError(f"{what} has trailing bytes")
    return value


def _attribute(attrs: object, oid: univ.ObjectIdentifier) -> bytes | None:
    for attr in attrs:  # type: ignore[attr-defined]
        if attr["attrType"] == oid:
            values = list(attr["attrValues"])
            if len(values) != 1:
                raise TimestampError(f"signed attribute {oid} must have exactly one value")
            return bytes(values[0])
    return None


def _signer_certificate(signed: object, signer_info: object, extra: list[x509.Certificate]) -> x509.Certificate:
    candidates: list[x509.Certificate] = list(extra)
    if signed["certificates"].hasValue():  # type: ignore[index]
        for choice in signed["certificates"]:  # type: ignore[index]
            if choice.getName() == "certificate":
                candidates.append(x509.load_der_x509_certificate(bytes(encoder.encode(choice["certificate"]))))
    sid = signer_info["sid"]  # type: ignore[index]
    for cert in candidates:
        if sid.getName() == "issuerAndSerialNumber":
            issuer = bytes(encoder.encode(sid["issuerAndSerialNumber"]["issuer"]))
            if (int(sid["issuerAndSerialNumber"]["serialNumber"]) == cert.serial_number
                    and issuer == cert.issuer.public_bytes()):
                return cert
        else:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                continue
            if ski == bytes(sid["subjectKeyIdentifier"]):
                return cert
    raise TimestampError("the token does not carry the certificate that signed it")


def _check_signature(cert: x509.Certificate, signature: bytes, data: bytes, sig_oid: str,
                     hash_cls: type[hashes.HashAlgorithm]) -> None:
    key = cert.public_key()
    try:
        if sig_oid in _RSA_PKCS1 and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hash_cls())
        elif sig_oid in _ECDSA and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_cls()))
        elif sig_oid == _ED25519 and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            raise TimestampError(f"signature algorithm {sig_oid} with a {type(key).__name__} is not supported")
    except InvalidSignature as exc:
        raise TimestampError("the TSA's signature does not verify (the token was altered)") from exc


def _check_ess(attrs: object, cert: x509.Certificate) -> None:
    """RFC 5035 / RFC 2634: the signed attributes name the signer certificate by its hash."""
    der = cert.public_bytes(serialization.Encoding.DER)
    v2 = _attribute(attrs, rfc5035.id_aa_signingCertificateV2)
    if v2 is not None:
        ess = _decode(v2, rfc5035.SigningCertificateV2(), "the signing-certificate attribute")
        first = ess["certs"][0]  # type: ignore[index]
        oid = str(first["hashAlgorithm"]["algorithm"]) if first["hashAlgorithm"].hasValue() else str(SHA256_OID)
        hash_cls = _HASHES.get(oid)
        if hash_cls is None:
            raise TimestampError(f"signing-certificate hash {oid} is not supported")
        digest = hashes.Hash(hash_cls())
        digest.update(der)
        if bytes(first["certHash"]) != digest.finalize():
            raise TimestampError("the signing-certificate attribute names another certificate")
        return
    v1 = _attribute(attrs, rfc5035.id_aa_signingCertificate)
    if v1 is None:
        raise TimestampError("the token has no signing-certificate attribute (RFC 3161 §2.4.2)")
    ess = _decode(v1, rfc5035.SigningCertificate(), "the signing-certificate attribute")
    if bytes(ess["certs"][0]["certHash"]) != hashlib.sha1(der).digest():  # type: ignore[index]
        raise TimestampError("the signing-certificate attribute names another certificate")


def _check_certificate(cert: x509.Certificate, gen_time: datetime, ca_certs: list[x509.Certificate] | None) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise TimestampError("the signer certificate has no extended key usage (RFC 3161 §2.3)") from exc
    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING] or not eku.critical:
        raise TimestampError("the signer certificate is not a timestamping certificate (RFC 3161 §2.3)")
    if not ca_certs:
        return False
    if not cert.not_valid_before_utc <= gen_time <= cert.not_valid_after_utc:
        raise TimestampError("the TSA certificate was not valid at the stamped time")
    for ca in ca_certs:
        if ca == cert:
            return True
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    raise TimestampError("the token was not signed by a trusted timestamp authority (not issued by the TSA CA)")


def check_reply(reply: bytes, digest_hex: str, ca_certs: list[x509.Certificate] | None = None, *,
                nonce: int | None = None) -> Stamp:
    """Verify a stored TimeStampResp against the digest it should stamp. Raises TimestampError."""
    resp = _decode(reply, rfc3161.TimeStampResp(), "the timestamp reply")
    status = int(resp["status"]["status"])  # type: ignore[index]
    if status not in (0, 1):
        raise TimestampError(f"the timestamp authority refused (PKIStatus {status})")
    token = resp["timeStampToken"]  # type: ignore[index]
    if not token.hasValue() or token["contentType"] != rfc5652.id_signedData:
        raise TimestampError("the reply holds no signed timestamp token")
    signed = _decode(bytes(token["content"]), rfc5652.SignedData(), "the timestamp token")
    encap = signed["encapContentInfo"]  # type: ignore[index]
    if encap["eContentType"] != rfc3161.id_ct_TSTInfo or not encap["eContent"].hasValue():
        raise TimestampError("the token does not hold a TSTInfo")
    content = bytes(encap["eContent"])
    tst = _decode(content, rfc3161.TSTInfo(), "the TSTInfo")
    imprint = tst["messageImprint"]  # type: ignore[index]
    if imprint["hashAlgorithm"]["algorithm"] != SHA256_OID or bytes(imprint["hashedMessage"]) != bytes.fromhex(
            digest_hex):
        raise TimestampError("the token stamps another digest than this run's")
    if nonce is not None and (not tst["nonce"].hasValue() or int(tst["nonce"]) != nonce):  # type: ignore[index]
        raise TimestampError("the reply does not answer our request (nonce differs)")
    stamped = tst["genTime"].asDateTime  # type: ignore[index]
    gen_time = (stamped.replace(tzinfo=UTC) if stamped.tzinfo is None else stamped).astimezone(UTC)
    infos = list(signed["signerInfos"])  # type: ignore[index]
    if len(infos) != 1:
        raise TimestampError("the token must have exactly one signer (RFC 3161 §2.4.2)")
    info = infos[0]
    hash_cls = _HASHES.get(str(info["digestAlgorithm"]["algorithm"]))
    if hash_cls is None:
        raise TimestampError(f"digest algorithm {info['digestAlgorithm']['algorithm']} is not supported")
    attrs = info["signedAttrs"]
    if not attrs.hasValue():
        raise TimestampError("the token has no signed attributes")
    if _attribute(attrs, rfc5652.id_contentType) != bytes(encoder.encode(rfc3161.id_ct_TSTInfo)):
        raise TimestampError("the signed content type is not TSTInfo")
    digest = hashes.Hash(hash_cls())
    digest.update(content)
    expected = bytes(encoder.encode(univ.OctetString(digest.finalize())))
    if _attribute(attrs, rfc5652.id_messageDigest) != expected:
        raise TimestampError("the signed message digest does not match the TSTInfo (the token was altered)")
    cert = _signer_certificate(signed, info, list(ca_certs or []))
    # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF (tag 0x31).
    signed_attrs = bytearray(encoder.encode(attrs))
    signed_attrs[0] = 0x31
    _check_signature(cert, bytes(info["signature"]), bytes(signed_attrs), str(info["signatureAlgorithm"]["algorithm"]),
                     hash_cls)
    _check_ess(attrs, cert)
    trusted = _check_certificate(cert, gen_time, ca_certs)
    return Stamp(gen_time=gen_time, serial=int(tst["serialNumber"]), tsa=cert.subject.rfc4514_string(),  # type: ignore[index]
                 trusted=trusted)

