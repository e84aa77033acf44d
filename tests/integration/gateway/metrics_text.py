"""Reading samples out of a `/metrics` response."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def sample(text: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    """The value of the sample `name` whose labels include `labels`; None when absent."""
    wanted = labels or {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and wanted.items() <= s.labels.items():
                return float(s.value)
    return None


async def l1_hits(http: httpx.AsyncClient) -> float:
    text = (await http.get("/metrics")).text
    return sample(text, "marketpulse_gateway_cache_hits_total", {"layer": "l1"}) or 0.0
