"""What each CoinGecko plan offers, and the upstream settings that follow from it. Pure.

| plan   | base URL                             | key header          | default ceiling | monthly  |
|--------|--------------------------------------|---------------------|-----------------|----------|
| public | https://api.coingecko.com/api/v3     | none (keyless)      | 5 / min         | none     |
| demo   | https://api.coingecko.com/api/v3     | `x-cg-demo-api-key` | 30 / min        | 10,000   |
| pro    | https://pro-api.coingecko.com/api/v3 | `x-cg-pro-api-key`  | 250 / min       | 100,000  |

Where the defaults come from (CoinGecko's docs, "Common Errors & Rate Limit" and the pricing
page): the keyless public API is limited per IP and "varies with global usage" — figures from
5 to 30 a minute have been published over the years, so the default takes the bottom of that
range, shared with anyone else behind the same address. A demo key has been 30 calls a minute
and 10,000 call credits a month (newer pages mention more; 30 stays safe). Paid plans differ
by tier (Basic 250/min and 100k credits, Analyst 500/min and 500k, Lite 500/min and 2M); the
default is the smallest tier, because calls over the monthly credits are billed: operators on
a larger tier raise MP_COINGECKO_CALLS_PER_MINUTE and MP_COINGECKO_MONTHLY_CALLS. Every
request counts against both limits, errors included.

The key travels only in the header: CoinGecko also accepts it as a query parameter, which
would put it in every URL that is logged, cached or shown in an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr

from marketpulse_common.settings import CoinGeckoPlan, Settings
from marketpulse_ingestor.budget import BudgetLimits
from marketpulse_ingestor.errors import ConfigurationError

PUBLIC_BASE_URL = "https://api.coingecko.com/api/v3"
PRO_BASE_URL = "https://pro-api.coingecko.com/api/v3"


@dataclass(frozen=True, slots=True)
class PlanFacts:
    base_url: str
    key_header: str | None
    calls_per_minute: int
    monthly_calls: int | None
    # /coins/markets is refreshed upstream about once a minute (faster on paid plans):
    # polling more often only spends credits on unchanged prices.
    ticker_interval_s: float
    # /coins/{id}/ohlc takes interval=hourly|daily (true hourly and daily candles).
    native_intervals: bool
    # How far back /market_chart/range reaches; None = the coin's whole history.
    history_days: int | None


PLANS: dict[CoinGeckoPlan, PlanFacts] = {
    "public": PlanFacts(PUBLIC_BASE_URL, None, 5, None, 60.0, False, 365),
    "demo": PlanFacts(PUBLIC_BASE_URL, "x-cg-demo-api-key", 30, 10_000, 60.0, False, 365),
    "pro": PlanFacts(PRO_BASE_URL, "x-cg-pro-api-key", 250, 100_000, 30.0, True, None),
}


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    plan: CoinGeckoPlan
    facts: PlanFacts
    base_url: str
    # Budget identity: every replica calling this host shares one budget, pause and circuit.
    host: str
    api_key: SecretStr | None
    limits: BudgetLimits
    ticker_interval_s: float
    timeout_s: float

    def auth_headers(self) -> dict[str, str]:
        if self.facts.key_header is None or self.api_key is None:
            return {}
        return {self.facts.key_header: self.api_key.get_secret_value()}


def upstream_config(settings: Settings) -> UpstreamConfig:
    """The CoinGecko settings, resolved and checked; ConfigurationError names the variable."""
    plan = settings.coingecko_plan
    facts = PLANS[plan]
    _check_key(plan, settings.coingecko_api_key)
    base_url = (settings.coingecko_base_url or facts.base_url).rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("MP_COINGECKO_BASE_URL must be an http(s) URL")
    if parts.username or parts.password or parts.query:
        raise ConfigurationError("MP_COINGECKO_BASE_URL must not carry credentials or a query")
    limits = BudgetLimits(
        calls_per_window=_calls_per_window(settings, facts),
        window_s=settings.coingecko_budget_window_s,
        monthly_calls=settings.coingecko_monthly_calls or facts.monthly_calls,
    )
    return UpstreamConfig(
        plan=plan,
        facts=facts,
        base_url=base_url,
        host=parts.netloc.lower(),
        api_key=settings.coingecko_api_key,
        limits=limits,
        ticker_interval_s=settings.coingecko_ticker_interval_s
        or _scaled_ticker_interval(facts, settings.coingecko_budget_window_s),
        timeout_s=settings.coingecko_timeout_s,
    )


def _check_key(plan: CoinGeckoPlan, key: SecretStr | None) -> None:
    if plan == "public" and key is not None:
        # A keyless call would silently ignore the key (and its larger budget).
        raise ConfigurationError(
            "MP_COINGECKO_API_KEY is set but MP_COINGECKO_PLAN=public: set the plan to demo or pro"
        )
    if plan != "public" and (key is None or not key.get_secret_value().strip()):
        raise ConfigurationError(f"MP_COINGECKO_PLAN={plan} needs MP_COINGECKO_API_KEY")


def _calls_per_window(settings: Settings, facts: PlanFacts) -> int:
    """MP_COINGECKO_CALLS_PER_MINUTE (or the plan's) is per minute; a shortened window
    (tests) keeps the configured count per window, which is what the tests measure."""
    return settings.coingecko_calls_per_minute or facts.calls_per_minute


def _scaled_ticker_interval(facts: PlanFacts, window_s: float) -> float:
    """The plan's ticker cadence in budget windows: a shortened window (tests) runs the
    whole schedule's "minutes" faster."""
    return facts.ticker_interval_s * window_s / 60.0
