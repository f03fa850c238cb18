"""Tasks: data + model + loss + metrics + prediction for each problem type.

Every trainable family is an :class:`~rnnkit.tasks.base.Estimator` (scikit-learn's
contract; ``fit`` returns ``self``, learned attributes end in ``_``, ``save``/``load``):

=========================  ==========================================================
``RNNClassifier``          many-to-one: series or sentences -> a label
``RNNTagger``              synced many-to-many: a label per step
``Forecaster``             a table of series -> the next ``horizon`` values
``LanguageModeler``        text -> next-token model; generate, perplexity
``ConditionedGenerator``   a label or feature vector -> a sentence
``Translator``             encoder-decoder with attention and beam search
``MusicModeler``           piano rolls -> polyphonic next-step model; MIDI out
=========================  ==========================================================

They are loaded on first use, so ``import rnnkit.tasks`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

ESTIMATORS = {
    "RNNClassifier": "rnnkit.tasks.classify",
    "RNNTagger": "rnnkit.tasks.tag",
    "Forecaster": "rnnkit.tasks.forecast",
    "LanguageModeler": "rnnkit.tasks.lm",
    "ConditionedGenerator": "rnnkit.tasks.conditioned_lm",
    "Translator": "rnnkit.tasks.translate",
    "MusicModeler": "rnnkit.tasks.music",
}
_OTHER = {"Estimator": "rnnkit.tasks.base"}

__all__ = [*ESTIMATORS, *_OTHER]


def __getattr__(name: str) -> Any:
    where = ESTIMATORS.get(name) or _OTHER.get(name)
    if where is None:
        raise AttributeError(f"module 'rnnkit.tasks' has no attribute {name!r}")
    return getattr(importlib.import_module(where), name)
