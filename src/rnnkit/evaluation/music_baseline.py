"""The baseline a polyphonic music model must beat: each key follows its own previous step.

A first-order Markov chain per key, the 88 keys independent: ``P(key on at t | on at t-1)`` and
``P(key on at t | off at t-1)``, counted on the training pieces with add-one (Laplace)
smoothing; the step before a piece's first is silence, as the recurrent model's shifted input
is. Scored like the model: the negative log-likelihood per time step (nats, summed over the
keys) and frame accuracy, ``TP / (TP + FP + FN)`` of the keys whose probability exceeds 1/2
(for music, mostly "hold every key that sounds"). Chorales change slowly, so holding the last
chord is hard to beat on the frame metric; the likelihood says how much better a network
predicts which keys change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

NAME = "each key repeats its own previous step (a Markov chain per key)"


def _pairs(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(previous, current)`` boolean ``(T, 88)`` frames, silence before the first."""
    current = np.asarray(roll) > 0.5
    previous = np.concatenate([np.zeros_like(current[:1]), current[:-1]])
    return previous, current


def markov_key_baseline(train_pieces: Sequence[np.ndarray], test_pieces: Sequence[np.ndarray]) -> dict[str, Any]:
    """``{"name", "nll", "frame_accuracy", "steps"}`` on ``test_pieces`` (``(T, 88)`` rolls)."""
    on_after = np.ones((2, train_pieces[0].shape[1]))  # [previous off/on, key]: add-one counts
    seen = 2.0 * np.ones_like(on_after)
    for roll in train_pieces:
        previous, current = _pairs(roll)
        for state in (0, 1):
            rows = previous == bool(state)
            on_after[state] += (current & rows).sum(0)
            seen[state] += rows.sum(0)
    p_on = on_after / seen
    nll = tp = fp = fn = 0.0
    steps = 0
    for roll in test_pieces:
        previous, current = _pairs(roll)
        p = np.where(previous, p_on[1], p_on[0])
        nll -= float(np.where(current, np.log(p), np.log1p(-p)).sum())
        pred = p > 0.5
        tp += float((pred & current).sum())
        fp += float((pred & ~current).sum())
        fn += float((~pred & current).sum())
        steps += len(roll)
    return {"name": NAME, "nll": nll / steps, "frame_accuracy": tp / max(1.0, tp + fp + fn), "steps": steps}


__all__ = ["markov_key_baseline", "NAME"]
