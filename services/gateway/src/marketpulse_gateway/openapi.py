"""The OpenAPI document, adjusted to say what this deployment really accepts and returns.

FastAPI documents every extra response as application/json and the timeframe parameter as
the whole `Timeframe` enum; here errors become application/problem+json and `tf` is narrowed
to the timeframes this gateway serves (MP_TIMEFRAMES).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from marketpulse_gateway.catalog import Catalog
from marketpulse_gateway.problems import PROBLEM_MEDIA_TYPE


def install_openapi(app: FastAPI, catalog: Catalog) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = refine(schema, [tf.value for tf in catalog.timeframes])
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
