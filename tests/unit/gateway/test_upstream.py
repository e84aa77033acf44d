"""Reading the ingestor's upstream status record: lenient parsing, and what counts as trouble."""

from __future__ import annotations

from marketpulse_gateway.upstream import parse_status, upstream_problems

RECORD = {
    "source": "coingecko",
    "circuit": "closed",
    "paused_until": "0",
    "last_success_at": "1000.5",
    "calls_window": "4",
    "calls_per_window_limit": "5",
    "calls_month": "120",
    "monthly_limit": "",
    "updated_at": "1001",
}


def test_a_record_is_parsed_and_blank_or_bad_fields_are_unknown() -> None:
    """Numbers are read; a blank monthly limit or garbage is None, not an error."""
    report = parse_status("coingecko", {**RECORD, "calls_month": "many"})
    assert report is not None
    assert (report.calls_window, report.calls_per_window_limit) == (4, 5)
    assert report.monthly_limit is None
    assert report.calls_month is None
    assert report.paused_until is None
    assert report.last_success_at == 1000.5


def test_no_record_means_nothing_known() -> None:
    """Before the ingestor writes anything there is no report and no problem."""
    assert parse_status("coingecko", {}) is None
    assert upstream_problems(None, now=0) == []


def test_a_pause_is_a_problem_only_until_it_ends() -> None:
    """A 429 pause counts while it lasts; a past pause does not."""
    report = parse_status("coingecko", {**RECORD, "paused_until": "2000"})
    assert upstream_problems(report, now=1900) == [
        "coingecko asked us to wait (429); calls resume in 100 s"
    ]
    assert upstream_problems(report, now=2001) == []


def test_an_open_circuit_is_a_problem() -> None:
    """An open circuit is reported with the kind of the last error."""
    report = parse_status(
        "coingecko", {**RECORD, "circuit": "open", "last_error_kind": "server_error"}
    )
    assert upstream_problems(report, now=0) == ["coingecko is failing (server_error); circuit open"]
