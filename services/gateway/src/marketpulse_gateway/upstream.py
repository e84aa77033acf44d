"""The upstream source as the ingestor last reported it (its `mp:status:<source>` hash).

The gateway only reads this record: it shows operators, on /readyz and /metrics, whether
the data it serves is being refreshed (a 429 pause or an open circuit means it is not),
without ever calling the upstream itself. Parsing is lenient: a field that is missing or
unreadable is reported as unknown, never as an error.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict


class UpstreamReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str
    circuit: str | None = None
    paused_until: float | None = None
    last_success_at: float | None = None
    last_error_at: float | None = None
    last_error_kind: str | None = None
    calls_window: int | None = None
    calls_per_window_limit: int | None = None
    calls_month: int | None = None
    monthly_limit: int | None = None
    updated_at: float | None = None


def _number(fields: Mapping[str, str], name: str) -> float | None:
    try:
        return float(fields[name])
    except (KeyError, ValueError):
        return None


def _count(fields: Mapping[str, str], name: str) -> int | None:
    value = _number(fields, name)
    return None if value is None else int(value)


def parse_status(source: str, fields: Mapping[str, str]) -> UpstreamReport | None:
    """The report in a status hash (None when the ingestor has written none yet)."""
    if not fields:
        return None
    paused = _number(fields, "paused_until")
    return UpstreamReport(
        source=source,
        circuit=fields.get("circuit") or None,
        paused_until=paused if paused else None,
        last_success_at=_number(fields, "last_success_at"),
        last_error_at=_number(fields, "last_error_at"),
        last_error_kind=fields.get("last_error_kind") or None,
        calls_window=_count(fields, "calls_window"),
        calls_per_window_limit=_count(fields, "calls_per_window_limit"),
        calls_month=_count(fields, "calls_month"),
        monthly_limit=_count(fields, "monthly_limit"),
        updated_at=_number(fields, "updated_at"),
    )


def upstream_problems(report: UpstreamReport | None, now: float) -> list[str]:
    """Why the served data is not being refreshed right now (empty: nothing known wrong)."""
    if report is None:
        return []
    problems = []
    if report.paused_until is not None and report.paused_until > now:
        wait = round(report.paused_until - now)
        problems.append(f"{report.source} asked us to wait (429); calls resume in {wait} s")
    if report.circuit == "open":
        problems.append(f"{report.source} is failing ({report.last_error_kind}); circuit open")
    return problems
