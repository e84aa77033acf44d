"""The stream's AsyncAPI 3.0 document, built from the protocol's own pydantic models. Pure.

Every client op and server frame schema is the JSON Schema of the model protocol.py parses
or encodes (client ops as validated, server frames as serialised), and every channel value
is the schema of the event model its producer publishes, so the document cannot drift from
what the gateway does. Served at `/asyncapi.json`; the TypeScript client's frame types are
generated from it.

The document describes the gateway: it *receives* the client's ops on `/v1/stream` and
*sends* frames. A subscribe is answered per channel by `subscribed` and then a `snapshot`
(or, when a resume is honoured, the missed `delta`s); `ping` by `pong`.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.responses import Response

from marketpulse_common.events import Candle, Forecast, Indicators, Sentiment, Ticker
from marketpulse_common.keys import ChannelKind
from marketpulse_gateway.stream.protocol import (
    CLOSE_POLICY,
    CLOSE_SERVICE_RESTART,
    CLOSE_SLOW,
    CLOSE_TOO_BIG,
    Delta,
    ErrorFrame,
    Heartbeat,
    Ping,
    Pong,
    SnapshotFrame,
    Subscribe,
    Subscribed,
    Unsubscribe,
)

ASYNCAPI_VERSION = "3.0.0"
ASYNCAPI_PATH = "/asyncapi.json"
SCHEMA_REF = "#/components/schemas/{model}"
# What each channel kind's snapshot `data` is (a delta carries some of its fields).
CHANNEL_VALUES: dict[ChannelKind, type[BaseModel]] = {
    ChannelKind.TICKER: Ticker,
    ChannelKind.CANDLES: Candle,
    ChannelKind.INDICATORS: Indicators,
    ChannelKind.FORECAST: Forecast,
    ChannelKind.SENTIMENT: Sentiment,
}
# message name → (model, what it is); client ops first.
CLIENT_OPS: dict[str, tuple[type[BaseModel], str]] = {
    "subscribe": (Subscribe, "Subscribe to channels, optionally resuming each from {epoch, seq}"),
    "unsubscribe": (Unsubscribe, "Stop receiving channels (not acknowledged)"),
    "ping": (Ping, "Ask for a pong"),
}
SERVER_FRAMES: dict[str, tuple[type[BaseModel], str]] = {
    "subscribed": (Subscribed, "A subscribe was accepted for one channel"),
    "snapshot": (SnapshotFrame, "The channel's whole cached value"),
    "delta": (Delta, "The changed top-level fields (null: removed) after prev_seq"),
    "heartbeat": (Heartbeat, "Sent every 15 s; two missed mean the connection is dead"),
    "pong": (Pong, "The answer to ping"),
    "error": (ErrorFrame, "A refused op or channel; the connection stays open"),
}
CLOSE_CODES = {
    CLOSE_SERVICE_RESTART: "server restarting (shutdown)",
    CLOSE_POLICY: "policy: repeated refused messages",
    CLOSE_TOO_BIG: "a client message over MP_WS_MAX_MESSAGE_BYTES",
    CLOSE_SLOW: "too slow: the client's queue overflowed (MP_WS_QUEUE_BYTES)",
}
DESCRIPTION = """\
Live updates of the marketpulse cache over one WebSocket with many logical channels
(`ticker:{asset}`, `candles:{asset}:{tf}`, `indicators:{asset}:{tf}`,
`forecast:{asset}:{tf}`, `sentiment:{asset}`). JSON text frames.

Apply a `snapshot`, then each `delta` whose `prev_seq` is the `seq` you hold (a shallow
merge; a null field is removed). A `delta` whose `prev_seq` is not yours means a gap, and a
new `epoch` means the history was lost: subscribe again without `resume`. After a drop,
subscribe with `resume: {channel: {epoch, seq}}`: `recovered: true` is followed by the
missed deltas, `recovered: false` by a fresh snapshot. `x-channel-values` names the schema
of each channel kind's value; `x-close-codes` the close codes the server uses.
"""


def asyncapi_document(*, keys_required: bool, version: str) -> dict[str, Any]:
    """The whole document; `version` is the API's (the gateway's OpenAPI `info.version`)."""
    schemas = _schemas()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": "marketpulse stream", "version": version, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {
            "gateway": {
                "host": "{host}",
                "protocol": "ws",
                "description": "The gateway's address (wss behind TLS)",
                "variables": {"host": {"default": "127.0.0.1:8000"}},
                "security": [{"$ref": f"#/components/securitySchemes/{name}"} for name in SCHEMES],
            }
        },
        "channels": {"stream": _channel()},
        "operations": _operations(),
        "components": {
            "messages": _messages(),
            "schemas": schemas,
            "securitySchemes": _security(keys_required),
        },
        "x-channel-values": {
            kind.value: {"$ref": SCHEMA_REF.format(model=model.__name__)}
            for kind, model in CHANNEL_VALUES.items()
        },
        "x-close-codes": {str(code): meaning for code, meaning in CLOSE_CODES.items()},
    }


def _schemas() -> dict[str, Any]:
    # Client ops as the server validates them; frames and values as they are serialised.
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (model, "validation") for model, _ in CLIENT_OPS.values()
    ]
    models += [(model, "serialization") for model, _ in SERVER_FRAMES.values()]
    models += [(model, "serialization") for model in CHANNEL_VALUES.values()]
    _, definitions = models_json_schema(models, ref_template=SCHEMA_REF)
    return dict(definitions["$defs"])


def _channel() -> dict[str, Any]:
    return {
        "address": "/v1/stream",
        "title": "The stream",
        "messages": {
            name: {"$ref": f"#/components/messages/{name}"}
            for name in (*CLIENT_OPS, *SERVER_FRAMES)
        },
        "bindings": {
            "ws": {
                "query": {
                    "type": "object",
                    "properties": {
                        "api_key": {
                            "type": "string",
                            "description": "The API key, for browsers (they cannot set headers)",
                        }
                    },
                }
            }
        },
    }


def _messages() -> dict[str, Any]:
    return {
        name: {
            "name": name,
            "title": model.__name__,
            "summary": summary,
            "payload": {"$ref": SCHEMA_REF.format(model=model.__name__)},
        }
        for name, (model, summary) in (CLIENT_OPS | SERVER_FRAMES).items()
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/channels/stream/messages/{name}"}


def _operations() -> dict[str, Any]:
    channel = {"$ref": "#/channels/stream"}
    return {
        "receiveSubscribe": {
            "action": "receive",
            "channel": channel,
            "summary": "A client subscribes (and may resume)",
            "messages": [_ref("subscribe")],
            "reply": {
                "channel": channel,
                "messages": [_ref(n) for n in ("subscribed", "snapshot", "delta", "error")],
            },
        },
        "receiveUnsubscribe": {
            "action": "receive",
            "channel": channel,
            "messages": [_ref("unsubscribe")],
        },
        "receivePing": {
            "action": "receive",
            "channel": channel,
            "messages": [_ref("ping")],
            "reply": {"channel": channel, "messages": [_ref("pong")]},
        },
        "sendUpdates": {
            "action": "send",
            "channel": channel,
            "summary": "Each update of a subscribed channel, in seq order",
            "messages": [_ref("delta"), _ref("snapshot")],
        },
        "sendHeartbeat": {
            "action": "send",
            "channel": channel,
            "messages": [_ref("heartbeat")],
        },
        "sendError": {"action": "send", "channel": channel, "messages": [_ref("error")]},
    }


SCHEMES = ("apiKeyHeader", "bearer", "apiKeyQuery")


def _security(keys_required: bool) -> dict[str, Any]:
    when = "required" if keys_required else "optional, but checked when sent"
    return {
        "apiKeyHeader": {
            "type": "httpApiKey",
            "name": "X-API-Key",
            "in": "header",
            "description": f"API key ({when})",
        },
        "bearer": {"type": "http", "scheme": "bearer", "description": f"API key ({when})"},
        "apiKeyQuery": {
            "type": "httpApiKey",
            "name": "api_key",
            "in": "query",
            "description": f"API key for browsers ({when})",
        },
    }


def install_asyncapi(app: FastAPI, *, keys_required: bool, version: str) -> None:
    """Serve the document at ASYNCAPI_PATH, built once (like FastAPI's /openapi.json)."""
    body = orjson.dumps(asyncapi_document(keys_required=keys_required, version=version))

    async def asyncapi() -> Response:
        return Response(body, media_type="application/json")

    app.add_api_route(ASYNCAPI_PATH, asyncapi, methods=["GET"], include_in_schema=False)
