"""Turning an HTTP error answer into a typed ApiError. Pure.

The gateway answers errors as RFC 9457 `application/problem+json`; anything else (a proxy's
HTML page) still becomes an ApiError carrying the status. `Retry-After` is read in both of its
forms, delay-seconds and HTTP-date, as seconds from now.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from marketpulse_client.errors import ApiError, api_error_class

_REASONS = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def problem_error(status: int, headers: Mapping[str, str], body: bytes) -> ApiError:
    problem: dict[str, Any] = {}
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        problem = parsed
    title = _text(problem.get("title")) or _REASONS.get(status, "HTTP error")
    return api_error_class(status)(
        status,
        title,
        _text(problem.get("detail")),
        type=_text(problem.get("type")) or "about:blank",
        retry_after=retry_after_s(headers.get("retry-after")),
        body=problem,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
