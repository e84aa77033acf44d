"""The gateway's settings: CORS origins validated at start, access-control knobs bounded."""

from __future__ import annotations

import pytest

from marketpulse_common.errors import SettingsError
from marketpulse_common.settings import load_settings

GATEWAY_VARIABLES = (
    "MP_RATE_LIMIT_PER_MINUTE",
    "MP_RATE_LIMIT_BURST",
    "MP_API_KEYS_REQUIRED",
    "MP_API_KEY_CACHE_S",
    "MP_MAX_BODY_BYTES",
    "MP_CORS_ORIGINS",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in GATEWAY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_production_ready() -> None:
    """Rate limiting is on by default; keys are optional; the body limit is small."""
    settings = load_settings()
    assert settings.rate_limit_per_minute == 600
    assert settings.rate_limit_burst == 100
    assert settings.api_keys_required is False
    assert settings.api_key_cache_s == 5.0
    assert settings.max_body_bytes == 65_536


def test_cors_origins_from_csv_are_normalised() -> None:
    """Origins are read as CSV, lower-cased and stripped of a trailing slash."""
    settings = load_settings(cors_origins="https://App.example.com/, http://localhost:3000, *")
    assert settings.cors_origins == ["https://app.example.com", "http://localhost:3000", "*"]


@pytest.mark.parametrize(
    "origin",
    ["app.example.com", "https://app.example.com/path", "ftp://x.io", "https://u:p@x.io"],
)
def test_bad_cors_origin_names_the_variable(origin: str) -> None:
    """An entry that is not an origin stops the service with a line naming MP_CORS_ORIGINS."""
    with pytest.raises(SettingsError, match="MP_CORS_ORIGINS"):
        load_settings(cors_origins=origin)


def test_wildcard_subdomain_origin_is_accepted() -> None:
    """`scheme://*.domain` allows the subdomains of a domain."""
    assert load_settings(cors_origins="https://*.example.com").cors_origins == [
        "https://*.example.com"
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [("rate_limit_per_minute", -1), ("rate_limit_burst", 0), ("max_body_bytes", -5)],
)
def test_out_of_range_values_are_refused(field: str, value: int) -> None:
    """Negative limits and an empty burst are configuration errors."""
    with pytest.raises(SettingsError, match=f"MP_{field.upper()}"):
        load_settings(**{field: value})


def test_zero_turns_rate_limiting_off() -> None:
    """MP_RATE_LIMIT_PER_MINUTE=0 is valid: limiting off."""
    assert load_settings(rate_limit_per_minute=0).rate_limit_per_minute == 0
