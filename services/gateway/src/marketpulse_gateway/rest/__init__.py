"""The REST API: the edge (the ASGI entry point and its hot path), the in-process cache (L1)
over Redis (L2), the envelope and ETags, and the resource routes with their OpenAPI."""
