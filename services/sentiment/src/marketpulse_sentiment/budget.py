"""The hourly model budget as arithmetic: windows, reservations, and whether one fits. Pure.

Every request to the model first reserves one call and an upper estimate of its tokens in
the current window; when it returns, the estimate is replaced by the tokens it actually
used. A reservation is admitted only if the window's totals *including it* stay within the
limits, so the budget holds even while requests are in flight on several replicas.

Windows are fixed clock hours (of the Redis server's clock, which all replicas share). Like
any fixed-window budget, two full windows can meet around an hour boundary; the limit is per
window, not per rolling 60 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_S = 3600
# Counters outlive their hour so an operator can still read the previous one.
WINDOW_TTL_S = 2 * WINDOW_S
# What the API adds around a forced tool call (its own tool-use instructions) on top of our
# text, with margin.
TOOL_OVERHEAD_TOKENS = 500


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    calls_per_hour: int
    tokens_per_hour: int


@dataclass(frozen=True, slots=True)
class Usage:
    calls: int
    tokens: int


def window_of(epoch_s: float) -> int:
    """The budget window (hours since the epoch) that `epoch_s` falls in."""
    return int(epoch_s // WINDOW_S)


def estimate_tokens(prompt_bytes: int, max_output_tokens: int) -> int:
    """An upper bound of the tokens one request can use.

    A token of a byte-level tokenizer covers at least one byte of UTF-8, so the prompt's
    byte length bounds its token count whatever the language (English runs near 4 bytes a
    token). The bound is loose, but only while a request is in flight: it is settled to the
    real count as soon as the answer arrives.
    """
    return prompt_bytes + TOOL_OVERHEAD_TOKENS + max_output_tokens


def admits(limits: BudgetLimits, totals: Usage) -> bool:
    """Whether a window whose totals (this reservation included) are `totals` is in budget."""
    return totals.calls <= limits.calls_per_hour and totals.tokens <= limits.tokens_per_hour
