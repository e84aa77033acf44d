"""`MP_SOURCE=coingecko`: the MarketSource over CoinGecko's API, inside the shared budget.

Tickers come from one `/coins/markets` call for every tracked asset (up to 250 per page);
candles from the recipes in timeframe_recipes. Within one job run the same request is often
needed twice (5m and 15m share the 5-minutely chart): validated answers are kept for a few
seconds so it is made once. Nothing unvalidated is ever kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from redis.asyncio import Redis

from marketpulse_common.events import Candle, Ticker
from marketpulse_common.logs import get_logger
from marketpulse_common.settings import Settings
from marketpulse_common.timeframes import Timeframe
from marketpulse_common.tracing import span
from marketpulse_ingestor.budget import CircuitPolicy
from marketpulse_ingestor.budget_store import CallBudget
from marketpulse_ingestor.cadence import Cadence
from marketpulse_ingestor.call_plan import CallPlan
from marketpulse_ingestor.coingecko.candle_derivation import (
    aggregate,
    native_candles,
    sampled_candles,
)
from marketpulse_ingestor.coingecko.client import (
    CoinGeckoClient,
    RetryPolicy,
    upstream_http_client,
)
from marketpulse_ingestor.coingecko.jobs import cadence_for, plan_for
from marketpulse_ingestor.coingecko.models import (
    MarketRow,
    parse_chart,
    parse_markets,
    parse_ohlc,
)
from marketpulse_ingestor.coingecko.plan import UpstreamConfig, upstream_config
from marketpulse_ingestor.coingecko.timeframe_recipes import (
    Recipe,
    Request,
    recipe_for,
    requests_for,
    unsupported_timeframes,
)
from marketpulse_ingestor.errors import ConfigurationError, MalformedResponse
from marketpulse_ingestor.source_status import SourceStatus

log = get_logger(__name__)

SOURCE = "coingecko"
MARKETS_PAGE = 250  # /coins/markets per_page maximum
# Two timeframes of one candle run (5m and 15m) ask for the same chart one right after the
# other; anything older would not do: the next close needs fresh data. Tickers never kept.
MEMO_S = 2.0


def check_timeframes(settings: Settings) -> None:
    """Refuse, in one line, timeframes the plan cannot provide (before touching Redis)."""
    config = upstream_config(settings)
    missing = unsupported_timeframes(config.facts, list(settings.timeframes))
    if missing:
        names = ",".join(tf.value for tf in missing)
        raise ConfigurationError(
            f"MP_TIMEFRAMES: {names} cannot be built from CoinGecko (its finest data is "
            "5-minutely); use 5m, 15m, 1h, 4h or 1d, or MP_SOURCE=simulated"
        )


def circuit_policy(config: UpstreamConfig, plan: CallPlan) -> CircuitPolicy:
    """Five failures in a row open the circuit. It stays open for less than a ticker interval
    (reopened by a failed probe at one run, it is half-open again by the next), so the first
    ticker run after the upstream recovers brings fresh data: the ticker job is the probe."""
    ticker_s = plan.interval("tickers")
    return CircuitPolicy(
        threshold=5,
        cooldown_s=ticker_s / 5,
        max_cooldown_s=ticker_s * 0.8,
        probe_timeout_s=config.timeout_s + 1.0,
    )


class CoinGeckoSource:
    def __init__(
        self,
        client: CoinGeckoClient,
        config: UpstreamConfig,
        plan: CallPlan,
        settings: Settings,
        *,
        wall: Callable[[], float] = time.time,
        memo_s: float = MEMO_S,
    ) -> None:
        self.config = config
        self.plan = plan
        self._client = client
        self._assets = list(settings.assets)
        self._vs = settings.vs_currency
        self._timeframes = list(settings.timeframes)
        self._recipes = {tf: _recipe(config, tf) for tf in self._timeframes}
        self._wall = wall
        self._memo: dict[Request, tuple[float, Any]] = {}
        self._memo_s = memo_s

    @classmethod
    async def open(
        cls,
        settings: Settings,
        redis: Redis,
        *,
        wall: Callable[[], float] = time.time,
        memo_s: float = MEMO_S,
    ) -> CoinGeckoSource:
        check_timeframes(settings)
        config = upstream_config(settings)
        plan = plan_for(config, settings)
        budget = CallBudget(redis, config.host, config.limits, circuit_policy(config, plan))
        status = SourceStatus(
            redis, source=SOURCE, plan=config.plan, host=config.host, limits=config.limits
        )
        client = CoinGeckoClient(
            upstream_http_client(config),
            budget,
            status,
            timeout_s=config.timeout_s,
            retry=RetryPolicy.for_window(config.limits.window_s),
        )
        try:
            await status.started(plan.calls_per_minute, await budget.state())
        except BaseException:
            await client.aclose()
            raise
        log.info("coingecko schedule", plan=config.plan, schedule=plan.describe())
        for job in plan.stretched():
            log.warning(
                "budget too small for the wanted cadence; job slowed",
                job=job.name,
                wanted_s=round(job.wanted_s, 3),
                planned_s=round(job.interval_s, 3),
            )
        return cls(client, config, plan, settings, wall=wall, memo_s=memo_s)

    @property
    def name(self) -> str:
        return SOURCE

    async def market_time(self) -> int:
        return int(self._wall())

    def reach(self, tf: Timeframe, now: int) -> int | None:
        return self._recipes[tf].reach_open(self._wall())

    def cadence(self) -> Cadence:
        return cadence_for(self.plan, self._recipes, self.config, len(self._assets))

    async def tickers(self, now: int) -> list[Ticker]:
        rows: list[MarketRow] = []
        for first in range(0, len(self._assets), MARKETS_PAGE):
            page = self._assets[first : first + MARKETS_PAGE]
            rows += await self._get(self._markets_request(page), parse_markets, memo=False)
        tickers = [ticker for row in rows if (ticker := self._ticker(row)) is not None]
        missing = set(self._assets) - {t.asset for t in tickers}
        if missing:
            log.warning("no usable price upstream for some assets", assets=sorted(missing))
        return tickers

    async def closed_candles(
        self, asset: str, tf: Timeframe, *, since_open: int, now: int
    ) -> list[Candle]:
        recipe = self._recipes[tf]
        wall = self._wall()
        requests = requests_for(recipe, asset, self._vs, since_open=since_open, until=now, now=wall)
        if recipe.sampled:
            return await self._sampled(recipe, requests, wall)
        return await self._native(recipe, requests, wall)

    async def _sampled(self, recipe: Recipe, requests: list[Request], wall: float) -> list[Candle]:
        samples: list[tuple[int, float]] = []
        for request in requests:
            samples += await self._get(request, parse_chart)
        return sampled_candles(
            samples,
            recipe.tf,
            tolerance_s=recipe.facts.sample_tolerance_s,
            final_until=wall - recipe.facts.settle_s,
        )

    async def _native(self, recipe: Recipe, requests: list[Request], wall: float) -> list[Candle]:
        rows = []
        for request in requests:
            rows += await self._get(request, parse_ohlc)
        # Upstream serves OHLC from a cache refreshed every 15 minutes: a row stamped with a
        # recent close may have been computed before that close. Only settled ones count.
        size = recipe.facts.candle_s
        settled = wall - recipe.facts.settle_s
        candles = [c for c in native_candles(rows, size) if c.t + size <= settled]
        return candles if size == recipe.tf.seconds else aggregate(candles, size, recipe.tf)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _markets_request(self, assets: Sequence[str]) -> Request:
        params = (
            ("vs_currency", self._vs),
            ("ids", ",".join(assets)),
            ("per_page", str(MARKETS_PAGE)),
            ("page", "1"),
        )
        return Request(endpoint="/coins/markets", path="/coins/markets", params=params)

    async def _get(self, request: Request, parse: Callable[..., Any], *, memo: bool = True) -> Any:
        now = self._wall()
        cached = self._memo.get(request) if memo else None
        if cached is not None and now - cached[0] < self._memo_s:
            return cached[1]
        with span("upstream call", endpoint=request.endpoint):
            result = await self._client.get(
                request, partial(parse, now=now), max_wait_s=self._max_wait_s()
            )
        if memo:
            # Aged from its arrival: a call that waited for the budget or answered slowly is
            # still fresh for the next timeframe asking the same (5m and 15m share a chart).
            answered = self._wall()
            self._memo = {r: v for r, v in self._memo.items() if answered - v[0] < self._memo_s}
            self._memo[request] = (answered, result)
        return result

    def _max_wait_s(self) -> float:
        # Long enough for one slot to free in a full window, not so long a job holds its
        # lease through a long pause.
        return self.config.limits.window_s * 1.2

    def _ticker(self, row: MarketRow) -> Ticker | None:
        if row.id not in self._assets or row.current_price is None or row.last_updated is None:
            return None
        try:
            return Ticker(
                asset=row.id,
                vs_currency=self._vs,
                price=row.current_price,
                change_24h_pct=row.price_change_percentage_24h,
                high_24h=row.high_24h or None,  # 0 upstream means "unknown"
                low_24h=row.low_24h or None,
                volume_24h=row.total_volume,
                market_cap=row.market_cap,
                last_updated=row.last_updated,
            )
        except ValueError as e:
            raise MalformedResponse(f"/coins/markets: row for {row.id} is inconsistent") from e


def _recipe(config: UpstreamConfig, tf: Timeframe) -> Recipe:
    recipe = recipe_for(config.facts, tf)
    if recipe is None:
        raise ConfigurationError(f"MP_TIMEFRAMES: {tf.value} cannot be built from CoinGecko")
    return recipe
