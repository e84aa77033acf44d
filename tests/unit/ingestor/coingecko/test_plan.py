"""Plans: base URL, key header and default budget per plan; bad combinations refused."""

from __future__ import annotations

from typing import Any

import pytest

from marketpulse_common.settings import Settings, load_settings
from marketpulse_ingestor.coingecko.plan import PRO_BASE_URL, PUBLIC_BASE_URL, upstream_config
from marketpulse_ingestor.errors import ConfigurationError

KEY = "CG-unit-test-key-123456"


def settings(**values: Any) -> Settings:
    return load_settings(source="coingecko", **values)


def test_the_public_plan_is_keyless_on_the_public_host() -> None:
    """public: api.coingecko.com, no key header, 5 calls a minute, no monthly credits."""
    config = upstream_config(settings(coingecko_plan="public"))
    assert config.base_url == PUBLIC_BASE_URL
    assert config.host == "api.coingecko.com"
    assert config.auth_headers() == {}
    assert (config.limits.calls_per_window, config.limits.monthly_calls) == (5, None)


def test_the_demo_key_goes_in_its_header_on_the_public_host() -> None:
    """demo: the key in x-cg-demo-api-key; 30 a minute and 10,000 a month."""
    config = upstream_config(settings(coingecko_plan="demo", coingecko_api_key=KEY))
    assert config.base_url == PUBLIC_BASE_URL
    assert config.auth_headers() == {"x-cg-demo-api-key": KEY}
    assert (config.limits.calls_per_window, config.limits.monthly_calls) == (30, 10_000)


def test_the_pro_key_goes_in_its_header_on_the_pro_host() -> None:
    """pro: pro-api.coingecko.com, x-cg-pro-api-key, the smallest paid tier's budget."""
    config = upstream_config(settings(coingecko_plan="pro", coingecko_api_key=KEY))
    assert config.base_url == PRO_BASE_URL
    assert config.host == "pro-api.coingecko.com"
    assert config.auth_headers() == {"x-cg-pro-api-key": KEY}
    assert (config.limits.calls_per_window, config.limits.monthly_calls) == (250, 100_000)
    assert config.facts.native_intervals


def test_the_key_never_shows_in_the_config_repr() -> None:
    """The resolved config prints its key masked (it is a SecretStr)."""
    config = upstream_config(settings(coingecko_plan="pro", coingecko_api_key=KEY))
    assert KEY not in repr(config)


def test_settings_override_the_plan_defaults() -> None:
    """Ceiling, monthly budget, base URL (and with it the budget's host) are settable."""
    config = upstream_config(
        settings(
            coingecko_plan="demo",
            coingecko_api_key=KEY,
            coingecko_calls_per_minute=12,
            coingecko_monthly_calls=500,
            coingecko_base_url="http://127.0.0.1:8999/api/v3/",
        )
    )
    assert config.base_url == "http://127.0.0.1:8999/api/v3"
    assert config.host == "127.0.0.1:8999"
    assert (config.limits.calls_per_window, config.limits.monthly_calls) == (12, 500)


def test_a_shortened_window_runs_the_ticker_cadence_faster() -> None:
    """With a 2 s budget window the 60 s ticker cadence becomes 2 s; a setting overrides."""
    assert upstream_config(settings(coingecko_budget_window_s=2)).ticker_interval_s == 2.0
    explicit = settings(coingecko_budget_window_s=2, coingecko_ticker_interval_s=0.5)
    assert upstream_config(explicit).ticker_interval_s == 0.5


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"coingecko_plan": "demo"}, "MP_COINGECKO_API_KEY"),
        ({"coingecko_plan": "pro", "coingecko_api_key": "  "}, "MP_COINGECKO_API_KEY"),
        ({"coingecko_plan": "public", "coingecko_api_key": KEY}, "MP_COINGECKO_PLAN=public"),
        ({"coingecko_base_url": "ftp://example.com"}, "MP_COINGECKO_BASE_URL"),
        ({"coingecko_base_url": "https://u:p@example.com/api"}, "MP_COINGECKO_BASE_URL"),
    ],
)
def test_inconsistent_settings_are_refused_naming_the_variable(
    values: dict[str, Any], names: str
) -> None:
    """A plan without its key, a key without a plan, a bad base URL: one clear line."""
    with pytest.raises(ConfigurationError, match=names) as caught:
        upstream_config(settings(**values))
    assert KEY not in str(caught.value)
