"""Sequence tagging (synced many-to-many: one label per step) with a scikit-learn face.

    from rnnkit.tasks.tag import RNNTagger
    tagger = RNNTagger(epochs=20).fit(sentences, tags)   # lists of token lists and tag lists
    tagger.predict([["The", "cat", "sat"]])  # -> [["DET", "NOUN", "VERB"]]

Inputs are token lists (words, optionally with character features, on by default) or
real-valued ``(T, F)`` arrays (one label per time step, e.g. activity segmentation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rnnkit.errors import DataError
from rnnkit.models import SequenceTagger, SequenceTaggerConfig
from rnnkit.tasks.estimator import RecurrentEstimator, numeric_sequences, random_split, to_targets

TASK = "tag"


def as_step_sequences(X: Any) -> tuple[list, str]:
    """``X`` as token lists (kind ``text``) or ``(T, F)`` float arrays (``series``)."""
    X = list(X)
    if not X:
        raise DataError("X is empty")
    if all(isinstance(x, (list, tuple)) and all(isinstance(t, str) for t in x) for x in X):
        for i, x in enumerate(X):
            if not x:
                raise DataError(f"sentence {i} has no tokens")
        return [list(x) for x in X], "text"
    if any(isinstance(x, str) for x in X):
        raise DataError("a tagger takes token lists (e.g. 'a b'.split()), not strings")
    return numeric_sequences(X), "series"


class RNNTagger(RecurrentEstimator):
    """A BiLSTM (by default) tagger: one label per token or time step.

    Defaults follow the word + character BiLSTM taggers of Plank et al. (2016) and
    Lample et al. (2016): 100-d word embeddings, a character BiLSTM per word, two
    bidirectional layers, dropout 0.33. ``score`` is per-token accuracy; without
    ``X_valid``, ``validation_fraction`` of the sentences are held out for early stopping.
    """

    TASK = TASK
    ITEM_UNIT = "tok"  # one label per token: the loss averages over tokens
    _per_step = True

    def __init__(self, cell: str = "lstm", hidden_size: int = 128, num_layers: int = 2, bidirectional: bool = True,
                 dropout: float = 0.33, zoneout: float = 0.0, embedding_size: int = 100, char_features: bool = True,
                 min_freq: int = 1,
                 lowercase: bool = True, epochs: int = 30, batch_size: int = 32, lr: float = 2e-3,
                 optimizer: str = "adam", weight_decay: float = 0.0, schedule: str = "constant",
                 clip: float | None = 5.0, class_weight: str | None = None, label_smoothing: float = 0.0,
                 early_stopping: int | None = 5, validation_fraction: float = 0.1, max_time: float | None = None,
                 checkpoint_every: int = 0,
                 seed: int = 0, device: str = "auto",
                 precision: str = "fp32", verbose: bool = False, run_dir: str | None = None) -> None:
        self.cell, self.hidden_size, self.num_layers, self.bidirectional = cell, hidden_size, num_layers, bidirectional
        self.dropout, self.embedding_size, self.char_features = dropout, embedding_size, char_features
        self.zoneout = zoneout
        self.min_freq, self.lowercase = min_freq, lowercase
        self.epochs, self.batch_size, self.lr, self.optimizer = epochs, batch_size, lr, optimizer
        self.weight_decay, self.schedule, self.clip, self.class_weight = weight_decay, schedule, clip, class_weight
        self.label_smoothing, self.early_stopping, self.validation_fraction = (
            label_smoothing, early_stopping, validation_fraction)
        self.max_time, self.seed, self.device, self.verbose, self.run_dir = max_time, seed, device, verbose, run_dir
        self.precision = precision
        self.checkpoint_every = checkpoint_every

    def _model_config(self) -> SequenceTaggerConfig:
        text = self.input_kind_ == "text"
        chars = self.encoder_.chars if text else None
        return SequenceTaggerConfig(
            num_tags=len(self.classes_), vocab_size=len(self.encoder_.words) if text else None,
            input_size=None if text else self.n_features_in_, embedding_size=self.embedding_size,
            num_chars=len(chars) if chars is not None else 0, cell=self.cell, hidden_size=self.hidden_size,
            num_layers=self.num_layers, bidirectional=self.bidirectional, dropout=self.dropout,
            zoneout=self.zoneout)

    def _targets(self, items: list, y: Any) -> list[np.ndarray]:
        y = list(y)
        if len(y) != len(items):
            raise DataError(f"X has {len(items)} sequences but y has {len(y)} tag sequences")
        out = []
        for i, (x, tags) in enumerate(zip(items, y)):
            if len(tags) != len(x):
                raise DataError(f"sequence {i} has {len(x)} steps but {len(tags)} tags")
            out.append(to_targets(self.classes_, np.asarray(tags)))
        return out

    def _fit(self, X, y, X_valid=None, y_valid=None, resume: bool = False) -> None:
        """Train on token lists ``X`` (or ``(T, F)`` arrays) and equally long tag lists ``y``."""
        items, kind = as_step_sequences(X)
        self.input_kind_ = kind
        all_tags = [t for tags in y for t in tags] + ([t for tags in y_valid for t in tags] if y_valid else [])
        self.classes_ = np.unique(np.asarray(all_tags))
        if len(self.classes_) < 1:
            raise DataError("y holds no tags")
        if kind == "text":
            self._fit_encoder(items)
        else:
            self.n_features_in_ = items[0].shape[1]
        targets = self._targets(items, y)
        inputs, chars = self._encoded(items, kind)
        valid = None
        if X_valid is not None:
            v_items, v_kind = as_step_sequences(X_valid)
            v_targets = self._targets(v_items, y_valid)
            v_inputs, v_chars = self._encoded(v_items, v_kind)
            valid = (v_inputs, v_targets, v_chars)
        train_batches, valid_batches = self._train_valid_batches(
            inputs, targets, chars, valid,
            lambda t: random_split(len(t), self._effective("validation_fraction"), self.seed))
        torch.manual_seed(self.seed)
        model = SequenceTagger(self._model_config())
        weights = self._class_weights(np.concatenate(list(train_batches.targets))) if self.class_weight else None
        self._train(model, train_batches, valid_batches, weights, resume=resume)

    #: sequences longer than this are tagged in pieces of this many steps, so one huge input
    #: (a corpus on a single line) costs bounded memory; a piece's tags see its own context only
    MAX_PIECE = 1000

    def predict_proba(self, X) -> list[np.ndarray]:
        """One ``(T_i, n_tags)`` array of tag probabilities per sequence."""
        self._check_fitted()
        items, kind = as_step_sequences(X)
        cut = [(i, s) for i, x in enumerate(items) for s in range(0, max(1, len(x)), self.MAX_PIECE)]
        if len(cut) == len(items):
            return self._probabilities(*self._encoded(items, kind))
        pieces = self._probabilities(*self._encoded([items[i][s:s + self.MAX_PIECE] for i, s in cut], kind))
        out: list[list[np.ndarray]] = [[] for _ in items]
        for (i, _), p in zip(cut, pieces):
            out[i].append(p)
        return [np.concatenate(parts) for parts in out]

    def predict(self, X) -> list[list]:
        self._check_fitted()
        return [self.classes_[p.argmax(1)].tolist() for p in self.predict_proba(X)]

    def score(self, X, y) -> float:
        """Per-token accuracy over all sequences."""
        pred = self.predict(X)
        y = list(y)
        if len(y) != len(pred):
            raise DataError(f"X has {len(pred)} sequences but y has {len(y)} tag sequences")
        right = sum(int(np.sum(np.asarray(p) == np.asarray(t))) for p, t in zip(pred, y))
        return right / max(1, sum(len(t) for t in y))


__all__ = ["RNNTagger", "as_step_sequences"]
