"""What the scikit-learn style estimators share: parameters, training, saving.

:class:`RecurrentEstimator` follows scikit-learn's conventions: every hyperparameter is an
``__init__`` argument stored unchanged (so ``get_params``/``set_params``/``clone`` work),
``fit`` learns attributes whose names end in ``_`` and returns ``self``. Training runs
through the shared :class:`~rnnkit.training.Trainer` (early stopping, clipping,
checkpoints, resume), and :meth:`save`/:meth:`load` keep a fitted estimator in one
safetensors file.

:class:`SupervisedTask` is the trainer task for both many-to-one (logits ``(B, C)``) and
synced many-to-many (logits ``(B, T, C)``, only valid steps counted) problems.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.finite import check_finite
from rnnkit.data.sequences import Batch, SequenceBatches
from rnnkit.data.token_encoder import TokenEncoder
from rnnkit.errors import ConfigError, DataError
from rnnkit.evaluation.classification import classification_metrics
from rnnkit.layers.pooling import valid_mask
from rnnkit.tasks.base import Estimator


def stratified_split(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, valid)`` with about ``fraction`` of each class in valid (at least one
    per class that has two or more examples)."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    valid: list[int] = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * fraction))
        k = min(max(k, 1 if len(idx) > 1 else 0), len(idx) - 1)
        valid.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(valid, dtype=np.int64))


def random_split(n: int, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, valid)`` with ``round(n * fraction)`` (at least 1) examples in valid."""
    order = np.random.default_rng(seed).permutation(n)
    k = min(max(1, int(round(n * fraction))), n - 1)
    return np.sort(order[k:]), np.sort(order[:k])


def numeric_sequences(X: list) -> list[np.ndarray]:
    """Each item as a non-empty ``(T, F)`` float32 array (1-D items get F = 1), all with the
    same F and no NaN; anything else is a :class:`DataError` naming the sequence."""
    out = []
    for i, x in enumerate(X):
        try:
            a = np.asarray(x, dtype=np.float64)  # checked before the cast, which turns 1e39 into inf
        except (TypeError, ValueError):
            raise DataError(f"sequence {i} is not numeric; pass arrays of numbers (or text)") from None
        a = a[:, None] if a.ndim == 1 else a
        if a.ndim != 2 or len(a) == 0:
            raise DataError(f"sequence {i} must be a non-empty (time, features) array, got shape {a.shape}")
        if np.isnan(a).any():
            raise DataError(f"sequence {i} contains NaN; fill or drop missing values first")
        check_finite(a, f"sequence {i}", axes=("step", "feature"), first=0)
        out.append(a.astype(np.float32))
    if len({s.shape[1] for s in out}) != 1:
        raise DataError("all sequences must have the same number of features")
    return out


def model_inputs(batch: Batch, device: torch.device) -> tuple:
    """The positional arguments a classifier or tagger takes for ``batch``."""
    chars, char_lengths = batch.chars, batch.char_lengths
    if chars is None or char_lengths is None:
        return batch.x.to(device), batch.lengths
    return batch.x.to(device), batch.lengths, chars.to(device), char_lengths.to(device)


def flat_logits(logits: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
    """``(N, C)`` logits and ``(N,)`` targets: the batch's examples, or its valid steps."""
    y = batch.y.to(logits.device)
    if logits.dim() == 3:  # one label per step: keep the steps inside each length
        mask = valid_mask(batch.lengths.to(logits.device), logits.shape[1])
        return logits[mask], y[mask]
    return logits, y


class SupervisedTask:
    """Cross-entropy on padded batches; no state carries between independent sequences."""

    carries_state = False

    def __init__(self, model, train: SequenceBatches, valid: SequenceBatches, meta: dict,
                 class_weights: Tensor | None = None, label_smoothing: float = 0.0, item_unit: str = "seq") -> None:
        self.model, self.train, self.valid, self._meta = model, train, valid, meta
        self.class_weights, self.label_smoothing = class_weights, label_smoothing
        self.item_unit = item_unit  # what the loss averages over: the progress bar's rate counts it

    def train_batches(self, epoch: int):
        return self.train.for_epoch(epoch)

    def data_fingerprint(self) -> str:
        return fingerprint(self.train, self.valid)

    def _loss(self, model, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        device = next(model.parameters()).device
        logits, y = flat_logits(model(*model_inputs(batch, device)), batch)
        w = None if self.class_weights is None else self.class_weights.to(device)
        return F.cross_entropy(logits.float(), y, weight=w, label_smoothing=self.label_smoothing), logits, y

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
            trues.append(y.cpu().numpy())
        metrics = classification_metrics(np.concatenate(trues), np.concatenate(preds), len(self._meta["classes"]))
        return {"loss": total / max(1, n), **metrics}

    def describe(self, loss: float) -> dict:
        return {}

    def meta(self) -> dict:
        return self._meta


class RecurrentEstimator(Estimator):
    """Base of :class:`~rnnkit.tasks.classify.RNNClassifier` and :class:`~rnnkit.tasks.tag.RNNTagger`.

    Subclasses define ``TASK`` (the checkpoint's task name), ``__init__`` with their
    hyperparameters, and :meth:`_model_config`; fitted state common to both is
    ``classes_``, ``input_kind_`` (``"series"`` or ``"text"``), ``encoder_`` (text) or
    ``n_features_in_`` (series), ``model_``, ``history_`` and ``best_valid_loss_``.
    """

    TASK = ""
    #: what a batch's loss averages over (the progress bar's unit): sequences, or a tagger's tokens
    ITEM_UNIT = "seq"
    _per_step = False  # taggers: one label per step

    # hyperparameters both subclasses take in __init__
    min_freq: int
    lowercase: bool
    char_features: bool
    batch_size: int | str  # "auto": by input kind (see AUTO_DEFAULTS)
    seed: int
    validation_fraction: float | str
    class_weight: str | None
    label_smoothing: float
    # learned
    classes_: np.ndarray
    input_kind_: str
    encoder_: TokenEncoder
    n_features_in_: int

    #: parameters whose default depends on the input ("auto" in the parameters): name -> {kind: value}
    AUTO_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {}

    def _effective(self, name: str) -> Any:
        """A parameter's value for this fit: an ``"auto"`` default resolved by the input kind."""
        value = getattr(self, name)
        if isinstance(value, str) and value == "auto" and name in self.AUTO_DEFAULTS:
            return self.AUTO_DEFAULTS[name][getattr(self, "input_kind_", "text")]
        return value

    def _effective_params(self) -> dict[str, Any]:
        return {name: self._effective(name) for name in self.get_params()}

    def _check_params(self) -> None:
        if self.class_weight not in (None, "balanced"):
            raise ConfigError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")
        for name, by_input in self.AUTO_DEFAULTS.items():
            value = getattr(self, name)
            numeric = not any(isinstance(v, str) for v in by_input.values())
            if numeric and isinstance(value, str) and value != "auto":
                raise ConfigError(f"{name} must be a number or 'auto', got {value!r}")
        fraction = self.validation_fraction
        if not (fraction == "auto" or (not isinstance(fraction, str) and 0 <= fraction < 1)):
            raise ConfigError(f"validation_fraction must be in [0, 1), got {fraction}")

    # ------------------------------------------------------------- inputs
    def _fit_encoder(self, token_lists: list[list[str]]) -> None:
        self.encoder_ = TokenEncoder.fit(token_lists, min_freq=self.min_freq, lowercase=self.lowercase,
                                         char_features=self.char_features)

    def _encoded(self, items: list, kind: str) -> tuple[list[np.ndarray], list | None]:
        """Model inputs (and char arrays) for token lists (text) or ``(T, F)`` arrays (series)."""
        if kind != self.input_kind_:
            raise DataError(f"this {type(self).__name__} was fitted on {self.input_kind_} input, got {kind}")
        if kind == "text":
            encoded = [self.encoder_.encode(tokens) for tokens in items]
            chars = [e.chars for e in encoded] if self.encoder_.chars is not None else None
            return [e.words for e in encoded], chars
        if items[0].shape[1] != self.n_features_in_:
            raise DataError(f"X has {items[0].shape[1]} features per step; the model was fitted with "
                            f"{self.n_features_in_}")
        return items, None

    def _batches(self, inputs, targets, chars, shuffle: bool, batch_size: int | None = None) -> SequenceBatches:
        dtype = torch.long if self.input_kind_ == "text" else torch.float32
        return SequenceBatches(inputs, targets, batch_size or self._effective("batch_size"), shuffle=shuffle,
                               seed=self.seed,
                               input_dtype=dtype, chars=chars)

    def _train_valid_batches(self, inputs: list, targets, chars: list | None, valid: tuple | None,
                             split) -> tuple[SequenceBatches, SequenceBatches]:
        """Training and validation batches: ``valid`` = ``(inputs, targets, chars)`` given by the
        user; else ``split(targets)`` -> index arrays holds out ``validation_fraction``; with a
        fraction of 0 the training data themselves are evaluated (model chosen by training loss)."""
        self._evaluated_on = "valid"
        if valid is None and self._effective("validation_fraction") > 0:
            tr, va = split(targets)
            if len(va) == 0:
                raise DataError("too few examples to hold out a validation set; pass X_valid and y_valid, "
                                "or validation_fraction=0 to choose the model by its training loss")
            def pick(seq: Any, idx: np.ndarray) -> Any:
                return None if seq is None else [seq[i] for i in idx]

            inputs, targets, chars, valid = (pick(inputs, tr), pick(targets, tr), pick(chars, tr),
                                             (pick(inputs, va), pick(targets, va), pick(chars, va)))
        elif valid is None:
            valid = (inputs, targets, chars)
            self._evaluated_on = "train"
        v_inputs, v_targets, v_chars = valid
        return (self._batches(inputs, targets, chars, shuffle=True),
                self._batches(v_inputs, v_targets, v_chars, shuffle=False,
                              batch_size=max(self._effective("batch_size"), 64)))

    # ------------------------------------------------------------- training
    def _class_weights(self, train_targets: np.ndarray) -> Tensor | None:
        if self.class_weight is None:
            return None
        if self.class_weight != "balanced":
            raise ConfigError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")
        freq = np.bincount(train_targets, minlength=len(self.classes_)).astype(np.float64)
        return torch.tensor(len(train_targets) / (len(self.classes_) * np.maximum(freq, 1)), dtype=torch.float32)

    def _meta(self) -> dict:
        return {"classes": self.classes_.tolist(), "input_kind": self.input_kind_,
                "encoder": self.encoder_.to_dict() if self.input_kind_ == "text" else None,
                "n_features_in": getattr(self, "n_features_in_", None)}

    def _train(self, model, train: SequenceBatches, valid: SequenceBatches, class_weights: Tensor | None,
               resume: bool = False) -> None:
        """Fit ``model`` with the trainer; keep the best epoch's weights (by validation loss)."""
        meta = self._checkpoint_meta()
        task = SupervisedTask(model, train, valid, meta, class_weights, self.label_smoothing, self.ITEM_UNIT)
        self._fit_with_trainer(model, task, self._trainer_config(), resume)

    # ------------------------------------------------------------- prediction
    @torch.no_grad()
    def _probabilities(self, inputs, chars) -> list[np.ndarray]:
        """Per-sequence class probabilities: ``(C,)`` each, or ``(T_i, C)`` for taggers."""
        self._check_fitted()
        model = self.model_.eval()
        device = next(model.parameters()).device
        dummy = [np.zeros(len(x), dtype=np.int64) for x in inputs] if self._per_step else np.zeros(len(inputs))
        out: list[np.ndarray] = []
        # at most 256 sequences and about 16k steps a batch: long inputs in small batches
        batch_size = max(1, min(256, (1 << 14) // max(1, max(len(x) for x in inputs))))
        for batch in self._batches(inputs, dummy, chars, shuffle=False, batch_size=batch_size).for_epoch(0):
            probs = model(*model_inputs(batch, device)).float().softmax(-1).cpu().numpy()
            if self._per_step:
                out.extend(p[:n] for p, n in zip(probs, batch.lengths.tolist()))
            else:
                out.extend(probs)
        return out

    # ------------------------------------------------------------- streaming
    def stream(self, batch: int = 1):
        """An open stream of ``batch`` sequences over a unidirectional model: a
        :class:`~rnnkit.inference.TaggerStream` (tag logits per step) for a tagger, a
        :class:`~rnnkit.inference.ClassifierStream` (the prediction so far) for a classifier,
        a :class:`~rnnkit.inference.LMClassifierStream` for a transfer classifier (``encoder``;
        feed the ``<eos>`` that closes each text last to get :meth:`predict`'s answer).
        Inputs: raw feature vectors (series) or word ids (``encoder_``; text)."""
        from rnnkit.inference import ClassifierStream, LMClassifierStream, TaggerStream
        from rnnkit.models import LMClassifier, SequenceClassifier, SequenceTagger

        self._check_fitted()
        model = self.model_
        if isinstance(model, SequenceTagger):
            return TaggerStream(model, batch)
        if isinstance(model, LMClassifier):
            return LMClassifierStream(model, batch)
        assert isinstance(model, SequenceClassifier)
        return ClassifierStream(model, batch)

    # ------------------------------------------------------------- persistence
    def _restore(self, meta: dict) -> None:
        self.classes_ = np.array(meta["classes"])
        self.input_kind_ = meta["input_kind"]
        if meta.get("encoder"):
            self.encoder_ = TokenEncoder.from_dict(meta["encoder"])
        if meta.get("n_features_in") is not None:
            self.n_features_in_ = int(meta["n_features_in"])


def to_targets(classes: np.ndarray, labels: Any) -> np.ndarray:
    """Labels -> class ids; a label not among ``classes`` is a user error."""
    labels = np.asarray(labels)
    ids = np.searchsorted(classes, labels)
    ok = (ids < len(classes)) & (classes[np.minimum(ids, len(classes) - 1)] == labels)
    if not ok.all():
        unknown = sorted({str(v) for v in labels[~ok]})[:5]
        raise DataError(f"labels not seen in training: {', '.join(unknown)}")
    return ids
