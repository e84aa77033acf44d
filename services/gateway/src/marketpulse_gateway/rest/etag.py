"""Entity tags for the data endpoints, and the `If-None-Match` check (RFC 9110 §8.8, §13.1.2).

Tags are weak: a body carries `meta.age_s`, which grows with every request, so two bodies
with the same tag are equivalent but not byte-identical. The tag covers the data and the
stale flags (the body's, and each part's in a composed body), so a client revalidating with
304s still learns when its copy, or any part of it, turns stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def etag_for(data: bytes, *, stale: bool, stale_parts: Iterable[str] = ()) -> str:
    """`stale_parts`: in a body composed of parts (/snapshot), those marked stale, each of
    which a revalidating client must learn about as it happens."""
    # 96 bits: collisions between two versions of one resource are not a practical concern.
    hashed = hashlib.blake2b(data, digest_size=12)
    for part in sorted(stale_parts):
        hashed.update(b"\0" + part.encode())
    return f'W/"{hashed.hexdigest()}{"-stale" if stale else ""}"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """True when the request's `If-None-Match` names `etag` (weak comparison) or is `*`."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = _opaque(etag)
    return any(_opaque(tag) == wanted for tag in if_none_match.split(","))


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag
