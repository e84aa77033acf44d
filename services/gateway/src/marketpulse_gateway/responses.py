"""A data endpoint's HTTP answer: the envelope with its ETag, or 304 when the client has it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from marketpulse_gateway.envelope import Meta, encode_envelope
from marketpulse_gateway.etag import etag_for, not_modified

# Clients may keep a copy but must revalidate each time; with ETags that costs a 304.
CACHE_CONTROL = "no-cache"


def envelope_response(request: Request, data: bytes, meta: Meta) -> Response:
    etag = etag_for(data, stale=meta.stale)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if not_modified(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(encode_envelope(data, meta), media_type="application/json", headers=headers)
