"""The sentiment settings: defaults that bound cost and time, and one-line errors."""

from __future__ import annotations

from typing import Any

import pytest

from marketpulse_common.errors import SettingsError
from marketpulse_common.settings import load_settings
from marketpulse_sentiment.providers import effective_deadline_s


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("ANTHROPIC_API_KEY", "MP_NEWS_FEEDS", "MP_SENTIMENT_DEADLINE_S"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_bound_cost_and_time() -> None:
    """Out of the box: 10 s requests, 2 retries, a 20 s deadline, 5 min per asset, 60 calls/h."""
    s = load_settings()
    assert (s.anthropic_timeout_s, s.anthropic_max_retries, s.sentiment_deadline_s) == (10, 2, 20)
    assert s.sentiment_min_interval_s == 300
    assert (s.sentiment_hourly_calls, s.sentiment_hourly_tokens) == (60, 150_000)
    assert s.news_feeds == [] and s.news_interval_s == 900


def test_news_feeds_are_a_comma_list_of_http_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """MP_NEWS_FEEDS is split, trimmed and deduplicated."""
    monkeypatch.setenv(
        "MP_NEWS_FEEDS", " https://a.example/rss , http://b.example/atom,https://a.example/rss"
    )
    assert load_settings().news_feeds == ["https://a.example/rss", "http://b.example/atom"]


@pytest.mark.parametrize(
    "feeds", ["ftp://a.example/rss", "file:///etc/passwd", "not a url", "https://"]
)
def test_a_feed_that_is_not_http_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, feeds: str
) -> None:
    """A non-http(s) feed stops the service with a line naming MP_NEWS_FEEDS."""
    monkeypatch.setenv("MP_NEWS_FEEDS", feeds)
    with pytest.raises(SettingsError, match="MP_NEWS_FEEDS"):
        load_settings()


def test_the_deadline_is_capped_to_leave_room_before_a_reclaim() -> None:
    """A deadline near MP_CLAIM_IDLE_MS is shortened, so no replica takes the event mid-call."""
    assert effective_deadline_s(load_settings(sentiment_deadline_s=28)) == pytest.approx(27)
    assert effective_deadline_s(load_settings(sentiment_deadline_s=28, claim_idle_ms=60_000)) == 28
    assert effective_deadline_s(load_settings(claim_idle_ms=1000)) == pytest.approx(0.9)
