"""Where a request presents its API key: Bearer or X-API-Key, and `?api_key=` for WebSocket."""

from __future__ import annotations

import pytest

from marketpulse_gateway.admission import key_from_headers, presented_key

KEY = "mp_abcd1234_" + "x" * 43


@pytest.mark.parametrize(
    ("authorization", "x_api_key", "found"),
    [
        (f"Bearer {KEY}", None, KEY),
        (f"bearer  {KEY} ", None, KEY),
        (None, KEY, KEY),
        (f"Bearer {KEY}", "other", KEY),  # Authorization wins
        ("Basic dXNlcjpwYXNz", None, None),
        ("Bearer ", None, None),
        (None, "", None),
        (None, None, None),
    ],
)
def test_key_from_headers(
    authorization: str | None, x_api_key: str | None, found: str | None
) -> None:
    """Keys come from `Authorization: Bearer` or `X-API-Key`; other schemes are not keys."""
    assert key_from_headers(authorization, x_api_key) == found


def test_query_key_only_where_asked() -> None:
    """The `api_key` query parameter counts only when the caller passes the query (WS)."""
    assert presented_key({}, None) is None
    assert presented_key({}, {"api_key": KEY}) == KEY
    assert presented_key({"x-api-key": "h"}, {"api_key": KEY}) == "h"
