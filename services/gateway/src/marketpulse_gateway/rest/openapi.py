"""The OpenAPI document, adjusted to say what this deployment really accepts and returns.

FastAPI documents every extra response as application/json and the timeframe parameter as
the whole `Timeframe` enum; here errors become application/problem+json, `tf` is narrowed
to the timeframes this gateway serves (MP_TIMEFRAMES), `asset` carries the served assets as
examples, and the data endpoints declare the API key schemes (optional unless
MP_API_KEYS_REQUIRED) and what the edge (rest/edge.py) answers before any route runs: 304
to a matching `If-None-Match`, 401, 429 and 503, each with the headers it carries (`ETag`,
`WWW-Authenticate`, `Retry-After`). tests/hostile/test_openapi_fuzz.py holds the gateway to
every word of it.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.problems import PROBLEM_MEDIA_TYPE, Problem
from marketpulse_gateway.rest.edge import OPERATIONS_PATHS

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "`mp_<id>_<secret>`"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def install_openapi(app: FastAPI, catalog: Catalog, *, keys_required: bool) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            refine(schema, [tf.value for tf in catalog.timeframes], list(catalog.assets))
            app.openapi_schema = declare_security(schema, keys_required=keys_required)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]  # FastAPI's documented override


_PROBLEM_REF = {"$ref": f"#/components/schemas/{Problem.__name__}"}
_STRING = {"type": "string"}
_SECONDS = {"type": "string", "pattern": "^[0-9]+$"}
_ETAG = {"description": "Weak entity tag of the data (and its stale flag).", "schema": _STRING}
_CACHE_CONTROL = {"description": "`no-cache`: revalidate with If-None-Match.", "schema": _STRING}
_RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": _SECONDS}
# Request header of every data endpoint: the ETag a client holds.
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag from an earlier response (or `*`): 304 while it still matches.",
    "schema": _STRING,
}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
    }
    if headers:
        response["headers"] = headers
    return response


# What the edge answers for any guarded path, before a route runs (rest/edge.py, access/).
EDGE_RESPONSES: dict[str, dict[str, Any]] = {
    "304": {
        "description": "Not modified: If-None-Match names the current ETag. No body.",
        "headers": {"ETag": {**_ETAG, "required": True}, "Cache-Control": _CACHE_CONTROL},
    },
    "401": _problem(
        "API key missing (when required), unknown or revoked.",
        {"WWW-Authenticate": {"required": True, "schema": _STRING}},
    ),
    "429": _problem(
        "Over the rate limit; see Retry-After.", {"Retry-After": {**_RETRY_AFTER, "required": True}}
    ),
    "503": _problem(
        "No data yet, or the cache is down; see Retry-After.",
        {"Retry-After": {**_RETRY_AFTER, "required": True}},
    ),
}


def refine(schema: dict[str, Any], timeframes: list[str], assets: list[str]) -> dict[str, Any]:
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            parameters = operation.get("parameters", [])
            _narrow_timeframe(parameters, timeframes)
            _example_assets(parameters, assets)
            _problem_media_type(operation.get("responses", {}))
            if path not in OPERATIONS_PATHS:
                _edge_answers(operation)
    return schema


def _revalidate_link(operation: dict[str, Any]) -> dict[str, Any]:
    """The same request again with the ETag the answer carried: 304 while nothing changed."""
    parameters = {
        f"{p['in']}.{p['name']}": f"$request.{p['in']}.{p['name']}"
        for p in operation.get("parameters", [])
        if p["in"] in ("path", "query") and p.get("required")
    }
    return {
        "operationId": operation["operationId"],
        "parameters": {**parameters, "header.If-None-Match": "$response.header.ETag"},
        "description": "Revalidate: the same request with If-None-Match set to this ETag.",
    }


def _example_assets(parameters: list[dict[str, Any]], assets: list[str]) -> None:
    for parameter in parameters:
        if parameter.get("name") == "asset" and parameter.get("in") == "path" and assets:
            # Any well-formed id is accepted (404 when not served); the served ones are examples.
            parameter["example"] = assets[0]
            parameter["schema"]["examples"] = assets


def _edge_answers(operation: dict[str, Any]) -> None:
    # Copies: each operation owns its part of the document.
    operation.setdefault("parameters", []).append(copy.deepcopy(IF_NONE_MATCH))
    responses = operation["responses"]
    ok = responses.get("200")
    if ok is not None:
        ok["headers"] = copy.deepcopy(EDGE_RESPONSES["304"]["headers"])
        ok["links"] = {"revalidate": _revalidate_link(operation)}
    for status, response in EDGE_RESPONSES.items():
        if status in responses:
            responses[status]["headers"] = copy.deepcopy(response.get("headers", {}))
        else:
            responses[status] = copy.deepcopy(response)


def _narrow_timeframe(parameters: list[dict[str, Any]], timeframes: list[str]) -> None:
    for parameter in parameters:
        if parameter.get("name") == "tf" and parameter.get("in") == "query":
            # OpenAPI 3.1 allows keywords beside $ref: the served subset of Timeframe.
            parameter["schema"]["enum"] = timeframes


def _problem_media_type(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        content = response.get("content", {})
        if int(status) >= 400 and "application/json" in content:
            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")


def declare_security(schema: dict[str, Any], *, keys_required: bool) -> dict[str, Any]:
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    # An empty requirement makes the key optional (OpenAPI 3.1 §4.8.30).
    options: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
    if not keys_required:
        options.append({})
    for path, item in schema.get("paths", {}).items():
        if path not in OPERATIONS_PATHS:
            for operation in item.values():
                operation["security"] = options
    return schema
