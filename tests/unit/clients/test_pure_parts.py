"""Merge, backoff, liveness, problems, positions and the watch view."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from marketpulse_client.backoff import Backoff
from marketpulse_client.channel import SavedPosition
from marketpulse_client.client import stream_url
from marketpulse_client.errors import AuthenticationError, RateLimited, Unavailable
from marketpulse_client.liveness import ConnectionState, Liveness
from marketpulse_client.merge import apply_delta, canonical
from marketpulse_client.positions import dump_positions, load_positions
from marketpulse_client.problems import problem_error, retry_after_s
from marketpulse_client.rest import Meta, aged_meta
from marketpulse_client.watch_view import age_text, rows


def test_apply_delta_is_a_shallow_merge_that_removes_nulls() -> None:
    before = {"a": 1, "b": {"x": 1}, "c": 3}
    assert apply_delta(before, {"b": {"y": 2}, "c": None, "d": 4}) == {
        "a": 1,
        "b": {"y": 2},
        "d": 4,
    }
    assert before == {"a": 1, "b": {"x": 1}, "c": 3}  # not changed in place
    assert apply_delta({"a": 1}, [1, 2]) == [1, 2]
    assert apply_delta(None, {"a": 1, "b": None}) == {"a": 1}
    assert canonical({"a": None, "b": {"c": None}}) == {"b": {"c": None}}


def test_backoff_is_full_jitter_doubling_to_the_cap_and_resets_when_stable() -> None:
    backoff = Backoff(0.5, 20.0, stable_after_s=10, rng=random.Random(1))
    ceilings = []
    for _ in range(8):
        ceilings.append(backoff.ceiling())
        assert 0 <= backoff.next_delay() <= ceilings[-1]
    assert ceilings == [0.5, 1, 2, 4, 8, 16, 20, 20]
    backoff.connection_ended(3)
    assert backoff.ceiling() == 20
    backoff.connection_ended(10)
    assert backoff.ceiling() == 0.5
    assert backoff.next_delay(retry_after_s=7) >= 7


def test_backoff_delays_are_spread_over_the_whole_window() -> None:
    """Full jitter: a crowd of clients does not come back at one instant."""
    delays = [Backoff(0.5, 20, rng=random.Random(i)).next_delay() for i in range(200)]
    assert min(delays) < 0.1 and max(delays) > 0.4


def test_liveness_marks_stale_after_a_missed_heartbeat_and_dead_after_two() -> None:
    rule = Liveness(heartbeat_s=15, missed=2)
    assert rule.judge(14) is ConnectionState.LIVE
    assert rule.judge(19) is ConnectionState.STALE
    assert rule.judge(29.9) is ConnectionState.STALE
    assert rule.judge(30.1) is ConnectionState.CLOSED
    with pytest.raises(ValueError, match="heartbeat"):
        Liveness(heartbeat_s=0)


def test_problems_become_typed_errors_with_retry_after() -> None:
    body = json.dumps({"type": "urn:x:no-data", "title": "No data yet", "status": 503,
                       "detail": "nothing cached"}).encode()  # fmt: skip
    e = problem_error(503, {"retry-after": "5"}, body)
    assert isinstance(e, Unavailable)
    assert (e.status, e.type, e.title, e.detail, e.retry_after) == (
        503, "urn:x:no-data", "No data yet", "nothing cached", 5.0
    )  # fmt: skip
    assert isinstance(problem_error(429, {}, b""), RateLimited)
    html = problem_error(401, {}, b"<html>")
    assert isinstance(html, AuthenticationError) and html.title == "Unauthorized"
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert retry_after_s("Wed, 01 Jan 2025 00:00:30 GMT", now) == 30
    assert retry_after_s("soon") is None


def test_positions_round_trip_through_json_and_reject_what_is_not_one() -> None:
    saved = {"ticker:bitcoin": SavedPosition("e1", "5-0", {"price": 1})}
    text = json.dumps(dump_positions(saved))
    assert load_positions(text) == saved
    assert load_positions(json.loads(text)) == saved
    with pytest.raises(ValidationError):
        load_positions({"ticker:bitcoin": {"epoch": "e1", "seq": "5-0"}})  # no value
    with pytest.raises(ValueError, match="stream position"):
        load_positions({"ticker:bitcoin": {"epoch": "e1", "seq": "five", "value": 1}})
    # What the gateway would refuse as a whole subscribe, stalling every channel in it.
    with pytest.raises(ValidationError):
        load_positions({"ticker:bitcoin": {"epoch": "e" * 49, "seq": "5-0", "value": 1}})
    with pytest.raises(ValidationError):
        load_positions({"x" * 97: {"epoch": "e1", "seq": "5-0", "value": 1}})


def test_the_stream_url_follows_the_base_url() -> None:
    assert stream_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/v1/stream"
    assert stream_url("https://mp.example/api/") == "wss://mp.example/api/v1/stream"


def test_the_watch_view_shows_values_ages_and_the_connection_state() -> None:
    now = datetime(2025, 1, 1, 0, 1, 5, tzinfo=UTC).timestamp()
    values = {
        "ticker": {"price": 64000.5, "vs_currency": "usd", "change_24h_pct": -1.234,
                   "last_updated": "2025-01-01T00:01:00Z"},
        "indicators": {"values": {"rsi_14": 55.55, "ema_12": None},
                       "computed_at": "2025-01-01T00:00:00.000Z"},
    }  # fmt: skip
    table = {r.label: r for r in rows(values, ConnectionState.RECONNECTING, now)}
    assert table["Price"].value == "64,000.50 USD" and table["Price"].age == "5s"
    assert table["24h change"].value == "-1.23 %"
    assert table["RSI 14"].value == "55.55" and table["RSI 14"].age == "1m 05s"
    assert table["EMA 12"].value == "—"
    assert table["Price"].status == "reconnecting"
    assert table["Sentiment"].status == "waiting"
    assert age_text(7322) == "2h 02m"


def test_a_revalidated_body_ages_every_part_not_only_the_envelope() -> None:
    """A 304 answers with the kept /snapshot body: each part's age is counted from its own
    as_of up to now (a dashboard shows those), and a part with nothing cached stays null."""
    meta = Meta.model_validate(
        {
            "as_of": "2026-01-01T00:00:00Z",
            "age_s": 1.0,
            "parts": {
                "ticker": {"as_of": "2026-01-01T00:00:00Z", "age_s": 1.0},
                "candles": {"as_of": "2025-12-31T23:59:00Z", "age_s": 61.0},
                "sentiment": {"as_of": None, "age_s": None},
            },
        }
    )
    now = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC).timestamp()
    aged = aged_meta(meta, now)
    assert aged.age_s == 30.0
    assert aged.parts is not None
    assert {name: part.age_s for name, part in aged.parts.items()} == {
        "ticker": 30.0,
        "candles": 90.0,
        "sentiment": None,
    }
