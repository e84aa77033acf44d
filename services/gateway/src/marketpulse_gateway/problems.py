"""Every HTTP error as RFC 9457 `application/problem+json`, with a detail a person can act on.

The one table below maps the gateway's exceptions to statuses; FastAPI's validation errors
and Starlette's routing errors (404 route, 405) are rendered the same way, and anything
unexpected becomes a 500 problem without internals (the traceback goes to the log).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from marketpulse_common.logs import get_logger
from marketpulse_gateway.admission import Denial, Header
from marketpulse_gateway.errors import (
    GatewayError,
    NoData,
    SentimentOff,
    StoreUnavailable,
    UnknownAsset,
    UnservedTimeframe,
)

log = get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# RFC 9457 wants a URI; a URN names the problem without promising a page behind it.
TYPE_PREFIX = "urn:marketpulse:problem:"


class Problem(BaseModel):
    """RFC 9457 problem details; some problems add extension members (e.g. `errors`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=[f"{TYPE_PREFIX}unknown-asset"])
    title: str
    status: int
    detail: str


@dataclass(frozen=True, slots=True)
class ProblemKind:
    slug: str
    title: str
    status: int
    # Seconds a client should wait before retrying (503): long enough not to hammer a
    # gateway that is waiting on its producers or on Redis, short enough for a dashboard.
    retry_after_s: int | None = None


# First match wins: subclasses before their bases.
_KINDS: dict[type[GatewayError], ProblemKind] = {
    UnknownAsset: ProblemKind("unknown-asset", "Unknown asset", 404),
    SentimentOff: ProblemKind("sentiment-off", "Sentiment is off", 404),
    UnservedTimeframe: ProblemKind("unserved-timeframe", "Timeframe not served", 422),
    NoData: ProblemKind("no-data", "No data yet", 503, retry_after_s=5),
    StoreUnavailable: ProblemKind("store-unavailable", "Cache unavailable", 503, retry_after_s=2),
}
_FALLBACK = ProblemKind("internal-error", "Internal error", 500)

# For the OpenAPI document: what a data endpoint's route may answer besides 200. The edge's
# own answers (304, 401, 429, 503 while keys cannot be checked) are added to every guarded
# operation by rest/openapi.py, with the headers each carries.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "Unknown asset (problem+json)."},
    422: {"model": Problem, "description": "Bad parameter or unserved timeframe (problem+json)."},
    503: {"model": Problem, "description": "No data yet or cache down; see Retry-After."},
}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    body = {"type": TYPE_PREFIX + slug, "title": title, "status": status, "detail": detail}
    return Response(
        orjson.dumps({**body, **extensions}),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def denial_response(denial: Denial, extra_headers: Sequence[Header] = ()) -> Response:
    """The problem+json answer to a request a door refused."""
    response = problem_response(denial.status, denial.slug, denial.title, denial.detail)
    response.raw_headers.extend([*denial.headers, *extra_headers])
    return response


def gateway_problem(error: GatewayError) -> Response:
    kind = next((k for cls, k in _KINDS.items() if isinstance(error, cls)), _FALLBACK)
    headers = {"Retry-After": str(kind.retry_after_s)} if kind.retry_after_s else None
    return problem_response(kind.status, kind.slug, kind.title, str(error), headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _on_gateway_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)


async def _on_gateway_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return gateway_problem(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_describe(error) for error in exc.errors()]
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors) or "invalid request"
    return problem_response(422, "invalid-request", "Invalid request", detail, errors=errors)


def _describe(error: dict[str, Any]) -> dict[str, str]:
    # Never echo the input back: it is untrusted and may be huge.
    return {"location": _location(error.get("loc", ())), "message": str(error.get("msg", ""))}


def _location(loc: Sequence[Any]) -> str:
    if len(loc) >= 2 and loc[0] in ("query", "path", "header", "cookie"):
        return f"{loc[0]} parameter {'.'.join(str(p) for p in loc[1:])!r}"
    return ".".join(str(p) for p in loc) or "request"


async def _on_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    title = _TITLES.get(exc.status_code, "HTTP error")
    return problem_response(exc.status_code, slug, title, str(exc.detail), headers=exc.headers)


_TITLES = {404: "Not found", 405: "Method not allowed"}


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", path=request.url.path, exc_info=exc)
    detail = "The gateway failed to handle this request; the error has been logged."
    return problem_response(500, _FALLBACK.slug, _FALLBACK.title, detail)
