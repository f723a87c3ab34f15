"""tls.weak_cipher — the service accepts suites below the profile's floor.

The floor: no NULL encryption, EXPORT-grade, anonymous (unauthenticated) key exchange, RC4
(RFC 7465), 3DES (Sweet32, CVE-2016-2183) or single DES. Static-RSA key exchange (no forward
secrecy) is recorded in the evidence and named in the detail but does not fail on its own:
NIST SP 800-52 Rev. 2 still permits it for TLS 1.2. TLS 1.3 has no weak suites to ask for.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.tls.common import APPLIES, TlsCheck
from checks.tls.hello import NO_FORWARD_SECRECY, WEAK_CATEGORIES
from checks.tls.probe import TlsFacts
from scanner.check import CheckMeta
from scanner.models import ErrorReason, Finding, Severity, Skip, Target, Undetermined

# No confidentiality or no authentication at all: anyone on the path reads or impersonates.
_BROKEN = {"NULL", "EXPORT", "anonymous"}


class TlsWeakCipher(TlsCheck):
    meta = CheckMeta(
        id="tls.weak_cipher",
        title="Service accepts NULL, EXPORT, anonymous, RC4, 3DES or DES cipher suites",
        severity=Severity.MEDIUM,
        applies_to=APPLIES,
        why=(
            "The service allows weak encryption settings that can be broken or that let recorded traffic be "
            "decrypted later, so patient information in transit is not reliably protected."
        ),
        remediation=(
            "Allow only ECDHE/DHE suites with AES-GCM or ChaCha20-Poly1305 (nginx: ssl_ciphers "
            "\"ECDHE+AESGCM:ECDHE+CHACHA20\"; OpenSSL strings must exclude eNULL, aNULL, EXPORT, RC4, 3DES, DES) "
            "and keep TLS 1.2+ only."
        ),
        description="Per accepted version below TLS 1.3, offers the weak suites of each category in crafted "
                    "ClientHellos until the server refuses them all.",
    )

    def judge_tls(self, target: Target, tls: TlsFacts, where: str) -> Iterator[Finding | Skip | Undetermined]:
        weak = [w for w in tls.weak_suites if w.category in WEAK_CATEGORIES]
        if not weak and not tls.accepted:
            # Suites are tried on the versions the server accepts: with none accepted nothing was tried.
            yield self.undetermined(target, ErrorReason.PROTOCOL, f"{where}: no TLS version was accepted, so no "
                                    "cipher suite could be tried", evidence=[tls.evidence()])
            return
        no_fs = sorted({w.version for w in tls.weak_suites if w.category == NO_FORWARD_SECRECY})
        note = f"; static-RSA key exchange (no forward secrecy) accepted on {', '.join(no_fs)}" if no_fs else ""
        if weak:
            listed = "; ".join(f"{w.version} {w.category} ({w.suite})" for w in weak)
            severity = Severity.HIGH if any(w.category in _BROKEN for w in weak) else None
            yield self.finding(target, passed=False, detail=f"{where} accepts {listed}{note}",
                               evidence=[tls.evidence()], severity=severity)
            return
        versions = ", ".join(v for v in tls.accepted if v != "TLSv1.3") or "none below TLS 1.3"
        yield self.finding(target, passed=True,
                           detail=f"{where} refused every {'/'.join(WEAK_CATEGORIES)} suite on {versions}{note}",
                           evidence=[tls.evidence()])
