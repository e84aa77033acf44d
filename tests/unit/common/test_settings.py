"""Settings come from MP_ variables, and a bad one is named in a single line."""

from __future__ import annotations

import pytest

from marketpulse_common.errors import SettingsError
from marketpulse_common.settings import load_settings
from marketpulse_common.timeframes import Timeframe


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("MP_ASSETS", "MP_TIMEFRAMES", "MP_SIM_SPEED", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MP_SENTIMENT_PROVIDER", raising=False)


def test_defaults_match_the_design() -> None:
    """With nothing set, the documented defaults apply."""
    s = load_settings()
    assert s.assets == ["bitcoin", "ethereum", "solana"]
    assert s.timeframes == [Timeframe.M5, Timeframe.H1, Timeframe.H4, Timeframe.D1]
    assert s.source == "coingecko"
    assert s.sentiment == "heuristic"
    assert s.gateway_port == 8000


def test_comma_lists_are_parsed_trimmed_deduplicated_and_ordered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MP_ASSETS and MP_TIMEFRAMES take comma lists; timeframes sort by length."""
    monkeypatch.setenv("MP_ASSETS", " bitcoin, solana ,bitcoin")
    monkeypatch.setenv("MP_TIMEFRAMES", "1d,5m")
    s = load_settings()
    assert s.assets == ["bitcoin", "solana"]
    assert s.timeframes == [Timeframe.M5, Timeframe.D1]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MP_TIMEFRAMES", "5m,7m"),
        ("MP_ASSETS", "Bitcoin"),
        ("MP_SIM_SPEED", "fast"),
        ("MP_SIM_SPEED", "0"),
        ("MP_COINGECKO_PLAN", "gold"),
        ("MP_GATEWAY_PORT", "70000"),
        ("MP_REDIS_URL", "http://127.0.0.1:6379/0"),
    ],
)
def test_a_bad_value_names_the_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """The error message names the variable and is a single line."""
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"invalid setting {name}:")
    assert "\n" not in message


def test_a_bad_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The error for a secret-bearing setting does not repeat the value given."""
    monkeypatch.setenv("MP_COINGECKO_PLAN", "CG-topsecret-value")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "CG-topsecret-value" not in str(info.value)
    monkeypatch.delenv("MP_COINGECKO_PLAN")
    monkeypatch.setenv("MP_REDIS_URL", "https://:pw-topsecret@redis.example:6379/0")
    with pytest.raises(SettingsError, match="MP_REDIS_URL") as info:
        load_settings()
    assert "pw-topsecret" not in str(info.value)


def test_anthropic_is_the_provider_when_its_key_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """ANTHROPIC_API_KEY switches the default sentiment provider to anthropic."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    s = load_settings()
    assert s.sentiment == "anthropic"
    assert "sk-ant-test" not in repr(s)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("unix:///tmp/redis.sock", "redis:// or rediss://"),
        ("redis://127.0.0.1:7000/2", "only database 0"),
    ],
)
def test_cluster_mode_refuses_a_url_no_cluster_can_serve(
    monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    """MP_REDIS_CLUSTER=true with a socket path or a database other than 0 stops at start."""
    monkeypatch.setenv("MP_REDIS_URL", url)
    monkeypatch.setenv("MP_REDIS_CLUSTER", "true")
    with pytest.raises(SettingsError, match=message) as info:
        load_settings()
    assert str(info.value).startswith("invalid setting MP_REDIS_CLUSTER:")
    monkeypatch.setenv("MP_REDIS_CLUSTER", "false")
    assert load_settings().redis_cluster is False


def test_cluster_mode_is_off_by_default_and_takes_a_node_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MP_REDIS_CLUSTER", raising=False)
    assert load_settings().redis_cluster is False
    monkeypatch.setenv("MP_REDIS_URL", "redis://10.0.0.5:7000")
    monkeypatch.setenv("MP_REDIS_CLUSTER", "true")
    assert load_settings().redis_cluster is True
