"""API keys: their format, the digest that is stored, and the constant-time check. Pure.

A key reads `mp_<id>_<secret>`: `id` is 8 characters of [a-z0-9] that name the key (the
lookup prefix: Redis holds the digest under the id, so checking a key is one lookup, never
a scan), and `secret` is 256 bits from `secrets`, URL-safe base64. Only the SHA-256 digest
of the whole key is stored. A fast hash is right here, unlike for passwords: the secret is
random and long, so there is nothing to guess that a slow hash would protect.

The id is not secret (it shows in `keys list` and in logs); the secret never leaves the
process that created it, which prints it once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "mp"
ID_LENGTH = 8
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
SECRET_BYTES = 32
# token_urlsafe(32) is 43 characters of [A-Za-z0-9_-].
_KEY_RE = re.compile(rf"^{KEY_PREFIX}_([a-z0-9]{{{ID_LENGTH}}})_([A-Za-z0-9_-]{{43}})$")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    key: str  # the whole key, to show once and never store

    @property
    def digest(self) -> str:
        return key_digest(self.key)


def issue_key() -> IssuedKey:
    key_id = "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return IssuedKey(key_id=key_id, key=key)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(presented: str) -> str | None:
    """The id a presented key claims, or None when it is not shaped like one of ours."""
    match = _KEY_RE.match(presented)
    return match.group(1) if match else None


def key_matches(presented: str, stored_digest: str) -> bool:
    """Constant-time comparison of the presented key's digest with the stored one."""
    return hmac.compare_digest(key_digest(presented), stored_digest)


def is_key_id(value: str) -> bool:
    return len(value) == ID_LENGTH and all(c in ID_ALPHABET for c in value)
