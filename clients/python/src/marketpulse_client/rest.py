"""The gateway's REST API: typed bodies, ETag revalidation, problem+json as exceptions.

Every data response carries a weak ETag; this client keeps the last body of each URL and
sends `If-None-Match`, so an unchanged value costs the gateway a 304 and no body. A 304
answers with the kept body, its `age_s` and its parts' brought up to date (the ETag covers
the data and its stale flag, not its age).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from marketpulse_client.errors import TransportError
from marketpulse_client.problems import problem_error

DEFAULT_TIMEOUT_S = 10.0
# Bodies kept for revalidation: a dashboard's resources times a few assets and timeframes.
MAX_CACHED = 256


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    as_of: datetime | None = None
    age_s: float | None = None
    stale: bool = False
    source: str | None = None
    parts: dict[str, Meta] | None = None  # /snapshot: each part's own freshness


class Envelope(BaseModel):
    """`{"data": …, "meta": {as_of, age_s, stale, source}}` of every data endpoint."""

    model_config = ConfigDict(extra="allow", frozen=True)

    data: Any
    meta: Meta


class RestClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        headers = {"Accept": "application/json"}
        if api_key:
            headers["X-API-Key"] = api_key
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._base = base_url.rstrip("/")
        self._headers = headers
        self._cache: OrderedDict[str, tuple[str, Envelope]] = OrderedDict()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def assets(self) -> Envelope:
        return await self.get("/v1/assets")

    async def ticker(self, asset: str) -> Envelope:
        return await self.get(f"/v1/assets/{asset}/ticker")

    async def candles(self, asset: str, tf: str, limit: int | None = None) -> Envelope:
        return await self.get(f"/v1/assets/{asset}/candles", tf=tf, limit=limit)

    async def indicators(self, asset: str, tf: str) -> Envelope:
        return await self.get(f"/v1/assets/{asset}/indicators", tf=tf)

    async def forecast(self, asset: str, tf: str) -> Envelope:
        return await self.get(f"/v1/assets/{asset}/forecast", tf=tf)

    async def evaluation(self, asset: str, tf: str) -> Envelope:
        return await self.get(f"/v1/assets/{asset}/evaluation", tf=tf)

    async def sentiment(self, asset: str) -> Envelope:
        return await self.get(f"/v1/assets/{asset}/sentiment")

    async def snapshot(self, asset: str, tf: str, limit: int | None = None) -> Envelope:
        """Ticker, candles, indicators, forecast, evaluation and sentiment in one body."""
        return await self.get(f"/v1/assets/{asset}/snapshot", tf=tf, limit=limit)

    async def get(self, path: str, **params: str | int | None) -> Envelope:
        """GET a data endpoint; raises an ApiError subclass or TransportError."""
        query = {k: v for k, v in params.items() if v is not None}
        url = str(httpx.URL(self._base + path, params=query))
        cached = self._cache.get(url)
        headers = dict(self._headers)
        if cached is not None:
            headers["If-None-Match"] = cached[0]
        try:
            response = await self._http.get(url, headers=headers)
        except httpx.TimeoutException as e:
            raise TransportError(f"GET {path}: no answer in time ({type(e).__name__})") from e
        except httpx.ConnectError as e:
            raise TransportError(f"cannot reach the gateway at {self._base} ({e})") from e
        except httpx.HTTPError as e:
            raise TransportError(f"GET {path}: {e or type(e).__name__}") from e
        if response.status_code == 304 and cached is not None:
            self._cache.move_to_end(url)
            return _aged(cached[1], time.time())
        if response.status_code != 200:
            raise problem_error(response.status_code, response.headers, response.content)
        try:
            envelope = Envelope.model_validate_json(response.content)
        except ValidationError as e:
            raise TransportError(f"GET {path}: not a marketpulse envelope") from e
        etag = response.headers.get("etag")
        if etag:
            self._remember(url, etag, envelope)
        return envelope

    def _remember(self, url: str, etag: str, envelope: Envelope) -> None:
        self._cache[url] = (etag, envelope)
        self._cache.move_to_end(url)
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)


def _aged(envelope: Envelope, now: float) -> Envelope:
    """The kept body with its ages counted up to `now` (epoch s), its parts' too."""
    return envelope.model_copy(update={"meta": aged_meta(envelope.meta, now)})


def aged_meta(meta: Meta, now: float) -> Meta:
    """`meta` with `age_s` counted from `as_of` to `now`, and each of its parts' likewise;
    one without `as_of`, or with a null age (nothing cached), is kept as it is."""
    update: dict[str, Any] = {}
    if meta.as_of is not None and meta.age_s is not None:
        update["age_s"] = max(0.0, round(now - meta.as_of.timestamp(), 3))
    if meta.parts is not None:
        update["parts"] = {name: aged_meta(part, now) for name, part in meta.parts.items()}
    return meta.model_copy(update=update) if update else meta
