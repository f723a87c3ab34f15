"""One TLS probe per TLS-capable service: versions, weak suite categories, certificate facts.

Versions and suites are learnt with crafted ClientHellos (``hello.py``): one connection per
question, each answered by a ServerHello or a refusal. The certificate is fetched with Python's
ssl at the best version the server accepted (SSL 3.0 cannot be: then the certificate is "not
collected" and the certificate check errors) and verified against the default trust store
(which honours SSL_CERT_FILE), then parsed with ``cryptography``. Implicit-TLS services
(https, imaps, pop3s, smtps, ftps) speak TLS at once; smtp, submission, imap, pop3 and ftp are
upgraded with STARTTLS/STLS/AUTH TLS first (``scanner/net/starttls.py``); when the server does not offer the
upgrade the facts say so and the TLS checks skip (the cleartext checks own that gap).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from checks.tls import hello
from scanner.check import Probe, ProbeContext
from scanner.errors import ProbeError, ProbeTimeout, ProtocolError, translate_os_error
from scanner.models import Evidence, Target, utcnow
from scanner.net.lines import LineClient
from scanner.net.starttls import IMPLICIT, UPGRADES
from scanner.net.text import sanitize

TLS_SERVICES = frozenset(IMPLICIT | set(UPGRADES))
_SSL_VERSIONS = {"TLSv1.0": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                 "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class VersionResult:
    version: str
    accepted: bool
    cipher: str | None = None
    answer: str = ""  # "ServerHello", "HelloRetryRequest", or the refusal


@dataclass(frozen=True)
class WeakSuite:
    version: str
    category: str
    suite: str


@dataclass(frozen=True)
class CertFacts:
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    self_signed: bool
    key_type: str
    key_bits: int
    signature_hash: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    verified: bool
    verify_error: str  # OpenSSL's message when the chain did not verify
    fetched_with: str  # the TLS version of the handshake that fetched it

    def hostname_match(self, host: str | None) -> str:
        """'match', 'mismatch', or 'no name to match' (an IP target and no IP in the cert)."""
        if not host:
            return "no name to match"
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            names = [n.lower() for n in self.dns_names]
            host = host.lower()
            ok = host in names or any(n.startswith("*.") and host.split(".", 1)[-1] == n[2:] for n in names)
            return "match" if ok else "mismatch"
        if not self.ip_addresses:
            return "no name to match"
        return "match" if any(_same_address(a, address) for a in self.ip_addresses) else "mismatch"

    def as_data(self) -> dict[str, Any]:
        return {"subject": sanitize(self.subject, 200), "issuer": sanitize(self.issuer, 200),
                "not_before": self.not_before.isoformat(), "not_after": self.not_after.isoformat(),
                "self_signed": self.self_signed, "key": f"{self.key_type}-{self.key_bits}",
                "signature_hash": self.signature_hash, "dns_names": [sanitize(n, 100) for n in self.dns_names[:20]],
                "ip_addresses": list(self.ip_addresses[:20]), "chain_verified": self.verified,
                "verify_error": sanitize(self.verify_error, 200), "fetched_with": self.fetched_with}


def _same_address(text: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(text) == address
    except ValueError:  # not an address: it matches nothing
        return False


@dataclass(frozen=True)
class TlsFacts:
    available: bool  # False: STARTTLS not offered / refused (the reason is in ``unavailable``)
    mode: str  # "implicit TLS" or "STARTTLS (smtp)"
    unavailable: str = ""
    versions: tuple[VersionResult, ...] = ()
    weak_suites: tuple[WeakSuite, ...] = ()
    cert: CertFacts | None = None
    cert_error: str = ""
    collected_at: dt.datetime = field(default_factory=utcnow)

    @property
    def accepted(self) -> tuple[str, ...]:
        return tuple(v.version for v in self.versions if v.accepted)

    def evidence(self) -> Evidence:
        summary = (f"{self.mode}: accepts {', '.join(self.accepted) or 'nothing'}"
                   if self.available else f"{self.mode}: TLS not available ({self.unavailable})")
        if self.weak_suites:
            summary += "; weak: " + ", ".join(sorted({f"{w.category}" for w in self.weak_suites}))
        return Evidence(
            kind="tls-handshakes",
            summary=summary,
            data={"mode": self.mode, "available": self.available, "unavailable": sanitize(self.unavailable, 200),
                  "versions": [{"version": v.version, "accepted": v.accepted, "cipher": v.cipher,
                                "answer": sanitize(v.answer, 100)} for v in self.versions],
                  "accepted_suites_by_category": [{"version": w.version, "category": w.category, "suite": w.suite}
                                                  for w in self.weak_suites],
                  "certificate": self.cert.as_data() if self.cert else None,
                  "certificate_error": sanitize(self.cert_error, 300)},
            collected_at=self.collected_at,
            method="crafted ClientHello per version (SSL 3.0-TLS 1.3) and per suite category; certificate "
                   "fetched with Python ssl and verified against the default trust store",
        )


class TlsProbe(Probe[TlsFacts]):
    """Versions accepted, weak suite categories per version, certificate chain facts."""

    name = "tls-handshakes"

    def collect(self, target: Target, ctx: ProbeContext) -> TlsFacts:
        assert target.host is not None and target.port is not None
        service = target.service or ""
        mode = "implicit TLS" if service in IMPLICIT else f"STARTTLS on {service}"
        deadline = ctx.until(ctx.timeouts.probe)
        session = _Session(target.host, target.port, service, ctx, deadline)
        refusal = session.refusal()
        if refusal is not None:
            return TlsFacts(False, mode, unavailable=refusal)
        versions: list[VersionResult] = []
        for version in hello.VERSION_CODES:
            suites = hello.TLS13_SUITES if version == "TLSv1.3" else hello.PRE13_SUITES
            answer = session.ask(version, suites)
            said = answer.refusal
            if answer.accepted:
                said = "HelloRetryRequest" if answer.retry_request else "ServerHello"
            versions.append(VersionResult(version, answer.accepted, answer.cipher_name, said))
        if not any(v.accepted for v in versions):
            raise ProtocolError(f"TLS on {target.host}:{target.port}: no version from SSL 3.0 to TLS 1.3 was "
                                "accepted; the service's TLS could not be tested "
                                f"({'; '.join(f'{v.version}: {v.answer}' for v in versions)})")
        weak: list[WeakSuite] = []
        for v in versions:
            if v.accepted and v.version != "TLSv1.3":
                weak.extend(_weak_suites(session, v.version))
        cert: CertFacts | None = None
        cert_error = ""
        best = [v.version for v in versions if v.accepted and v.version in _SSL_VERSIONS]
        if best:
            cert = _fetch_certificate(session, best[-1])
        else:
            cert_error = "only SSL 3.0 accepted: this client's OpenSSL cannot fetch the certificate over it"
        return TlsFacts(True, mode, versions=tuple(versions), weak_suites=tuple(weak), cert=cert,
                        cert_error=cert_error)


class _Session:
    """Opens fresh connections (upgraded by STARTTLS when needed) within the probe's deadline."""

    def __init__(self, host: str, port: int, service: str, ctx: ProbeContext, deadline: float) -> None:
        self.host, self.port, self.service, self.ctx, self.deadline = host, port, service, ctx, deadline

    def _timeout(self, wanted: float) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ProbeTimeout(f"TLS probe of {self.host}:{self.port} ran out of its probe time")
        return max(0.1, min(wanted, remaining))

    def open(self) -> tuple[LineClient, str | None]:
        client = LineClient(self.host, self.port, connect_timeout=self._timeout(self.ctx.timeouts.connect),
                            read_timeout=self._timeout(self.ctx.timeouts.read), what=self.service.upper() or "TLS",
                            deadline=self.deadline)
        if self.service in UPGRADES:
            try:
                refusal = UPGRADES[self.service](client)
            except BaseException:
                client.close()
                raise
            return client, refusal
        return client, None

    def refusal(self) -> str | None:
        if self.service not in UPGRADES:
            return None
        client, refusal = self.open()
        client.close()
        return refusal

    def ask(self, version: str, suites: tuple[int, ...]) -> hello.HelloAnswer:
        client, refusal = self.open()
        with client:
            if refusal is not None:
                raise ProtocolError(f"{self.service}: TLS upgrade refused mid-probe: {refusal}")
            return hello.ask(client.sock, version, suites, self._timeout(self.ctx.timeouts.read),
                             what=f"TLS {version} to {self.host}:{self.port}")


def _weak_suites(session: _Session, version: str) -> list[WeakSuite]:
    """Offer every weak suite; name the category of the one chosen, drop that category, repeat."""
    categories = [*hello.WEAK_CATEGORIES, hello.NO_FORWARD_SECRECY]
    found: list[WeakSuite] = []
    while categories:
        answer = session.ask(version, hello.suites_of(*categories))
        if not answer.accepted or answer.cipher is None:
            break
        category = hello.suite_category(answer.cipher)
        found.append(WeakSuite(version, category, hello.suite_name(answer.cipher)))
        if category not in categories:  # cannot happen: hello.ask checks the suite was offered
            break
        categories.remove(category)
    return found


def _context(version: str, verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context() if verify else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # judged by CertFacts.hostname_match, against what was scanned
    context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    # Level 0 so that weak keys and SHA-1 are reported by us rather than refused by OpenSSL; no
    # anonymous or NULL suites, or the server might pick one that has no certificate at all.
    context.set_ciphers("ALL:!aNULL:!eNULL:@SECLEVEL=0")
    context.minimum_version = context.maximum_version = _SSL_VERSIONS[version]
    return context


def _handshake(session: _Session, version: str, verify: bool) -> bytes:
    client, refusal = session.open()
    with client:
        if refusal is not None:
            raise ProtocolError(f"{session.service}: TLS upgrade refused mid-probe: {refusal}")
        tls = _context(version, verify).wrap_socket(client.sock, do_handshake_on_connect=False)
        tls.settimeout(session._timeout(session.ctx.timeouts.read))
        tls.do_handshake()
        der = tls.getpeercert(binary_form=True)
        with contextlib.suppress(OSError, ssl.SSLError):
            tls.close()
        if not der:
            raise ProtocolError("TLS: the server sent no certificate")
        return der


def _fetch_certificate(session: _Session, version: str) -> CertFacts:
    what = f"TLS certificate from {session.host}:{session.port} ({version})"
    verified, verify_error = True, ""
    try:
        der = _handshake(session, version, verify=True)
    except ssl.SSLCertVerificationError as exc:
        verified, verify_error = False, f"{exc.verify_message} (code {exc.verify_code})"
        der = b""
    except ProbeError:
        raise
    except Exception as exc:
        raise translate_os_error(exc, what) from exc
    if not der:
        try:
            der = _handshake(session, version, verify=False)
        except ProbeError:
            raise
        except Exception as exc:
            raise translate_os_error(exc, what) from exc
    return parse_certificate(der, verified, verify_error, version)


def parse_certificate(der: bytes, verified: bool, verify_error: str, fetched_with: str) -> CertFacts:
    """Facts of a DER certificate (``cryptography``); unparsable bytes are a ProtocolError."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    try:
        cert = x509.load_der_x509_certificate(der)
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            key_type, bits = "RSA", key.key_size
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key_type, bits = f"EC-{key.curve.name}", key.curve.key_size
        elif isinstance(key, dsa.DSAPublicKey):
            key_type, bits = "DSA", key.key_size
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key_type, bits = "Ed25519", 256
        elif isinstance(key, ed448.Ed448PublicKey):
            key_type, bits = "Ed448", 456
        else:
            key_type, bits = key.__class__.__name__, 0
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns_names = tuple(san.get_values_for_type(x509.DNSName))
            ips = tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
        except x509.ExtensionNotFound:
            dns_names, ips = (), ()
        sig_hash = cert.signature_hash_algorithm
        # Issuer = subject is what makes a certificate self-signed for a client: no CA vouches for it.
        self_signed = cert.subject == cert.issuer
        return CertFacts(
            subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
            not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
            self_signed=self_signed, key_type=key_type, key_bits=bits,
            signature_hash=sig_hash.name if sig_hash else None, dns_names=dns_names, ip_addresses=ips,
            verified=verified, verify_error=verify_error, fetched_with=fetched_with)
    except Exception as exc:
        raise ProtocolError(f"TLS: the server's certificate could not be parsed ({exc.__class__.__name__})") from exc
