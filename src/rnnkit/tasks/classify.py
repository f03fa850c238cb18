"""Sequence classification (many-to-one) through the shared trainer, with a scikit-learn face.

    from rnnkit.tasks.classify import RNNClassifier
    clf = RNNClassifier(hidden_size=64, epochs=30).fit(X_train, y_train)   # X: (n, T, C), list of arrays, or strings
    clf.predict(X_test); clf.predict_proba(X_test); clf.score(X_test, y_test)
    clf.save("model.safetensors"); RNNClassifier.load("model.safetensors")
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from rnnkit.data.token_encoder import TokenEncoder
from rnnkit.data.vocab import EOS
from rnnkit.errors import ConfigError, DataError
from rnnkit.models import LMClassifier, LMClassifierConfig, SequenceClassifier, SequenceClassifierConfig
from rnnkit.tasks.estimator import RecurrentEstimator, numeric_sequences, random_split, stratified_split, to_targets

TASK = "classify"


def as_sequences(X: Any) -> tuple[list[np.ndarray] | list[str], str]:
    """Normalise ``X`` to a list of ``(T, C)`` float arrays (kind ``series``) or strings (``text``)."""
    if isinstance(X, np.ndarray) and X.dtype.kind in "fiu":
        if X.ndim == 2:
            X = X[:, :, None]
        if X.ndim != 3:
            raise DataError(f"X must be (n, time, features) or (n, time), got shape {X.shape}")
        if len(X) == 0 or X.shape[1] == 0:
            raise DataError(f"X is empty (shape {X.shape})")
        if np.isnan(X).any():
            raise DataError("X contains NaN; for variable lengths pass a list of arrays, or fill missing values")
        return [np.asarray(x, dtype=np.float32) for x in X], "series"
    X = list(X)
    if not X:
        raise DataError("X is empty")
    if all(isinstance(x, str) for x in X):
        return X, "text"
    return numeric_sequences(X), "series"


class RNNClassifier(RecurrentEstimator):
    """Recurrent sequence classifier with scikit-learn conventions.

    ``X``: a 3-D array ``(n, time, features)``, a list of ``(time, features)`` (or 1-D)
    arrays of any lengths, or a list of strings (whitespace-separated words, looked up in a
    vocabulary fitted on the training set; ``char_features`` adds character BiLSTM
    features per word). ``y``: any labels; ``classes_`` keeps them sorted.

    Without ``X_valid``, a stratified ``validation_fraction`` of the training data is held
    out for early stopping and the best epoch's weights are kept; with
    ``validation_fraction=0`` the model is chosen by its loss on the training data (the
    protocol of the published FCN and LSTM-FCN results, for very small training sets).
    ``conv_branch=True`` adds LSTM-FCN's convolutional branch (series input). Parameters left
    at ``"auto"`` take their value from the input (:attr:`AUTO_DEFAULTS`: text or series).
    ``znorm``:
    ``True`` z-normalises every series on its own (the UCR convention: shape, not level),
    ``False`` standardises each channel with training-set statistics, ``"auto"`` picks the
    first for univariate and the second for multivariate series.

    Transfer learning (ULMFiT, Howard & Ruder 2018): ``encoder`` names a language-model
    checkpoint (``rnnkit lm train``, e.g. the ``awd-lstm`` preset fine-tuned on the task's
    texts with ``init_from``); the classifier then reads text as that model does (its
    tokenizer and vocabulary, ``<eos>`` closing each text), starts from its embedding and
    recurrent layers, pools their outputs three ways (last, max, mean) into a small head
    (:class:`~rnnkit.models.LMClassifier`), and trains with :attr:`ENCODER_DEFAULTS`:
    gradual unfreezing (the head alone in the first epoch, one more layer each epoch after;
    shorter stages when there are too few epochs for every layer to train the second half),
    discriminative learning rates (each layer 1/2.6 of the rate of the one above) and a
    slanted triangular schedule. ``max_length`` keeps at most that many tokens of each text:
    its first quarter and last three quarters (long reviews on a CPU). ``bptt`` backpropagates
    through the last that many tokens of a longer text only, its earlier tokens read without
    gradient and their state carried over (ULMFiT's BPT3C, one cut; pooling still covers the
    whole text): long reviews whole, with the memory and backward pass of ``bptt`` tokens
    (:meth:`~rnnkit.models.LMClassifier.encode`); ``None`` backpropagates through every token.
    ``encoder_dropout`` scales the language model's dropouts (output, embedding, DropConnect)
    while the classifier trains: 0.5, as ULMFiT's reference implementation does for IMDb
    (fastai's ``drop_mult``).
    """

    TASK = TASK

    #: Defaults by input: for text, a BiLSTM over learnt word embeddings with early stopping on a
    #: held-out tenth; for series, the LSTM-FCN configuration of benchmarks/bench_ucr.py (BiLSTM 64
    #: with the convolutional branch, 150 epochs with a cosine schedule, the model chosen by its
    #: training loss: the published FCN/LSTM-FCN protocol for the small UCR training sets), which
    #: scored 90.8 % mean test accuracy over 11 UCR sets where the text defaults scored less.
    AUTO_DEFAULTS = {
        "hidden_size": {"text": 128, "series": 64},
        "dropout": {"text": 0.0, "series": 0.2},
        "conv_branch": {"text": False, "series": True},
        "epochs": {"text": 50, "series": 150},
        "batch_size": {"text": 32, "series": 16},
        "lr": {"text": 1e-3, "series": 3e-3},
        "schedule": {"text": "constant", "series": "cosine"},
        "early_stopping": {"text": 10, "series": None},
        "validation_fraction": {"text": 0.1, "series": 0.0},
        "layer_lr_decay": {"text": 1.0, "series": 1.0},  # used with a pretrained encoder (ENCODER_DEFAULTS)
        "gradual_unfreezing": {"text": False, "series": False},
    }

    #: Defaults with a pretrained ``encoder`` (ULMFiT's recipe: its head dropout, 2.6 between
    #: layers, gradual unfreezing, slanted triangular rates; a few epochs, the best one kept).
    ENCODER_DEFAULTS = {
        "dropout": 0.2, "epochs": 6, "batch_size": 32, "lr": 5e-3, "schedule": "slanted", "early_stopping": None,
        "validation_fraction": 0.1, "layer_lr_decay": 2.6, "gradual_unfreezing": True,
    }

    def __init__(self, cell: str = "lstm", hidden_size: int | str = "auto", num_layers: int = 1,
                 bidirectional: bool = True, pooling: str = "last", dropout: float | str = "auto", zoneout: float = 0.0,
                 znorm: bool | str = "auto", conv_branch: bool | str = "auto",
                 embedding_size: int = 100, char_features: bool = False, min_freq: int = 1, lowercase: bool = True,
                 epochs: int | str = "auto", batch_size: int | str = "auto", lr: float | str = "auto",
                 optimizer: str = "adam", weight_decay: float = 0.0, schedule: str = "auto", clip: float | None = 5.0,
                 class_weight: str | None = None, label_smoothing: float = 0.0,
                 early_stopping: int | str | None = "auto",
                 validation_fraction: float | str = "auto", max_time: float | None = None,
                 checkpoint_every: int = 0, seed: int = 0,
                 device: str = "auto",
                 precision: str = "fp32", verbose: bool = False, run_dir: str | None = None,
                 encoder: str | None = None, max_length: int | None = None, bptt: int | None = None,
                 layer_lr_decay: float | str = "auto", gradual_unfreezing: bool | str = "auto",
                 encoder_dropout: float = 0.5) -> None:
        self.cell, self.hidden_size, self.num_layers, self.bidirectional = cell, hidden_size, num_layers, bidirectional
        self.pooling, self.dropout, self.znorm, self.conv_branch = pooling, dropout, znorm, conv_branch
        self.zoneout = zoneout
        self.embedding_size, self.char_features, self.min_freq, self.lowercase = (
            embedding_size, char_features, min_freq, lowercase)
        self.epochs, self.batch_size, self.lr, self.optimizer = epochs, batch_size, lr, optimizer
        self.weight_decay, self.schedule, self.clip, self.class_weight = weight_decay, schedule, clip, class_weight
        self.label_smoothing, self.early_stopping, self.validation_fraction = (
            label_smoothing, early_stopping, validation_fraction)
        self.max_time, self.seed, self.device, self.verbose, self.run_dir = max_time, seed, device, verbose, run_dir
        self.precision = precision
        self.checkpoint_every = checkpoint_every
        self.encoder, self.max_length, self.bptt = encoder, max_length, bptt
        self.layer_lr_decay, self.gradual_unfreezing = layer_lr_decay, gradual_unfreezing
        self.encoder_dropout = encoder_dropout

    def _effective(self, name: str) -> Any:
        value = getattr(self, name)
        if isinstance(value, str) and value == "auto" and name in self.ENCODER_DEFAULTS:
            if self.encoder is not None or getattr(self, "pretrained_encoder_", None):
                return self.ENCODER_DEFAULTS[name]
        return super()._effective(name)

    def _check_params(self) -> None:
        super()._check_params()
        if self.znorm not in ("auto", True, False):
            raise ConfigError(f"znorm must be True, False or 'auto', got {self.znorm!r}")
        if not 0 <= self.encoder_dropout <= 1:
            raise ConfigError(f"encoder_dropout must be in [0, 1] (a multiplier), got {self.encoder_dropout}")
        if self.max_length is not None and self.max_length < 1:
            raise ConfigError(f"max_length must be at least 1, got {self.max_length}")
        if self.bptt is not None and self.bptt < 1:
            raise ConfigError(f"bptt must be at least 1 token, got {self.bptt}")
        if self.bptt is not None and self.encoder is None:
            raise ConfigError("bptt reads long texts in two parts with a pretrained encoder (--encoder); a classifier "
                              "trained from scratch backpropagates through whole texts")
        decay = self.layer_lr_decay
        if not (decay == "auto" or (not isinstance(decay, str) and decay >= 1)):
            raise ConfigError(f"layer_lr_decay must be a number >= 1 or 'auto', got {decay!r}")
        if self.gradual_unfreezing not in ("auto", True, False):
            raise ConfigError(f"gradual_unfreezing must be True, False or 'auto', got {self.gradual_unfreezing!r}")
        if self.encoder is not None and self.char_features:
            raise ConfigError("character features are for a classifier trained from scratch, not with a pretrained "
                              "encoder (its vocabulary is the language model's)")

    def _items(self, X) -> tuple[list, str]:
        seqs, kind = as_sequences(X)
        if kind != "text":
            return seqs, kind
        pretrained = getattr(self, "encoder_", None) if getattr(self, "pretrained_encoder_", None) else None
        if pretrained is not None:  # as the language model read its text: its tokenizer, <eos> closing it
            vocab = pretrained.words
            tokens = [vocab.words(str(s)) + [EOS] for s in seqs]
        else:
            tokens = [str(s).split() for s in seqs]
        return [truncate(t, self.max_length) for t in tokens], kind

    def _model_config(self) -> SequenceClassifierConfig | LMClassifierConfig:
        if getattr(self, "pretrained_encoder_", None):
            m = self.encoder_dropout  # the language model's regularisation, scaled (fastai's drop_mult)
            lm = self._pretrained.model_.config
            lm = dataclasses.replace(lm, dropout=lm.dropout * m, embedding_dropout=lm.embedding_dropout * m,
                                     weight_drop=lm.weight_drop * m)
            return LMClassifierConfig(num_classes=len(self.classes_), language_model=lm,
                                      dropout=self._effective("dropout"), bptt=self.bptt)
        text = self.input_kind_ == "text"
        chars = self.encoder_.chars if text else None
        return SequenceClassifierConfig(
            num_classes=len(self.classes_), input_size=None if text else self.n_features_in_,
            vocab_size=len(self.encoder_.words) if text else None, embedding_size=self.embedding_size,
            num_chars=len(chars) if chars is not None else 0, cell=self.cell,
            hidden_size=self._effective("hidden_size"),
            num_layers=self.num_layers, bidirectional=self.bidirectional, dropout=self._effective("dropout"),
            pooling=self.pooling, znorm=self._per_series_znorm() and not text,
            conv_branch=bool(self._effective("conv_branch")) and not text, zoneout=self.zoneout)

    def _per_series_znorm(self) -> bool:
        if self.znorm == "auto":  # shape matters for one channel; levels carry information across several
            return getattr(self, "n_features_in_", 1) == 1
        return bool(self.znorm)  # checked by check_params

    def _fit(self, X, y, X_valid=None, y_valid=None, resume: bool = False) -> None:
        """Train on ``(X, y)``; ``resume=True`` continues the interrupted run in ``run_dir``."""
        self.pretrained_encoder_ = None
        if self.encoder is not None:
            self._load_pretrained()
        items, kind = self._items(X)
        y = np.asarray(y)
        if len(y) != len(items):
            raise DataError(f"X has {len(items)} sequences but y has {len(y)} labels")
        if self.encoder is not None and kind != "text":
            raise DataError("a pretrained language-model encoder reads text; X holds numeric series")
        self.input_kind_ = kind
        self.classes_ = np.unique(y if y_valid is None else np.concatenate([y, np.asarray(y_valid)]))
        if len(self.classes_) < 2:
            raise DataError("y has a single class; a classifier needs at least two")
        if self.pretrained_encoder_:
            pass  # the language model's vocabulary, set by _load_pretrained
        elif kind == "text":
            self._fit_encoder(items)
        else:
            self.n_features_in_ = items[0].shape[1]
        inputs, chars = self._encoded(items, kind)
        targets = to_targets(self.classes_, y)
        valid = None
        if X_valid is not None:
            v_items, v_kind = self._items(X_valid)
            v_inputs, v_chars = self._encoded(v_items, v_kind)
            valid = (v_inputs, to_targets(self.classes_, y_valid), v_chars)
        split = (lambda t: stratified_split(np.asarray(t), self._effective("validation_fraction"), self.seed))
        train_batches, valid_batches = self._train_valid_batches(inputs, targets, chars, valid, split)
        torch.manual_seed(self.seed)
        config = self._model_config()
        if isinstance(config, LMClassifierConfig):
            transfer = LMClassifier(config)
            transfer.load_encoder(self._pretrained.model_.state_dict())
            del self._pretrained  # its weights now live in the classifier
            model: SequenceClassifier | LMClassifier = transfer
        else:
            model = SequenceClassifier(config)
        if isinstance(model, SequenceClassifier) and kind == "series":
            steps = np.concatenate(inputs)  # (sum of lengths, F): per-channel statistics of the training set
            model.set_input_scaling(torch.from_numpy(steps.mean(0)), torch.from_numpy(steps.std(0)))
        self._train(model, train_batches, valid_batches, self._class_weights(np.asarray(train_batches.targets)),
                    resume=resume)

    def _load_pretrained(self) -> None:
        """The language model named by ``encoder``: its vocabulary becomes this classifier's."""
        from rnnkit.tasks.lm import LanguageModeler

        lm = LanguageModeler.load(str(self.encoder))
        if lm.vocab_.level != "word":
            raise ConfigError(f"{self.encoder} is a character language model; a classifier's encoder must be "
                              "a word-level one")
        self._pretrained = lm
        self.pretrained_encoder_ = str(self.encoder)
        self.encoder_ = TokenEncoder(lm.vocab_, None, lowercase=False)

    def _meta(self) -> dict:
        return {**super()._meta(), "pretrained_encoder": getattr(self, "pretrained_encoder_", None)}

    def _restore(self, meta: dict) -> None:
        super()._restore(meta)
        self.pretrained_encoder_ = meta.get("pretrained_encoder")

    def predict_proba(self, X) -> np.ndarray:
        """``(n, n_classes)`` class probabilities, columns in the order of ``classes_``."""
        self._check_fitted()
        items, kind = self._items(X)
        return np.stack(self._probabilities(*self._encoded(items, kind)))

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        return self.classes_[self.predict_proba(X).argmax(1)]

    def score(self, X, y) -> float:
        """Mean accuracy, as scikit-learn classifiers define ``score``."""
        return float((self.predict(X) == np.asarray(y)).mean())


def truncate(tokens: list, max_length: int | None) -> list:
    """At most ``max_length`` tokens: the first quarter and the last three quarters of that
    budget (a review's opening and its verdict, which usually comes last)."""
    if max_length is None or len(tokens) <= max_length:
        return tokens
    head = max_length // 4
    return tokens[:head] + tokens[len(tokens) - (max_length - head):]


def text_baseline(train_texts, train_labels, test_texts, test_labels) -> dict:
    """The bag-of-words baseline (:mod:`rnnkit.evaluation.text_baseline`) on the test texts
    whose label occurs in training, as a classifier's accuracy is reported."""
    from rnnkit.evaluation.text_baseline import bag_of_words_baseline

    seen = {str(v) for v in train_labels}
    test = [(x, y) for x, y in zip(test_texts, test_labels) if str(y) in seen]
    return bag_of_words_baseline(list(train_texts), list(train_labels), [x for x, _ in test], [y for _, y in test])


def series_baseline(train_series, train_labels, test_series, test_labels) -> dict:
    """The 1-NN Euclidean baseline (:mod:`rnnkit.evaluation.series_baseline`) on the test
    series whose label occurs in training, as a classifier's accuracy is reported."""
    from rnnkit.evaluation.series_baseline import nearest_neighbour_baseline

    seen = {str(v) for v in train_labels}
    test = [(x, y) for x, y in zip(test_series, test_labels) if str(y) in seen]
    return nearest_neighbour_baseline(list(train_series), list(train_labels), [x for x, _ in test],
                                      [y for _, y in test])


__all__ = ["RNNClassifier", "stratified_split", "random_split", "as_sequences", "text_baseline", "series_baseline"]
