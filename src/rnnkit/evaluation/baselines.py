"""Baselines a model must beat, computed on exactly the data the model is scored on."""

from __future__ import annotations

import numpy as np


def unigram_loss(train_ids: np.ndarray, eval_ids: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy (nats/token) of an add-one-smoothed unigram model fitted on ``train_ids``.

    A language model that does not beat this has learned nothing about context.
    """
    counts = np.bincount(np.asarray(train_ids, dtype=np.int64), minlength=vocab_size)
    return unigram_loss_from_counts(counts, eval_ids)


def unigram_loss_from_counts(counts: np.ndarray, eval_ids: np.ndarray) -> float:
    """As :func:`unigram_loss`, from the training token counts (one per vocabulary entry)."""
    smoothed = np.asarray(counts, dtype=np.float64) + 1.0
    log_p = np.log(smoothed / smoothed.sum())
    return float(-log_p[np.asarray(eval_ids, dtype=np.int64)].mean())
