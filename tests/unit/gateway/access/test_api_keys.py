"""API keys: the `mp_<id>_<secret>` format, the stored digest and the constant-time check."""

from __future__ import annotations

import hashlib

import pytest

from marketpulse_gateway.access.api_keys import (
    ID_LENGTH,
    is_key_id,
    issue_key,
    key_digest,
    key_id_of,
    key_matches,
)


def test_issued_key_has_the_documented_shape() -> None:
    """A key reads mp_<8-char id>_<43-char secret> and names its own id."""
    issued = issue_key()
    prefix, key_id, secret = issued.key.split("_", 2)
    assert prefix == "mp"
    assert key_id == issued.key_id
    assert len(key_id) == ID_LENGTH and is_key_id(key_id)
    assert len(secret) == 43
    assert key_id_of(issued.key) == issued.key_id


def test_keys_are_unique() -> None:
    """Every issued key (and id) is new: they come from the OS's CSPRNG."""
    keys = [issue_key() for _ in range(200)]
    assert len({k.key for k in keys}) == 200
    assert len({k.key_id for k in keys}) == 200


def test_digest_is_sha256_of_the_whole_key() -> None:
    """Only the SHA-256 hex digest of the full key is stored."""
    issued = issue_key()
    assert issued.digest == hashlib.sha256(issued.key.encode()).hexdigest()
    assert issued.key not in issued.digest


def test_match_accepts_only_the_exact_key() -> None:
    """The stored digest matches its key and nothing else, not even the same id."""
    issued, other = issue_key(), issue_key()
    assert key_matches(issued.key, issued.digest)
    assert not key_matches(other.key, issued.digest)
    forged = f"mp_{issued.key_id}_{other.key.split('_', 2)[2]}"
    assert not key_matches(forged, issued.digest)
    assert key_digest(issued.key[:-1] + "x") != issued.digest


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "mp_abc",
        "xx_abcdefgh_" + "a" * 43,
        "mp_ABCDEFGH_" + "a" * 43,  # ids are lower case
        "mp_abcdefg_" + "a" * 43,  # 7-char id
        "mp_abcdefgh_" + "a" * 42,
        "mp_abcdefgh_" + "a" * 42 + "!",
        "Bearer mp_abcdefgh_" + "a" * 43,
    ],
)
def test_malformed_keys_claim_no_id(presented: str) -> None:
    """Anything not shaped like one of our keys is refused before any lookup."""
    assert key_id_of(presented) is None


def test_key_id_check() -> None:
    """Key ids are exactly 8 characters of a-z and 0-9 (what `keys revoke` accepts)."""
    assert is_key_id("ab12cd34")
    assert not is_key_id("ab12cd3")
    assert not is_key_id("ab12cd3!")
    assert not is_key_id("AB12CD34")
