"""The gateway's scrape-time families: data age and staleness by the rule /readyz applies."""

from __future__ import annotations

from marketpulse_gateway.freshness import CANDLE_GRACE_S, TICKER_MAX_AGE_S
from marketpulse_gateway.metrics import GatewayMetrics
from tests.integration.gateway.metrics_text import sample


def test_a_value_older_than_its_kind_allows_is_stale() -> None:
    metrics = GatewayMetrics()
    hour = 3600.0
    ages = [
        ("bitcoin", "ticker", TICKER_MAX_AGE_S - 1),
        ("ethereum", "ticker", TICKER_MAX_AGE_S + 1),
        ("bitcoin", "indicators:1h", 2 * hour + CANDLE_GRACE_S - 1),
        ("bitcoin", "forecast:1h", 2 * hour + CANDLE_GRACE_S + 1),
        ("bitcoin", "candles:1d", 30 * hour),  # a daily candle a day old is on time
        ("bitcoin", "sentiment", 3 * hour),
    ]
    metrics.watch(redis_up=lambda: True, ages=lambda: ages)
    text = metrics.render().decode()
    stale = {
        (asset, channel): sample(
            text, "marketpulse_gateway_data_stale", {"asset": asset, "channel": channel}
        )
        for asset, channel, _ in ages
    }
    assert stale == {
        ("bitcoin", "ticker"): 0,
        ("ethereum", "ticker"): 1,
        ("bitcoin", "indicators:1h"): 0,
        ("bitcoin", "forecast:1h"): 1,
        ("bitcoin", "candles:1d"): 0,
        ("bitcoin", "sentiment"): 1,
    }
    age = sample(
        text, "marketpulse_gateway_data_age_seconds", {"asset": "bitcoin", "channel": "candles:1d"}
    )
    assert age == 30 * hour
