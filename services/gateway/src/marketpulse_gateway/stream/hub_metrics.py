"""The WebSocket stream's side of the gateway metrics (metrics.GatewayMetrics): what the hub
reports."""

from __future__ import annotations

from marketpulse_gateway.metrics import GatewayMetrics
from marketpulse_gateway.stream.protocol import CLOSE_POLICY, CLOSE_SLOW, CLOSE_TOO_BIG

# The `reason` label of ws_clients_dropped per close code the server chooses; 1012 (the
# gateway shutting down) is not a drop.
DROP_REASONS = {CLOSE_SLOW: "slow", CLOSE_POLICY: "policy", CLOSE_TOO_BIG: "too_big"}


class StreamMetrics:
    """A HubObserver feeding ws_messages_sent, ws_clients_dropped and ws_delivery_lag."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._lag = metrics.ws_delivery_lag
        self._sent = metrics.ws_messages_sent
        self._dropped = {
            code: metrics.ws_clients_dropped.labels(r) for code, r in DROP_REASONS.items()
        }

    def sent(self, frames: int) -> None:
        if frames:
            self._sent.inc(frames)

    def closed(self, code: int) -> None:
        dropped = self._dropped.get(code)
        if dropped is not None:
            dropped.inc()

    def delivered(self, channel: str, lag_s: float) -> None:
        # By channel kind ("ticker", "indicators", …): a bounded label set.
        self._lag.observe(lag_s if lag_s > 0.0 else 0.0, (channel.partition(":")[0],))
