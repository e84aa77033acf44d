"""The marketpulse gateway: REST and WebSocket over the shared cache.

Its parts are stream/ (the live WebSocket stream), access/ (keys, rate limits, CORS) and
rest/ (the REST API and its edge). The root composes them (app.py, runtime.py,
operations.py, __main__.py) and holds the vocabulary they share (catalog, errors, channel
events, admission, problems, metrics, freshness, readiness, upstream, store health); a part
imports only itself and that vocabulary (tests/unit/test_architecture.py).
"""
