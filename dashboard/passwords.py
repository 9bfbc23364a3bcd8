"""The dashboard's shared password: an scrypt hash kept in the environment, checked in constant time.

The encoded form carries its own parameters, so they can grow without breaking old hashes::

    scrypt$16384$8$1$<salt, base64>$<key, base64>

``hashlib.scrypt`` is the KDF (memory-hard: 16 MiB per try with n=2**14, r=8); nothing here is
hand-rolled beyond that string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Final

__all__ = ["hash_password", "verify_password"]

_N: Final = 2**14
_R: Final = 8
_P: Final = 1
_KEY_BYTES: Final = 32
_MAX_MEM: Final = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The encoded scrypt hash of ``password`` with a fresh 16-byte salt (or ``salt``)."""
    salt = os.urandom(16) if salt is None else salt
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_KEY_BYTES, maxmem=_MAX_MEM)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded``; raises ``ValueError`` naming what is wrong with a
    malformed hash (a config problem, not a wrong password)."""
    parts = encoded.strip().split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("not an scrypt hash: expected scrypt$N$R$P$SALT$KEY (redline dashboard --hash-password)")
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, key = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError as exc:
        raise ValueError(f"malformed scrypt hash: {exc}") from exc
    if not (1 < n <= 2**20 and 0 < r <= 32 and 0 < p <= 16 and key):
        raise ValueError(f"scrypt parameters out of range: n={n}, r={r}, p={p}")
    tried = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(key), maxmem=_MAX_MEM * 4)
    return hmac.compare_digest(tried, key)
