"""Settings for the model provider in tests: the fake server's key, tight but sane bounds."""

from __future__ import annotations

from typing import Any

from marketpulse_common.settings import Settings, load_settings
from tests.integration.sentiment.fake_anthropic import API_KEY

MODEL = "claude-test-model"


def model_settings(redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ANTHROPIC_API_KEY": API_KEY,
        "redis_url": redis_url,
        "sentiment_provider": "anthropic",
        "anthropic_model": MODEL,
        "anthropic_timeout_s": 2.0,
        "anthropic_max_retries": 2,
        "sentiment_deadline_s": 8.0,
        "sentiment_min_interval_s": 0,
        "sentiment_hourly_calls": 1000,
        "sentiment_hourly_tokens": 100_000_000,
    }
    return load_settings(**(values | overrides))
