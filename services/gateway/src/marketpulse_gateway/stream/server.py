"""How uvicorn serves the stream: options for `uvicorn.run`, with the direct socket when this
uvicorn has what it needs.

The direct socket (direct_socket.py) extends uvicorn's sans-I/O WebSocket protocol and uses
its internals: the attributes `REQUIRED_ATTRIBUTES` and the methods it overrides. They are
what uvicorn 0.54 has, the range services/gateway/pyproject.toml declares. Should the
installed uvicorn lack any of them (another release, or no sans-I/O protocol at all), the
stream is served by uvicorn's own WebSocket protocol and the portable queued socket
(queued_socket.py) instead, and one warning says so at start: slower fan-out, same
behaviour.

Compression is off (`ws_per_message_deflate=False`) either way: a deflated frame differs per
client and costs CPU per client, and deltas are a few hundred bytes.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

import uvicorn

from marketpulse_common.logs import get_logger
from marketpulse_common.settings import Settings

log = get_logger(__name__)

# What the direct socket touches of uvicorn's protocol: attributes the protocol assigns on
# itself, and the methods the subclass overrides (calling uvicorn's own).
REQUIRED_ATTRIBUTES = frozenset(
    {
        "close_sent",
        "close_timer",
        "conn",
        "disconnected",
        "handshake_complete",
        "loop",
        "queue",
        "read_paused",
        "response",
        "scope",
        "transport",
    }
)
REQUIRED_METHODS = ("handle_connect", "send")


def ws_server_options(settings: Settings, *, base: type | None = None) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run`/`uvicorn.Config` that serve the stream as designed.

    `base` is the protocol class the direct socket extends: uvicorn's sans-I/O protocol
    unless a test passes a stand-in to see the fallback.
    """
    options: dict[str, Any] = {
        # Oversized client messages are refused by the protocol itself with 1009.
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_per_message_deflate": False,
    }
    protocol = direct_protocol(base or _uvicorn_sansio_protocol())
    if protocol is not None:
        options["ws"] = protocol
    return options


def direct_protocol(base: type | None) -> type | None:
    """The protocol with the direct socket, or None (and a warning) when `base` lacks what
    it needs."""
    missing = ["the sans-I/O WebSocket protocol"] if base is None else missing_internals(base)
    if missing:
        log.warning(
            "uvicorn lacks what the stream's direct socket needs: WebSocket clients are served "
            "through the portable queued socket (slower fan-out)",
            uvicorn=uvicorn.__version__,
            missing=missing,
        )
        return None
    # Imported only now: on a uvicorn without the sans-I/O protocol it cannot be imported.
    from marketpulse_gateway.stream.direct_socket import DirectWebSocketProtocol

    return DirectWebSocketProtocol


def missing_internals(protocol: type) -> list[str]:
    """What `protocol` lacks of what the direct socket needs; empty when it can be extended.

    Attributes are found where the class (or a base) assigns them on `self`, in its source:
    they exist only on instances, and only once the protocol has run.
    """
    methods = [name for name in REQUIRED_METHODS if not callable(getattr(protocol, name, None))]
    return methods + sorted(REQUIRED_ATTRIBUTES - _assigned_attributes(protocol))


def _assigned_attributes(protocol: type) -> set[str]:
    found: set[str] = set()
    for cls in protocol.__mro__:
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):
            continue  # builtins, or no source shipped: what it assigns cannot be known
        for node in ast.walk(ast.parse(source)):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign | ast.AugAssign)
                else []
            )
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    found.add(target.attr)
    return found


def _uvicorn_sansio_protocol() -> type | None:
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )
    except ImportError:
        return None
    return WebSocketsSansIOProtocol
