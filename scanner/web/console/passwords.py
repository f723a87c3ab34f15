"""Console password hashes: scrypt (RFC 7914) from the standard library, with a random salt.

Stored as ``scrypt$N$r$p$salt$hash`` (salt and hash in base64). N=2**15, r=8, p=1 costs about
32 MiB and a few tenths of a second per guess (OWASP Password Storage Cheat Sheet's scrypt
minimum is N=2**17 with r=8 for 128 MiB; 2**15 keeps a 2-core sensor box usable; raise it here).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

N, R, P, DKLEN = 2**15, 8, 1, 32
MAXMEM = 64 * 1024 * 1024


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=DKLEN, maxmem=MAXMEM)
    return "$".join(["scrypt", str(N), str(R), str(P), base64.b64encode(salt).decode(), base64.b64encode(key).decode()])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected), maxmem=MAXMEM)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash of nothing anyone knows: an unknown user name costs the same time as a known one."""
    return hash_password(secrets.token_urlsafe(16))
