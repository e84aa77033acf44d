"""Every setting of every service, read from the environment (prefix `MP_`, `.env` honoured).

Settings are built once in a service's `main()` with `load_settings()` and handed down;
nothing reads the environment anywhere else. A bad value stops the service with one line
naming the variable (`SettingsError`), never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from marketpulse_common.errors import SettingsError
from marketpulse_common.keys import is_valid_asset
from marketpulse_common.timeframes import Timeframe

CoinGeckoPlan = Literal["public", "demo", "pro"]
SentimentProvider = Literal["anthropic", "heuristic", "off"]
LogFormat = Literal["console", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]

# Models are a moving target; this is the default a user gets when they set nothing.
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"
# A service started on its own (not by `make run`) expects a local Redis on its usual port.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MP_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    redis_url: str | None = None
    # True: MP_REDIS_URL names any node of a Redis Cluster (redis-py's cluster client).
    redis_cluster: bool = False
    assets: Annotated[list[str], NoDecode] = ["bitcoin", "ethereum", "solana"]
    vs_currency: str = Field(default="usd", pattern=r"^[a-z]{2,10}$")
    timeframes: Annotated[list[Timeframe], NoDecode] = [
        Timeframe.M5,
        Timeframe.H1,
        Timeframe.H4,
        Timeframe.D1,
    ]
    source: Literal["coingecko", "simulated"] = "coingecko"
    sim_seed: int = 42
    sim_speed: float = Field(default=1.0, gt=0, le=100_000)
    history_depth: int = Field(default=500, ge=50, le=5000)

    coingecko_plan: CoinGeckoPlan = "public"
    coingecko_api_key: SecretStr | None = None
    coingecko_base_url: str | None = None
    coingecko_calls_per_minute: int | None = Field(default=None, gt=0)
    coingecko_monthly_calls: int | None = Field(default=None, gt=0)
    # The sliding window the per-minute ceiling is counted over. 60 in production; tests
    # shorten it to run "minutes" of schedule in seconds.
    coingecko_budget_window_s: float = Field(default=60.0, ge=1, le=3600)
    # How often to poll prices; unset = by plan (60 s, 30 s on pro). The ingestor stretches
    # it when the budget cannot afford it, and says so at start.
    coingecko_ticker_interval_s: float | None = Field(default=None, gt=0, le=86_400)
    # One upstream HTTP request, connect to last byte.
    coingecko_timeout_s: float = Field(default=10.0, gt=0, le=120)

    sentiment_provider: SentimentProvider | None = None
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY")
    )
    anthropic_model: str = DEFAULT_ANTHROPIC_MODEL

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8000, ge=0, le=65535)
    api_keys_required: bool = False
    cors_origins: Annotated[list[str], NoDecode] = []
    # Gateway requests per minute per API key (per client IP without one), shared by every
    # replica through Redis; 0 turns rate limiting off. 600 is a dashboard polling a dozen
    # resources every second or two with room to spare; the burst covers a first paint.
    rate_limit_per_minute: int = Field(default=600, ge=0, le=60_000_000)
    rate_limit_burst: int = Field(default=100, ge=1, le=10_000_000)
    # How long a gateway trusts an API key it has looked up before asking Redis again: the
    # longest a revoked key keeps working. 0 asks Redis on every request.
    api_key_cache_s: float = Field(default=5.0, ge=0, le=300)
    # The API takes no request bodies; anything larger than this is refused with 413.
    max_body_bytes: int = Field(default=65_536, ge=0, le=16 * 1024 * 1024)
    # The built dashboard (index.html and ui/), served at `/`; unset: the repository's
    # dashboard/dist next to the gateway's source, when it was built (`make install`).
    dashboard_dir: Path | None = None
    # WebSocket stream, per connection. Channels: a dashboard of 3 assets x 4 timeframes uses
    # 42. Queue: bytes a client may fall behind (beyond what the kernel holds) before it is
    # closed with 4008; a full set of snapshots is well under it. Message: the largest client
    # frame (a subscribe naming 100 channels with resume positions is ~12 KiB) → 1009 beyond.
    ws_max_channels: int = Field(default=100, ge=1, le=10_000)
    ws_queue_bytes: int = Field(default=1_048_576, ge=16_384, le=256 * 1024 * 1024)
    ws_max_message_bytes: int = Field(default=16_384, ge=1024, le=16 * 1024 * 1024)

    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # How long a consumer-group entry may sit idle with one replica before another reclaims
    # it (ConsumerConfig.claim_idle_ms, same default): longer than any healthy handler runs.
    claim_idle_ms: int = Field(default=30_000, ge=100, le=3_600_000)
    # Compute: how many candles ahead a forecast looks (its return is close to close over
    # that many candles). 48 is two days of hourly candles; a longer look would leave the
    # 400-candle training window only a few independent outcomes to learn from.
    forecast_horizon: int = Field(default=1, ge=1, le=48)

    # Sentiment: time and cost bounds of the model provider, and the optional news feeds.
    anthropic_timeout_s: float = Field(default=10.0, gt=0, le=120)  # one HTTP request
    anthropic_max_retries: int = Field(default=2, ge=0, le=5)  # on 429 / 5xx / 529 / timeout
    # One whole assessment (retries and the corrective second ask included); the sentiment
    # service caps it below claim_idle_ms so another replica never reclaims an event mid-call.
    sentiment_deadline_s: float = Field(default=20.0, gt=0)
    sentiment_min_interval_s: float = Field(default=300.0, ge=0)
    sentiment_hourly_calls: int = Field(default=60, ge=0)
    sentiment_hourly_tokens: int = Field(default=150_000, ge=0)
    news_feeds: Annotated[list[str], NoDecode] = []
    news_interval_s: float = Field(default=900.0, ge=1)

    @field_validator("news_feeds", mode="before")
    @classmethod
    def _news_csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("news_feeds")
    @classmethod
    def _news_urls(cls, value: list[str]) -> list[str]:
        bad = [u for u in value if urlsplit(u).scheme not in ("http", "https")]
        if bad or not all(urlsplit(u).hostname for u in value):
            raise ValueError("every feed must be an http(s) URL")
        return list(dict.fromkeys(value))

    log_format: LogFormat | None = None
    log_level: LogLevel = "info"

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        # Checked here, not at connect time: the client's own error is a traceback.
        if value and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("assets", "timeframes", "cors_origins", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, value: list[str]) -> list[str]:
        bad = [o for o in value if o != "*" and not _is_origin_pattern(o)]
        if bad:
            raise ValueError("each entry must be *, scheme://host[:port] or scheme://*.domain")
        return [o.lower().rstrip("/") for o in value]

    @field_validator("assets")
    @classmethod
    def _assets(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not is_valid_asset(a)]
        if bad:
            raise ValueError(f"not CoinGecko coin ids: {', '.join(bad)}")
        if not value:
            raise ValueError("at least one asset is needed")
        return list(dict.fromkeys(value))

    @field_validator("timeframes")
    @classmethod
    def _timeframes(cls, value: list[Timeframe]) -> list[Timeframe]:
        if not value:
            raise ValueError("at least one timeframe is needed")
        return sorted(set(value), key=lambda tf: tf.seconds)

    @field_validator("redis_cluster")
    @classmethod
    def _cluster_url(cls, value: bool, info: ValidationInfo) -> bool:
        # redis_url is declared first, so it is validated (or failed) by now.
        url = info.data.get("redis_url") or DEFAULT_REDIS_URL
        parts = urlsplit(url)
        if value and parts.scheme == "unix":
            raise ValueError("a cluster needs MP_REDIS_URL to be a redis:// or rediss:// node")
        if value and parts.path.strip("/") not in ("", "0"):
            raise ValueError("a cluster has only database 0 (MP_REDIS_URL names another)")
        return value

    @model_validator(mode="after")
    def _resolve_sentiment_provider(self) -> Settings:
        if self.sentiment_provider is None:
            chosen = "anthropic" if self.anthropic_api_key else "heuristic"
            object.__setattr__(self, "sentiment_provider", chosen)
        return self

    @property
    def redis_dsn(self) -> str:
        """MP_REDIS_URL, or a Redis on the local default port for a service started alone."""
        return self.redis_url or DEFAULT_REDIS_URL

    @property
    def sentiment(self) -> SentimentProvider:
        assert self.sentiment_provider is not None  # resolved by the validator above
        return self.sentiment_provider


def _is_origin_pattern(origin: str) -> bool:
    # An origin is scheme://host[:port] and nothing else: no path, query or credentials.
    parts = urlsplit(origin.rstrip("/"))
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not (parts.path or parts.query or parts.fragment or parts.username)
    )


def _env_name(field: str) -> str:
    if field == "anthropic_api_key":
        return "ANTHROPIC_API_KEY"
    return f"MP_{field.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Read and validate all settings; raise SettingsError naming the first bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        first = e.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        # Never echo the input back: it may be a secret.
        raise SettingsError(f"invalid setting {_env_name(field)}: {first['msg']}") from None
