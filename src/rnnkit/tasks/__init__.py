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
``Recognizer``             frames (speech, line images) -> text, unaligned (CTC)
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
    "Recognizer": "rnnkit.tasks.recognize",
}
_OTHER = {"Estimator": "rnnkit.tasks.base"}
#: checkpoint task name -> estimator
TASKS = {"classify": "RNNClassifier", "tag": "RNNTagger", "forecast": "Forecaster", "lm": "LanguageModeler",
         "conditioned_lm": "ConditionedGenerator", "translate": "Translator", "music": "MusicModeler",
         "recognize": "Recognizer"}

__all__ = [*ESTIMATORS, *_OTHER, "load", "export"]


def load(path: Any, device: str = "cpu") -> Any:
    """Any rnnkit checkpoint (a saved estimator or a training run's) as its fitted estimator."""
    from rnnkit.errors import CheckpointError
    from rnnkit.training.checkpoint import checkpoint_task

    task = checkpoint_task(path)
    if task not in TASKS:
        raise CheckpointError(f"{path}: a checkpoint without a known task ({task!r}); "
                              f"expected one of {', '.join(TASKS)}")
    return __getattr__(TASKS[task]).load(path, device=device)


def export(source: Any, output: Any = None, format: str = "onnx") -> list:
    """Export a checkpoint path (or a fitted estimator) -> the files written; ``output``
    defaults to the checkpoint's path with ``.onnx``."""
    from pathlib import Path

    from rnnkit.errors import ConfigError

    if isinstance(source, (str, Path)):
        estimator = load(source)
        output = output or Path(source).with_suffix(".onnx")
    else:
        estimator = source
    if output is None:
        raise ConfigError("give the output path of the export")
    return estimator.export(output, format=format)


def __getattr__(name: str) -> Any:
    where = ESTIMATORS.get(name) or _OTHER.get(name)
    if where is None:
        raise AttributeError(f"module 'rnnkit.tasks' has no attribute {name!r}")
    return getattr(importlib.import_module(where), name)
