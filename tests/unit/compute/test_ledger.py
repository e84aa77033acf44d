"""The lean ledger entry reads what scoring needs; the per-process cache never serves a
record that is no longer what the ledger stores."""

from __future__ import annotations

from datetime import UTC, datetime

from marketpulse_common.events import Forecast, encode_payload
from marketpulse_compute.forecast_record import RecordContext, forecast_record
from marketpulse_compute.forecaster import ForecastConfig, prepare, walk_forward
from marketpulse_compute.ledger import Ledger, LedgerEntry, Parsed, influence_of
from tests.unit.compute.series import TF, random_walk

CONFIG = ForecastConfig(train_window=60, min_train=20, l2=10.0, refit_every=1)
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def forecasts(count: int = 3, seed: int = 1) -> list[Forecast]:
    history = prepare(random_walk(200, seed=seed), TF.seconds, CONFIG)
    context = RecordContext("bitcoin", TF, CONFIG, "v", NOW)
    points = walk_forward(history, range(200 - count, 200), CONFIG)
    return [forecast_record(history, p, context, "live") for p in points]


def test_an_entry_parsed_from_stored_json_equals_one_taken_from_the_forecast() -> None:
    """The lean parse skips the explanation, window and training, and keeps the rest exact."""
    record = forecasts(1)[0]
    parsed = LedgerEntry.model_validate_json(encode_payload(record))
    assert parsed == LedgerEntry.of(record)
    assert (parsed.origin, parsed.p_up, parsed.source) == (record.origin, record.p_up, "live")
    assert parsed.baselines.persistence.p_up == record.baselines.persistence.p_up


def test_the_ledger_of_records_keeps_the_newest_at_or_before_a_candle_in_full() -> None:
    """`newest` is the latest forecast not after `as_of`; entries keep every record."""
    records = forecasts(3)
    ledger = Ledger.of(records, as_of=records[1].origin)
    assert ledger.newest == records[1]
    assert [e.origin for e in ledger.entries] == [r.origin for r in records]
    assert influence_of(records[1]) == {
        c.feature: c.coefficient for c in records[1].explanation.contributions
    }


def parsed_of(records: list[Forecast]) -> Parsed:
    cache = Parsed()
    for r in records:
        cache.add(r.origin, encode_payload(r), LedgerEntry.of(r))
    return cache


def test_the_cache_keeps_what_is_still_stored_and_asks_for_the_rest() -> None:
    """Trimmed candles leave the cache; new ones are missing; the probe is the newest."""
    records = forecasts(4)
    cache = parsed_of(records[:3])
    assert cache.probe() == records[2].origin
    stored = {r.origin for r in records[1:]}
    kept = cache.reconcile(stored, encode_payload(records[2]))
    assert sorted(kept.by_origin) == [records[1].origin, records[2].origin]
    assert kept.missing(stored) == [records[3].origin]
    assert cache.missing(stored) == [records[3].origin]  # the old cache is left as it was


def test_a_recreated_ledger_empties_the_cache() -> None:
    """The probe reads differently (re-recorded) or is gone: nothing cached is trusted."""
    records = forecasts(3)
    cache = parsed_of(records)
    stored = {r.origin for r in records}
    rewritten = records[2].model_copy(update={"source": "backtest"})
    assert cache.reconcile(stored, encode_payload(rewritten)).by_origin == {}
    assert cache.reconcile(stored - {records[2].origin}, None).by_origin == {}


def test_an_unreadable_record_is_remembered_but_not_scored() -> None:
    """A record that failed to parse stays cached (no re-read, no repeated warning) as None."""
    records = forecasts(2)
    cache = parsed_of(records[:1])
    cache.add(records[1].origin, "{not json", None)
    assert [e.origin for e in cache.entries()] == [records[0].origin]
    assert cache.missing({r.origin for r in records}) == []
