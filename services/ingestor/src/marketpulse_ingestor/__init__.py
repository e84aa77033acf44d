"""marketpulse ingestor service: market data from a source into Redis, on a shared schedule.

The root is source-agnostic (the MarketSource seam, scheduling, refreshing, the candle cache,
the upstream call budget); each source lives in its own subpackage: `coingecko/`, `simulated/`.
"""
