"""What evaluation reads of the forecast ledger, and how a process keeps it parsed. No I/O.

A stored Forecast is ~3 kB of JSON, mostly its explanation, training and window records;
scoring needs a dozen numbers of it. `LedgerEntry` parses just those (extra fields are
skipped), about six times faster than the full model, and only the newest forecast is
read in full, for its coefficients (drift weighs features by them).

Ledger fields are written once and never change while the ledger exists (first writer
wins; nothing older than the oldest kept entry is ever written again), so a process may
keep what it parsed, keyed by candle, and fetch only candles it has not seen. The one way
a field's content can change is the ledger disappearing (expired, Redis flushed) and being
recorded anew; every field of a re-created ledger was written after it was, so one
cached field that is still stored but reads differently proves the cache stale: `probe`
picks it, `reconcile` drops everything when it differs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from marketpulse_common.events import Forecast, ForecastSource


class _Lean(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class BaselineEntry(_Lean):
    p_up: float = Field(ge=0, le=1)
    expected_return: float


class BaselinesEntry(_Lean):
    climatology: BaselineEntry
    persistence: BaselineEntry


class LedgerEntry(_Lean):
    """The fields of a recorded Forecast that scoring reads."""

    origin: int
    horizon: int = Field(ge=1)
    resolves_at: int
    p_up: float = Field(ge=0, le=1)
    expected_return: float
    model_version: str
    source: ForecastSource
    baselines: BaselinesEntry

    @classmethod
    def of(cls, forecast: Forecast) -> LedgerEntry:
        """The entry of a Forecast already in hand (no JSON round trip)."""
        b = forecast.baselines
        return cls(
            origin=forecast.origin,
            horizon=forecast.horizon,
            resolves_at=forecast.resolves_at,
            p_up=forecast.p_up,
            expected_return=forecast.expected_return,
            model_version=forecast.model_version,
            source=forecast.source,
            baselines=BaselinesEntry(
                climatology=BaselineEntry(
                    p_up=b.climatology.p_up, expected_return=b.climatology.expected_return
                ),
                persistence=BaselineEntry(
                    p_up=b.persistence.p_up, expected_return=b.persistence.expected_return
                ),
            ),
        )


@dataclass(frozen=True, slots=True)
class Ledger:
    """The recorded forecasts as evaluation reads them.

    `newest` is the newest forecast at or before the candle being evaluated, in full;
    evaluation uses its coefficients only when it is that candle's newest entry.
    """

    entries: Sequence[LedgerEntry]
    newest: Forecast | None = None

    @classmethod
    def of(cls, records: Sequence[Forecast], as_of: int | None = None) -> Ledger:
        """The ledger of full records, e.g. in tests (`as_of` None: the newest of all)."""
        eligible = [r for r in records if as_of is None or r.origin <= as_of]
        newest = max(eligible, key=lambda r: r.origin, default=None)
        return cls(entries=[LedgerEntry.of(r) for r in records], newest=newest)


def influence_of(forecast: Forecast) -> dict[str, float]:
    """Each feature's coefficient in the model that made `forecast`."""
    return {c.feature: c.coefficient for c in forecast.explanation.contributions}


@dataclass(slots=True)
class Parsed:
    """One asset/timeframe's parsed ledger in a process: candle → (digest of the stored
    JSON, its entry, or None for a record that could not be read)."""

    by_origin: dict[int, tuple[int, LedgerEntry | None]] = field(default_factory=dict)

    def probe(self) -> int | None:
        """The cached candle whose stored JSON is re-read to check the cache still holds."""
        return max(self.by_origin, default=None)

    def reconcile(self, stored: Collection[int], probe_raw: str | None) -> Parsed:
        """What of the cache still stands, given the stored candles and the probe's JSON."""
        probe = self.probe()
        if probe is not None and (
            probe_raw is None or digest(probe_raw) != self.by_origin[probe][0]
        ):
            return Parsed()  # the ledger was re-created: nothing cached can be trusted
        return Parsed({t: v for t, v in self.by_origin.items() if t in stored})

    def missing(self, stored: Collection[int]) -> list[int]:
        return sorted(t for t in stored if t not in self.by_origin)

    def add(self, origin: int, raw: str, entry: LedgerEntry | None) -> None:
        self.by_origin[origin] = (digest(raw), entry)

    def entries(self) -> list[LedgerEntry]:
        """Every readable entry, oldest candle first."""
        return [e for _, (_, e) in sorted(self.by_origin.items()) if e is not None]


def digest(raw: str) -> int:
    # Python's str hash: 64 bits, salted per process, which is all an in-process cache needs.
    return hash(raw)
