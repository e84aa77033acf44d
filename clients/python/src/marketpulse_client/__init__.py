"""marketpulse-client: the marketpulse gateway's REST API and resumable live stream.

async with MarketPulse("http://127.0.0.1:8000") as mp:
    async for update in mp.updates("ticker:bitcoin"):
        print(update.value["price"])
"""

from marketpulse_client.backoff import Backoff
from marketpulse_client.book import Update
from marketpulse_client.client import MarketPulse, Subscription
from marketpulse_client.diagnostics import Diagnostics
from marketpulse_client.errors import (
    ApiError,
    AuthenticationError,
    ChannelError,
    ClientClosed,
    InvalidRequest,
    MarketPulseError,
    NotFound,
    RateLimited,
    StreamStopped,
    TransportError,
    Unavailable,
)
from marketpulse_client.liveness import ConnectionState
from marketpulse_client.rest import Envelope, Meta

__all__ = [
    "ApiError",
    "AuthenticationError",
    "Backoff",
    "ChannelError",
    "ClientClosed",
    "ConnectionState",
    "Diagnostics",
    "Envelope",
    "InvalidRequest",
    "MarketPulse",
    "MarketPulseError",
    "Meta",
    "NotFound",
    "RateLimited",
    "StreamStopped",
    "Subscription",
    "TransportError",
    "Unavailable",
    "Update",
]
