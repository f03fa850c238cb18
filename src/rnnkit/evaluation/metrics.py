"""Metrics derived from a mean cross-entropy ``loss`` in nats per token."""

from __future__ import annotations

import math


def perplexity(loss: float) -> float:
    """``exp(loss)``: the effective number of equally likely next tokens."""
    return math.exp(min(loss, 700.0))


def bits_per_token(loss: float) -> float:
    """``loss / ln 2``: bits per character (bpc) for a character model."""
    return loss / math.log(2)
