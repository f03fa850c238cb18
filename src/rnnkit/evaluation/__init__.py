"""Metrics and baselines."""

from rnnkit.evaluation.baselines import unigram_loss, unigram_loss_from_counts
from rnnkit.evaluation.metrics import bits_per_token, perplexity

__all__ = ["perplexity", "bits_per_token", "unigram_loss", "unigram_loss_from_counts"]
