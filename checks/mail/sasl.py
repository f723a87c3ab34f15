"""SASL mechanisms (RFC 4422) sorted by what they put on the wire before TLS."""

from __future__ import annotations

# Mechanisms that never send the password or a reusable token itself (challenge-response,
# Kerberos, TLS client certificates). Everything else -- PLAIN, LOGIN, XOAUTH2, OAUTHBEARER,
# NTLM and any mechanism we do not know -- counts as a secret in the clear.
NO_CLEARTEXT_SECRET = frozenset({
    "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
    "GSSAPI", "GS2-KRB5", "EXTERNAL", "ANONYMOUS",
})


def cleartext_mechanisms(mechanisms: tuple[str, ...] | list[str]) -> list[str]:
    """The mechanisms (upper case) that would expose a password or token on an unencrypted link."""
    return [m.upper() for m in mechanisms if m.upper() not in NO_CLEARTEXT_SECRET]
