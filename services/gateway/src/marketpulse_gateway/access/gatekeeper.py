"""Whether a request may proceed: API key (when presented or required) and rate limit.

The subject of a rate limit is the API key when the request carries a valid one, else the
client address (an IPv6 client by its /64, which is what one host usually gets). A request
whose key must be looked up in Redis is first charged to its address, so a flood of made-up
keys is limited like any other traffic before it costs Redis a lookup; a refused key is
charged to the address too. Behind a reverse proxy the address is the proxy's unless uvicorn
trusts it for `X-Forwarded-For` (FORWARDED_ALLOW_IPS).
"""

from __future__ import annotations

import functools
import ipaddress

from redis.asyncio import Redis

from marketpulse_common.settings import Settings
from marketpulse_gateway.access.cors import CorsPolicy
from marketpulse_gateway.access.gcra import GcraPolicy
from marketpulse_gateway.access.key_store import ApiKeyStore, KeyVerifier
from marketpulse_gateway.access.rate_limit import (
    ALLOWED,
    MAX_SUBJECTS,
    MemoryBuckets,
    RateLimiter,
    RedisBuckets,
    max_batch_for,
)
from marketpulse_gateway.admission import Denial, Header
from marketpulse_gateway.errors import StoreUnavailable
from marketpulse_gateway.metrics import GatewayMetrics
from marketpulse_gateway.store_health import StoreHealth

# RFC 6750: tells a client which scheme to use.
_CHALLENGE: tuple[Header, ...] = ((b"www-authenticate", b'Bearer realm="marketpulse"'),)
# Long enough not to hammer a gateway waiting for Redis, short enough for a dashboard.
UNAVAILABLE_RETRY_AFTER_S = 2


MISSING_KEY = Denial(
    401,
    "api-key-required",
    "API key required",
    "This gateway needs an API key: send it as `Authorization: Bearer <key>` or `X-API-Key`.",
    _CHALLENGE,
)
INVALID_KEY = Denial(
    401, "invalid-api-key", "Invalid API key", "The API key is unknown or revoked.", _CHALLENGE
)
KEYS_UNAVAILABLE = Denial(
    503,
    "store-unavailable",
    "Cache unavailable",
    "The API key cannot be checked while Redis is unreachable; retry shortly.",
    ((b"retry-after", str(UNAVAILABLE_RETRY_AFTER_S).encode()),),
)


class Gatekeeper:
    """The gateway's `Admission` (admission.py): keys, rate limits and CORS together."""

    def __init__(
        self,
        *,
        keys: KeyVerifier,
        limiter: RateLimiter | None,
        cors: CorsPolicy,
        keys_required: bool,
        per_minute: int,
        metrics: GatewayMetrics,
    ) -> None:
        self.keys = keys
        self.limiter = limiter
        self.cors = cors
        self.keys_required = keys_required
        self._per_minute = per_minute
        self._limited = {kind: metrics.rate_limited.labels(kind) for kind in ("key", "ip")}
        self._auth_failed = {r: metrics.auth_failures.labels(r) for r in ("missing", "invalid")}
        # Client address → rate-limit subject, so a hot read builds no string.
        self._subjects: dict[str | None, str] = {}

    @classmethod
    def build(
        cls, settings: Settings, redis: Redis, health: StoreHealth, metrics: GatewayMetrics
    ) -> Gatekeeper:
        limiter = None
        if settings.rate_limit_per_minute:
            policy = GcraPolicy.per_minute(
                settings.rate_limit_per_minute, settings.rate_limit_burst
            )
            limiter = RateLimiter(
                RedisBuckets(redis, policy),
                MemoryBuckets(policy),
                health,
                max_batch=max_batch_for(policy),
            )
        return cls(
            keys=KeyVerifier(ApiKeyStore(redis), health, cache_s=settings.api_key_cache_s),
            limiter=limiter,
            cors=CorsPolicy(settings.cors_origins),
            keys_required=settings.api_keys_required,
            per_minute=settings.rate_limit_per_minute,
            metrics=metrics,
        )

    def anonymous_admitted_now(self, client_host: str | None) -> bool:
        """`admitted_now` for a request without a key: the hot path's usual question."""
        if self.keys_required:
            return False
        subject = self._subjects.get(client_host) or self._remember_subject(client_host)
        return self.limiter is None or self.limiter.check(subject) is ALLOWED

    def _remember_subject(self, client_host: str | None) -> str:
        if len(self._subjects) >= MAX_SUBJECTS:
            self._subjects.clear()
        subject = self._subjects[client_host] = client_subject(client_host)
        return subject

    def admitted_now(self, presented: str | None, client_host: str | None) -> bool:
        """True when this replica's memory alone admits the request (the common case, and it
        is charged); False when `admit` must decide (Redis to ask, or a refusal to give)."""
        if presented is None:
            return self.anonymous_admitted_now(client_host)
        known = self.keys.cached(presented)
        if not known:
            return False
        return self.limiter is None or self.limiter.check("key:" + known) is ALLOWED

    async def admit(self, presented: str | None, client_host: str | None) -> Denial | None:
        """None when the request may proceed, else why not."""
        if presented is None:
            denial = await self._charge(client_subject(client_host))
            if denial is None and self.keys_required:
                self._auth_failed["missing"].inc()
                return MISSING_KEY
            return denial
        known = self.keys.cached(presented)
        if known is None:
            if (denial := await self._charge(client_subject(client_host))) is not None:
                return denial
            try:
                known = await self.keys.verify(presented) or False
            except StoreUnavailable:
                return KEYS_UNAVAILABLE
        if known is False:
            self._auth_failed["invalid"].inc()
            return await self._charge(client_subject(client_host)) or INVALID_KEY
        return await self._charge("key:" + known)

    async def _charge(self, subject: str) -> Denial | None:
        if self.limiter is None:
            return None
        verdict = self.limiter.check(subject) or await self.limiter.admit(subject)
        return None if verdict.allowed else self._limited_by(subject, verdict.retry_after_s)

    def _limited_by(self, subject: str, retry_after_s: int) -> Denial:
        kind = "key" if subject.startswith("key:") else "ip"
        self._limited[kind].inc()
        who = "API key" if kind == "key" else "client address"
        detail = (
            f"Over the limit of {self._per_minute} requests per minute for this {who}; "
            f"retry in {retry_after_s} s."
        )
        return Denial(
            429,
            "rate-limited",
            "Too many requests",
            detail,
            ((b"retry-after", str(retry_after_s).encode()),),
        )


def client_subject(host: str | None) -> str:
    """The rate-limit subject of a client address: `ip:<v4>` or `ip:<v6 /64>`."""
    if not host:
        return "ip:unknown"
    if ":" not in host:
        return "ip:" + host
    return "ip:" + _v6_network(host)


@functools.lru_cache(maxsize=4096)
def _v6_network(host: str) -> str:
    try:
        address = ipaddress.IPv6Address(host)
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))
