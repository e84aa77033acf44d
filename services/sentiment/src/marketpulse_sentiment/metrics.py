"""Prometheus counters of the sentiment service (served when MP_METRICS_PORT is set)."""

from __future__ import annotations

from prometheus_client import Counter

MODEL_REQUESTS = Counter(
    "marketpulse_sentiment_model_requests_total",
    "Requests sent to the model, by outcome (ok, rate_limited, overloaded, timeout, …).",
    ["outcome"],
)
MODEL_TOKENS = Counter(
    "marketpulse_sentiment_model_tokens_total", "Tokens the model provider reported as used."
)
MODEL_SKIPPED = Counter(
    "marketpulse_sentiment_model_skipped_total",
    "Assessments for which the model was not asked or gave no answer, by reason.",
    ["reason"],
)
REJECTED_ANSWERS = Counter(
    "marketpulse_sentiment_rejected_answers_total",
    "Model answers refused by the output contract or the screening rules.",
)
PUBLISHED = Counter(
    "marketpulse_sentiment_published_total",
    "Sentiments published, by provider and whether they were a fallback.",
    ["provider", "fallback"],
)
