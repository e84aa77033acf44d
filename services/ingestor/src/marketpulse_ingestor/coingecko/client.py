"""CoinGecko over httpx: every call inside the shared budget, bounded in time and size.

Each attempt first takes a slot from the budget every replica shares (budget_store), then
sends one GET with the plan's key in its header, reads at most MAX_BODY_BYTES within the
timeout, and parses the body with the caller's validator. Outcomes feed the shared gate:

- 2xx with a valid body: success (closes a half-open circuit);
- 429: every replica pauses until Retry-After (seconds, HTTP date or `retry-after-ms`,
  honoured up to a day), or, without one, for an exponential backoff with jitter over the
  429s in a row;
- 5xx, 408, timeout, broken connection, malformed body: a failure; retried here after a
  jittered backoff (or, when the answer has a Retry-After, after the pause it asks of every
  replica), and enough of them in a row open the circuit for every replica;
- other 4xx: our request is wrong; not retried, and not held against the upstream.

Nothing logged or raised carries a URL: errors name the endpoint's path template.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import orjson

from marketpulse_common.backoff import backoff_s, jitter_factor, retry_after_s
from marketpulse_common.logs import describe, get_logger
from marketpulse_ingestor.budget_store import (
    Admission,
    CallBudget,
    GateState,
    Outcome,
    StrikeBackoff,
)
from marketpulse_ingestor.coingecko.plan import UpstreamConfig
from marketpulse_ingestor.coingecko.timeframe_recipes import Request
from marketpulse_ingestor.errors import (
    MalformedResponse,
    RateLimited,
    RequestRejected,
    UpstreamError,
    UpstreamUnavailable,
)
from marketpulse_ingestor.metrics import UPSTREAM_CALLS
from marketpulse_ingestor.source_status import SourceStatus

log = get_logger(__name__)

T = TypeVar("T")

# A 90-day hourly chart is ~150 KB; anything near this is not a CoinGecko answer.
MAX_BODY_BYTES = 8 * 1024 * 1024
USER_AGENT = "marketpulse-ingestor/0.1"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int
    base_s: float
    cap_s: float

    @classmethod
    def for_window(cls, window_s: float) -> RetryPolicy:
        """Retries scale with the budget window: 2 s then 4 s on a real minute."""
        return cls(attempts=3, base_s=window_s / 30, cap_s=window_s / 4)


def upstream_http_client(config: UpstreamConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=config.base_url,
        headers={"accept": "application/json", "user-agent": USER_AGENT, **config.auth_headers()},
        timeout=httpx.Timeout(config.timeout_s, connect=min(config.timeout_s, 5.0)),
        follow_redirects=False,  # a redirect would be a misconfigured base URL; say so
    )


class CoinGeckoClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        budget: CallBudget,
        status: SourceStatus,
        *,
        timeout_s: float,
        retry: RetryPolicy,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._budget = budget
        self._status = status
        self._timeout_s = timeout_s
        self._retry = retry
        self._rand = rand
        self._sleep = sleep
        self._wall = wall

    async def get(self, request: Request, parse: Callable[[bytes], T], *, max_wait_s: float) -> T:
        """The parsed body of `request`; UpstreamError when every attempt failed or no call
        slot came within `max_wait_s` (CallRefused)."""
        attempt = 0
        while True:
            attempt += 1
            admission = await self._budget.acquire(max_wait_s)
            try:
                result = parse(await self._send(request))
            except UpstreamError as e:
                await self._failed(request, e, attempt, admission)
                if isinstance(e, RequestRejected) or attempt >= self._retry.attempts:
                    raise
                if not _paused_everyone(e):  # a shared pause is waited for in acquire
                    await self._sleep(self._backoff(attempt))
                continue
            await self._succeeded(request, admission)
            return result

    async def aclose(self) -> None:
        await self._http.aclose()

    def _backoff(self, attempt: int) -> float:
        return backoff_s(attempt, self._retry.base_s, self._retry.cap_s, self._rand())

    async def _send(self, request: Request) -> bytes:
        endpoint = request.endpoint
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._http.stream("GET", request.path, params=request.params) as reply:
                    body = await _read_bounded(reply, endpoint)
        except (TimeoutError, httpx.TimeoutException):
            raise UpstreamUnavailable(
                f"no answer from {endpoint} within {self._timeout_s:g} s", kind="timeout"
            ) from None
        except httpx.HTTPError as e:
            # The exception's text may contain the URL; its type says enough.
            raise UpstreamUnavailable(
                f"{type(e).__name__} calling {endpoint}", kind="transport"
            ) from None
        return self._check_status(reply, body, endpoint)

    def _check_status(self, reply: httpx.Response, body: bytes, endpoint: str) -> bytes:
        status = reply.status_code
        if 200 <= status < 300:
            return body
        message = f"HTTP {status} from {endpoint}"
        if status == 429:
            retry_after = retry_after_s(reply.headers, self._wall())
            raise RateLimited(message, retry_after_s=retry_after)
        if status == 408 or status >= 500:
            raise UpstreamUnavailable(
                message, retry_after_s=retry_after_s(reply.headers, self._wall())
            )
        raise RequestRejected(f"{message}{_error_code(body)}")

    async def _failed(
        self, request: Request, error: UpstreamError, attempt: int, admission: Admission
    ) -> None:
        UPSTREAM_CALLS.labels(request.endpoint, error.kind).inc()
        if isinstance(error, RateLimited):
            state = await self._rate_limited(error, admission)
        elif isinstance(error, RequestRejected):
            # The host is up; our request is wrong.
            state = await self._budget.report(Outcome.SUCCESS, admission=admission)
        elif isinstance(error, UpstreamUnavailable) and error.retry_after_s:
            # A 5xx that said when to come back (one saying 0 gets the local backoff).
            state = await self._budget.report(
                Outcome.FAILURE, pause_s=error.retry_after_s, admission=admission
            )
            log.warning(
                "upstream unavailable and said when to come back: every replica pauses",
                pause_s=round(error.retry_after_s, 3),
            )
        else:
            state = await self._budget.report(Outcome.FAILURE, admission=admission)
        await self._status.failed(str(error), error.kind, state)
        log.warning(
            "upstream call failed",
            endpoint=request.endpoint,
            attempt=attempt,
            kind=error.kind,
            error=describe(error),
            circuit=state.circuit,
        )

    async def _rate_limited(self, error: RateLimited, admission: Admission) -> GateState:
        # Without Retry-After the pause grows with the 429s in a row, counted and applied in
        # one script: no call or success report from another replica comes in between.
        backoff = None
        if error.retry_after_s is None:
            backoff = StrikeBackoff(
                self._retry.base_s * 2, self._retry.cap_s * 20, jitter_factor(self._rand())
            )
        state = await self._budget.report(
            Outcome.RATE_LIMITED,
            pause_s=error.retry_after_s or 0.0,
            admission=admission,
            backoff=backoff,
        )
        log.warning(
            "upstream rate limit: every replica pauses",
            pause_s=round(max(0, state.paused_until_ms - state.now_ms) / 1000, 3),
            retry_after=error.retry_after_s is not None,
        )
        return state

    async def _succeeded(self, request: Request, admission: Admission) -> None:
        UPSTREAM_CALLS.labels(request.endpoint, "ok").inc()
        state = await self._budget.report(Outcome.SUCCESS, admission=admission)
        await self._status.succeeded(request.endpoint, state)


def _paused_everyone(error: UpstreamError) -> bool:
    """Whether the failure paused every replica: a 429, or a 5xx asking for a wait (one
    saying 0 gets the local backoff, which keeps a failing host from a retry at once)."""
    return isinstance(error, RateLimited) or (
        isinstance(error, UpstreamUnavailable) and bool(error.retry_after_s)
    )


async def _read_bounded(reply: httpx.Response, endpoint: str) -> bytes:
    declared = reply.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise MalformedResponse(f"{endpoint}: body of {declared} bytes is too large")
    body = bytearray()
    async for chunk in reply.aiter_bytes():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise MalformedResponse(f"{endpoint}: body larger than {MAX_BODY_BYTES} bytes")
    return bytes(body)


def _error_code(body: bytes) -> str:
    """CoinGecko's numeric error code (10002 missing key, 10005 plan, 10012 range …), if any.
    Only the number: the message may quote the request."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    status = parsed.get("status") if isinstance(parsed, dict) else None
    code = status.get("error_code") if isinstance(status, dict) else None
    return f" (error code {code})" if isinstance(code, int) and not isinstance(code, bool) else ""
