"""Sequence classification (many-to-one) through the shared trainer, with a scikit-learn face.

    from rnnkit.tasks.classify import RNNClassifier
    clf = RNNClassifier(hidden_size=64, epochs=30).fit(X_train, y_train)   # X: (n, T, C), list of arrays, or strings
    clf.predict(X_test); clf.predict_proba(X_test); clf.score(X_test, y_test)
"""

from __future__ import annotations

import inspect
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from rnnkit.data import Vocab
from rnnkit.data.sequences import SequenceBatches
from rnnkit.data.vocab import UNK
from rnnkit.errors import DataError
from rnnkit.evaluation.classification import classification_metrics
from rnnkit.models import SequenceClassifier, SequenceClassifierConfig
from rnnkit.training import Trainer, TrainerConfig, load_checkpoint
from rnnkit.training.model_io import PREFIX
from rnnkit.training.optim import OptimConfig

TASK = "classify"
PAD = "<pad>"


def stratified_split(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, valid)`` with about ``fraction`` of each class in valid (at least one
    per class that has two or more examples)."""
    rng = np.random.default_rng(seed)
    train, valid = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * fraction))
        k = min(max(k, 1 if len(idx) > 1 else 0), len(idx) - 1)
        valid.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(valid, dtype=np.int64))


def as_sequences(X: Any) -> tuple[list[np.ndarray] | list[str], str]:
    """Normalise ``X`` to a list of ``(T, C)`` float arrays (kind ``series``) or strings (``text``)."""
    if isinstance(X, np.ndarray) and X.dtype.kind in "fiu":
        if X.ndim == 2:
            X = X[:, :, None]
        if X.ndim != 3:
            raise DataError(f"X must be (n, time, features) or (n, time), got shape {X.shape}")
        return [np.asarray(x, dtype=np.float32) for x in X], "series"
    X = list(X)
    if not X:
        raise DataError("X is empty")
    if all(isinstance(x, str) for x in X):
        return X, "text"
    out = []
    for i, x in enumerate(X):
        a = np.asarray(x, dtype=np.float32)
        a = a[:, None] if a.ndim == 1 else a
        if a.ndim != 2 or len(a) == 0:
            raise DataError(f"sequence {i} must be a non-empty (time, features) array, got shape {a.shape}")
        if np.isnan(a).any():
            raise DataError(f"sequence {i} contains NaN; fill or drop missing values first")
        out.append(a)
    if len({a.shape[1] for a in out}) != 1:
        raise DataError("all sequences must have the same number of features")
    return out, "series"


class ClassificationTask:
    """Padded batches with lengths; no state carries between independent sequences."""

    carries_state = False

    def __init__(self, model, train: SequenceBatches, valid: SequenceBatches, meta: dict,
                 class_weights: torch.Tensor | None = None, label_smoothing: float = 0.0) -> None:
        self.model, self.train, self.valid, self._meta = model, train, valid, meta
        self.class_weights, self.label_smoothing = class_weights, label_smoothing

    def train_batches(self, epoch: int):
        return self.train.for_epoch(epoch)

    def _loss(self, model, batch):
        device = next(model.parameters()).device
        x, lengths, y = batch
        logits = model(x.to(device), lengths)
        w = None if self.class_weights is None else self.class_weights.to(device)
        return F.cross_entropy(logits.float(), y.to(device), weight=w, label_smoothing=self.label_smoothing), logits, y

    def train_step(self, model, batch, state):
        loss, _, y = self._loss(model, batch)
        return loss, None, len(y)

    @torch.no_grad()
    def evaluate(self, model, split: str) -> dict:
        model.eval()
        total, n, preds, trues = 0.0, 0, [], []
        for batch in self.valid.for_epoch(0):
            loss, logits, y = self._loss(model, batch)
            total += float(loss) * len(y)
            n += len(y)
            preds.append(logits.argmax(1).cpu().numpy())
            trues.append(y.numpy())
        metrics = classification_metrics(np.concatenate(trues), np.concatenate(preds), model.config.num_classes)
        return {"loss": total / max(1, n), **metrics}

    def describe(self, loss: float) -> dict:
        return {}

    def meta(self) -> dict:
        return self._meta


class RNNClassifier:
    """Recurrent sequence classifier with scikit-learn conventions.

    Hyperparameters are set in ``__init__`` and stored as given; ``fit`` learns
    ``classes_``, ``model_``, ``vocab_`` (text input), ``n_features_in_``, ``history_``
    and returns ``self``. Without ``X_valid``, a stratified ``validation_fraction`` of the
    training data is held out for early stopping; the best epoch's weights are kept.
    """

    def __init__(self, cell: str = "lstm", hidden_size: int = 128, num_layers: int = 1, bidirectional: bool = True,
                 pooling: str = "last", dropout: float = 0.0, znorm: bool = True, embedding_size: int = 100,
                 min_freq: int = 1, lowercase: bool = True, epochs: int = 50, batch_size: int = 32, lr: float = 1e-3,
                 optimizer: str = "adam", weight_decay: float = 0.0, clip: float | None = 5.0,
                 class_weight: str | None = None, label_smoothing: float = 0.0, early_stopping: int | None = 10,
                 validation_fraction: float = 0.1, seed: int = 0, device: str = "auto", verbose: bool = False,
                 run_dir: str | None = None) -> None:
        self.cell, self.hidden_size, self.num_layers, self.bidirectional = cell, hidden_size, num_layers, bidirectional
        self.pooling, self.dropout, self.znorm, self.embedding_size = pooling, dropout, znorm, embedding_size
        self.min_freq, self.lowercase, self.epochs, self.batch_size, self.lr = min_freq, lowercase, epochs, batch_size, lr
        self.optimizer, self.weight_decay, self.clip, self.class_weight = optimizer, weight_decay, clip, class_weight
        self.label_smoothing, self.early_stopping = label_smoothing, early_stopping
        self.validation_fraction, self.seed, self.device, self.verbose, self.run_dir = (
            validation_fraction, seed, device, verbose, run_dir)

    # ------------------------------------------------------------- scikit-learn protocol
    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "RNNClassifier":
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"invalid parameter {key!r} for RNNClassifier")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = {k: v for k, v in self.get_params().items() if defaults.get(k) != v}
        return f"RNNClassifier({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # ------------------------------------------------------------- encoding
    def _tokens(self, text: str) -> list[str]:
        return (text.lower() if self.lowercase else text).split()

    def _encode(self, X) -> list[np.ndarray]:
        seqs, kind = as_sequences(X)
        if kind != self.input_kind_:
            raise DataError(f"this classifier was fitted on {self.input_kind_} input, got {kind}")
        if kind == "text":
            unk = self.vocab_.stoi[UNK]
            return [np.array([self.vocab_.stoi.get(t, unk) for t in self._tokens(s)] or [unk], dtype=np.int64)
                    for s in seqs]
        if seqs[0].shape[1] != self.n_features_in_:
            raise DataError(f"X has {seqs[0].shape[1]} features per step; the classifier was fitted with "
                            f"{self.n_features_in_}")
        return seqs

    # ------------------------------------------------------------- fit / predict
    def fit(self, X, y, X_valid=None, y_valid=None) -> "RNNClassifier":
        seqs, kind = as_sequences(X)
        y = np.asarray(y)
        if len(y) != len(seqs):
            raise DataError(f"X has {len(seqs)} sequences but y has {len(y)} labels")
        self.input_kind_ = kind
        self.classes_ = np.unique(y if X_valid is None else np.concatenate([y, np.asarray(y_valid)]))
        if len(self.classes_) < 2:
            raise DataError("y has a single class; a classifier needs at least two")
        if kind == "text":
            self.vocab_ = Vocab.build_words((self._tokens(s) for s in seqs), min_freq=self.min_freq,
                                            specials=(PAD, UNK))
        else:
            self.vocab_ = None
            self.n_features_in_ = seqs[0].shape[1]
        inputs = self._encode(X)
        targets = np.searchsorted(self.classes_, y)
        if X_valid is None:
            tr, va = stratified_split(targets, self.validation_fraction, self.seed)
            if len(va) == 0:
                raise DataError("too few examples to hold out a validation set; pass X_valid and y_valid")
            train_in, train_t = [inputs[i] for i in tr], targets[tr]
            valid_in, valid_t = [inputs[i] for i in va], targets[va]
        else:
            train_in, train_t = inputs, targets
            valid_in, valid_t = self._encode(X_valid), np.searchsorted(self.classes_, np.asarray(y_valid))
        config = SequenceClassifierConfig(
            num_classes=len(self.classes_), input_size=None if kind == "text" else self.n_features_in_,
            vocab_size=len(self.vocab_) if kind == "text" else None, embedding_size=self.embedding_size,
            cell=self.cell, hidden_size=self.hidden_size, num_layers=self.num_layers,
            bidirectional=self.bidirectional, dropout=self.dropout, pooling=self.pooling,
            znorm=self.znorm and kind == "series")
        torch.manual_seed(self.seed)
        model = SequenceClassifier(config)
        dtype = torch.long if kind == "text" else torch.float32
        train = SequenceBatches(train_in, train_t, self.batch_size, shuffle=True, seed=self.seed, input_dtype=dtype)
        valid = SequenceBatches(valid_in, valid_t, max(self.batch_size, 64), shuffle=False, input_dtype=dtype)
        weights = None
        if self.class_weight == "balanced":
            freq = np.bincount(train_t, minlength=len(self.classes_)).astype(np.float64)
            weights = torch.tensor(len(train_t) / (len(self.classes_) * np.maximum(freq, 1)), dtype=torch.float32)
        elif self.class_weight is not None:
            raise ValueError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")
        meta = {"task": TASK, "classes": self.classes_.tolist(), "input_kind": kind,
                "vocab": self.vocab_.to_dict() if self.vocab_ else None, "params": self.get_params()}
        task = ClassificationTask(model, train, valid, meta, weights, self.label_smoothing)
        cfg = TrainerConfig(epochs=self.epochs, optim=OptimConfig(optimizer=self.optimizer, lr=self.lr,
                                                                  weight_decay=self.weight_decay),
                            clip=self.clip, early_stopping=self.early_stopping, checkpoint_every=0, seed=self.seed,
                            device=self.device, progress=self.verbose, sample_every=0.0, log_every=1)
        with tempfile.TemporaryDirectory(prefix="rnnkit-") as tmp:
            run_dir = Path(self.run_dir) if self.run_dir else Path(tmp)
            result = Trainer(task, cfg, run_dir).fit(overwrite=True)
            best = load_checkpoint(result.best_checkpoint)
            model.load_state_dict({k[len(PREFIX):]: v for k, v in best.tensors.items() if k.startswith(PREFIX)})
            lines = (run_dir / "metrics.jsonl").read_text().splitlines()
        self.history_ = [json.loads(x) for x in lines]
        self.model_ = model.eval()
        self.best_valid_loss_ = result.best_valid_loss
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("this RNNClassifier is not fitted yet; call fit(X, y) first")

    @torch.no_grad()
    def predict_proba(self, X) -> np.ndarray:
        self._check_fitted()
        inputs = self._encode(X)
        dtype = torch.long if self.input_kind_ == "text" else torch.float32
        batches = SequenceBatches(inputs, np.zeros(len(inputs), dtype=np.int64), 256, shuffle=False, input_dtype=dtype)
        device = next(self.model_.parameters()).device
        out = [self.model_(x.to(device), lengths).softmax(-1).cpu().numpy() for x, lengths, _ in batches.for_epoch(0)]
        return np.concatenate(out)

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        return self.classes_[self.predict_proba(X).argmax(1)]

    def score(self, X, y) -> float:
        """Mean accuracy, as scikit-learn classifiers define ``score``."""
        return float((self.predict(X) == np.asarray(y)).mean())


__all__ = ["RNNClassifier", "ClassificationTask", "stratified_split", "as_sequences"]
