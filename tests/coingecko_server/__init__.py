"""A CoinGecko-compatible API on loopback for the ingestor's tests (see server.py)."""
