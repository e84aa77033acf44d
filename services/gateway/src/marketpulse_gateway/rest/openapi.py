"""The OpenAPI document, adjusted to say what this deployment really accepts and returns.

FastAPI documents every extra response as application/json and the timeframe parameter as
the whole `Timeframe` enum; here errors become application/problem+json, `tf` is narrowed
to the timeframes this gateway serves (MP_TIMEFRAMES), and the data endpoints declare the
API key schemes (optional unless MP_API_KEYS_REQUIRED).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.problems import PROBLEM_MEDIA_TYPE
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
            refine(schema, [tf.value for tf in catalog.timeframes])
            app.openapi_schema = declare_security(schema, keys_required=keys_required)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]  # FastAPI's documented override


def refine(schema: dict[str, Any], timeframes: list[str]) -> dict[str, Any]:
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            _narrow_timeframe(operation.get("parameters", []), timeframes)
            _problem_media_type(operation.get("responses", {}))
    return schema


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
