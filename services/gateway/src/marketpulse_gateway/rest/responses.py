"""A data endpoint's HTTP answer: the envelope with its ETag, or 304 when the client has it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from marketpulse_gateway.rest.envelope import CACHE_CONTROL, ReadyBody, encode_envelope
from marketpulse_gateway.rest.etag import etag_for, not_modified


def ready_response(request: Request, ready: ReadyBody, now: float, *, stale: bool) -> Response:
    """Answer with a ready body, as the hot path would (`stale`: serving last-known-good)."""
    rendered = ready.render(now, force_stale=stale)
    return _answer(request, rendered.body, rendered.etag.decode())


def composed_response(request: Request, data: bytes, meta: dict[str, object]) -> Response:
    """Answer with a body composed for this request (lists, snapshots)."""
    parts = meta.get("parts")
    stale_parts = (
        [name for name, part in parts.items() if part["stale"]] if isinstance(parts, dict) else []
    )
    etag = etag_for(data, stale=bool(meta["stale"]), stale_parts=stale_parts)
    return _answer(request, encode_envelope(data, meta), etag)


def _answer(request: Request, body: bytes, etag: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if not_modified(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
