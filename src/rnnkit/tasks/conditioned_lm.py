"""Conditioned generation end to end: labelled (or featured) sentences -> a generator of
new sentences for a requested label (or feature vector).

Python API (scikit-learn style, like the classifier)::

    from rnnkit.tasks.conditioned_lm import ConditionedGenerator
    gen = ConditionedGenerator(epochs=10).fit(sentences, labels)   # labels: ["pos", "neg", ...]
    gen.generate("pos", n=5, temperature=0.8)                        # five new sentences
    gen.score(test_sentences, test_labels)                           # {"loss": ..., "ppl": ...}
    gen.save("gen.safetensors"); ConditionedGenerator.load("gen.safetensors")

``conditions`` may instead be an ``(N, F)`` array of numbers (a feature vector per
sentence); then ``generate`` takes one such vector. The CLI is ``rnnkit lm train
--condition-col label FILE`` and ``rnnkit lm generate CHECKPOINT --condition pos``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.conditioned_text import ConditionedBatches
from rnnkit.data.sentences import BOS_ID, EOS_ID, PAD_ID, UNK_ID, SentenceCodec
from rnnkit.errors import ConfigError, DataError
from rnnkit.evaluation import perplexity, unigram_loss_from_counts
from rnnkit.generation.sampling import sample_sequences, sample_stream_sequences
from rnnkit.models import ConditionedLM, ConditionedLMConfig
from rnnkit.tasks.base import Estimator
from rnnkit.tasks.estimator import random_split, to_targets
from rnnkit.tasks.token_task import TokenLossTask, token_cross_entropy


def _targets(sentences: Sequence[np.ndarray]) -> np.ndarray:
    """Every token a sentence model predicts: each sentence's words, then ``<eos>``."""
    return np.concatenate([np.append(s, EOS_ID) for s in sentences]).astype(np.int64)


def sentence_loss(model: ConditionedLM, batch, device) -> tuple[Tensor, int]:
    """Mean cross-entropy per target token (``<eos>`` included, padding excluded)."""
    x, lengths, y, cond = batch
    logits, _ = model(x.to(device), cond.to(device), lengths)
    return token_cross_entropy(logits, y.to(device)), int(lengths.sum())


class ConditionedGenerator(Estimator):
    """A sentence generator conditioned on a label or a feature vector.

    Parameters: ``tokenizer`` (``"simple"`` words and punctuation, ``"whitespace"`` for
    pre-tokenised text, ``"char"``, ``"sentencepiece"``), ``lowercase``, ``min_freq`` /
    ``max_vocab`` (rarer words become ``<unk>``, which generation never writes),
    ``max_length`` (tokens; longer training sentences are cut); the model's ``cell``,
    ``hidden_size``, ``num_layers``, ``embedding_size``, ``condition_size``,
    ``condition_every_step``, ``dropout``, ``tie_weights``; training as the classifier.
    Fitted: ``codec_``, ``classes_`` (labels) or ``n_features_in_``, ``model_``, ``history_``.
    """

    TASK = "conditioned_lm"
    KIND = "conditioned-generation"
    # learned: labels (or None for feature vectors), and the feature count (or None for labels)
    classes_: np.ndarray | None
    n_features_in_: int | None
    # the baseline: training target counts, and their unigram loss on the validation targets
    unigram_counts_: np.ndarray | None
    unigram_valid_loss_: float | None

    def __init__(self, tokenizer: str = "simple", lowercase: bool = True, min_freq: int = 1,
                 max_vocab: int | None = None, max_length: int = 60, cell: str = "lstm", hidden_size: int = 256,
                 num_layers: int = 1, embedding_size: int | None = None, condition_size: int = 64,
                 condition_every_step: bool = True, dropout: float = 0.3, zoneout: float = 0.0,
                 tie_weights: bool = False,
                 batch_size: int = 32, epochs: int = 20, optimizer: str = "adam", lr: float = 2e-3,
                 weight_decay: float = 0.0, clip: float | None = 5.0, early_stopping: int | None = 3,
                 validation_fraction: float = 0.1, max_time: float | None = None,
                 checkpoint_every: int = 0, seed: int = 0,
                 device: str = "auto",
                 precision: str = "fp32", verbose: bool = False, run_dir: str | None = None) -> None:
        self.tokenizer, self.lowercase, self.min_freq, self.max_vocab = tokenizer, lowercase, min_freq, max_vocab
        self.max_length, self.cell, self.hidden_size, self.num_layers = max_length, cell, hidden_size, num_layers
        self.embedding_size, self.condition_size = embedding_size, condition_size
        self.condition_every_step, self.dropout, self.tie_weights = condition_every_step, dropout, tie_weights
        self.zoneout = zoneout
        self.batch_size, self.epochs, self.optimizer, self.lr = batch_size, epochs, optimizer, lr
        self.weight_decay, self.clip, self.early_stopping = weight_decay, clip, early_stopping
        self.validation_fraction, self.max_time, self.seed = validation_fraction, max_time, seed
        self.checkpoint_every = checkpoint_every
        self.device, self.verbose, self.run_dir = device, verbose, run_dir
        self.precision = precision

    # ------------------------------------------------------------- conditions
    def _condition_array(self, conditions: Any, n: int) -> np.ndarray:
        """Labels -> class ids (N,); features -> (N, F) float32, checked against the fit."""
        if self.classes_ is not None:
            return to_targets(self.classes_, [str(c) for c in np.asarray(conditions, dtype=object).reshape(-1)])
        feats = np.asarray(conditions, dtype=np.float32)
        feats = feats.reshape(1, -1) if feats.ndim == 1 and n == 1 else feats
        if feats.ndim != 2 or feats.shape[1] != self.n_features_in_:
            raise DataError(f"expected {self.n_features_in_} features per condition, got shape {feats.shape}")
        if np.isnan(feats).any():
            raise DataError("a feature vector contains NaN")
        return feats

    def _fit_conditions(self, conditions: Any) -> None:
        arr = np.asarray(conditions)
        if arr.ndim == 2 and np.issubdtype(arr.dtype, np.number):
            self.classes_, self.n_features_in_ = None, int(arr.shape[1])
        elif arr.ndim == 1:
            self.classes_ = np.unique(arr.astype(str))
            self.n_features_in_ = None
        else:
            raise DataError("conditions must be one label per sentence, or an (n_sentences, n_features) array")

    def _encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        out = []
        for i, text in enumerate(texts):
            ids = self.codec_.encode(text)[: self.max_length]
            if len(ids) == 0:
                raise DataError(f"sentence {i + 1} has no tokens: {text!r}")
            out.append(ids)
        return out

    # ------------------------------------------------------------- training
    def _model_config(self) -> ConditionedLMConfig:
        return ConditionedLMConfig(
            vocab_size=len(self.codec_), num_labels=0 if self.classes_ is None else len(self.classes_),
            feature_size=self.n_features_in_ or 0, cell=self.cell, hidden_size=self.hidden_size,
            num_layers=self.num_layers, embedding_size=self.embedding_size, condition_size=self.condition_size,
            condition_every_step=self.condition_every_step, dropout=self.dropout, zoneout=self.zoneout,
            tie_weights=self.tie_weights)

    def _fit(self, texts: Sequence[str], conditions: Any, texts_valid: Sequence[str] | None = None,
             conditions_valid: Any = None, resume: bool = False) -> None:
        """Learn p(sentence | condition) from ``texts`` and their ``conditions``."""
        texts = list(texts)
        if len(texts) != len(conditions):
            raise DataError(f"{len(texts)} sentences but {len(conditions)} conditions")
        if not texts:
            raise DataError("no sentences to train on")
        self._fit_conditions(conditions)
        self._evaluated_on = "train" if texts_valid is None and self.validation_fraction <= 0 else "valid"
        if texts_valid is None and self.validation_fraction > 0:
            tr, va = random_split(len(texts), self.validation_fraction, self.seed)
            if len(va) == 0:
                raise DataError("too few sentences to hold out a validation set")
            cond = np.asarray(conditions, dtype=object if self.classes_ is not None else np.float32)
            texts, conditions, texts_valid, conditions_valid = ([texts[i] for i in tr], cond[tr],
                                                                [texts[i] for i in va], cond[va])
        elif texts_valid is None:
            texts_valid, conditions_valid = texts, conditions
        self.codec_ = SentenceCodec.fit(texts, self.tokenizer, self.lowercase, self.min_freq, self.max_vocab)
        train_ids, valid_ids = self._encode(texts), self._encode(texts_valid)
        # the baseline: a unigram model of the training targets, scored on the validation targets
        self.unigram_counts_ = np.bincount(_targets(train_ids), minlength=len(self.codec_))
        self.unigram_valid_loss_ = unigram_loss_from_counts(self.unigram_counts_, _targets(valid_ids))
        train = ConditionedBatches(train_ids, self._condition_array(conditions, len(texts)),
                                   self.batch_size, seed=self.seed)
        valid = ConditionedBatches(valid_ids, self._condition_array(conditions_valid, len(texts_valid)),
                                   max(64, self.batch_size), shuffle=False)
        torch.manual_seed(self.seed)
        model = ConditionedLM(self._model_config())
        task = TokenLossTask(model, train, valid, self._checkpoint_meta(), sentence_loss, sampler=self._training_sample)
        cfg = self._trainer_config(sample_every=30.0 if self.verbose else 0.0)
        self._fit_with_trainer(model, task, cfg, resume)

    def _training_sample(self, model) -> str:
        """One sentence per label while training (a private seed: the training RNG must not move)."""
        if self.classes_ is None:
            return ""
        lines = [f"[{label}] {self._sample(model, label, 1, 0.8, None, None, self.seed, None)[0]}"
                 for label in self.classes_[:4]]
        return "\n".join(lines)

    def _meta(self) -> dict:
        counts = None if self.unigram_counts_ is None else self.unigram_counts_.tolist()
        return {"codec": self.codec_.to_dict(), "classes": None if self.classes_ is None else self.classes_.tolist(),
                "n_features_in": self.n_features_in_, "unigram_counts": counts,
                "unigram_valid_loss": self.unigram_valid_loss_}

    # ------------------------------------------------------------- generation and scoring
    @torch.no_grad()
    def _sample(self, model, condition, n, temperature, top_k, top_p, seed, max_length) -> list[str]:
        was = model.training
        model.eval()
        device = next(model.parameters()).device
        cond_array = np.repeat(self._condition_array([condition] if self.classes_ is not None else condition, 1),
                               n, axis=0)
        if device.type == "cpu":  # the NumPy step engine
            from rnnkit.inference import ConditionedStream

            never = np.zeros(len(self.codec_), np.float32)
            never[[PAD_ID, UNK_ID, BOS_ID]] = -np.inf
            ids = sample_stream_sequences(ConditionedStream(model, cond_array), BOS_ID, EOS_ID,
                                          max_length or self.max_length, temperature, top_k, top_p, seed, never)
            model.train(was)
            return [self.codec_.decode(s) for s in ids]
        cond = torch.as_tensor(cond_array).to(device)
        state = model.initial_state(model.encode_condition(cond))
        # <unk> stands for many rare words at once: never write it (nor padding or <bos>)
        bias = torch.zeros(len(self.codec_), device=device)
        bias[[PAD_ID, UNK_ID, BOS_ID]] = float("-inf")

        def step(tokens, state):
            logits, state = model.step(tokens, state, cond)
            return logits + bias, state

        ids = sample_sequences(step, state, n, BOS_ID, EOS_ID, max_length or self.max_length, temperature,
                               top_k, top_p, seed, device)
        model.train(was)
        return [self.codec_.decode(s) for s in ids]

    def stream(self, conditions: Any):
        """A :class:`~rnnkit.inference.ConditionedStream` with one sequence per condition (a
        list of labels, or a (B, F) array of features); feed ``<bos>`` (id 2) first."""
        from rnnkit.inference import ConditionedStream

        self._check_fitted()
        n = len(conditions)
        assert isinstance(self.model_, ConditionedLM)
        return ConditionedStream(self.model_, self._condition_array(conditions, n))

    def generate(self, condition: Any, n: int = 1, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, seed: int | None = None, max_length: int | None = None) -> list[str]:
        """``n`` sentences for ``condition`` (a label, or one feature vector)."""
        self._check_fitted()
        if n < 1:
            raise ConfigError(f"n must be at least 1, got {n}")
        return self._sample(self.model_, condition, n, temperature, top_k, top_p, seed, max_length)

    @torch.no_grad()
    def score(self, texts: Sequence[str], conditions: Any) -> dict:
        """Cross-entropy per token (nats, ``<eos>`` included) and perplexity of ``texts``."""
        self._check_fitted()
        texts = list(texts)
        ids = self._encode(texts)
        batches = ConditionedBatches(ids, self._condition_array(conditions, len(texts)), 64, shuffle=False)
        result = TokenLossTask(self.model_, batches, batches, {}, sentence_loss).evaluate(self.model_)
        result = {**result, "ppl": perplexity(result["loss"])}
        if self.unigram_counts_ is not None:  # checkpoints from before the baseline have no counts
            result["unigram_loss"] = unigram_loss_from_counts(self.unigram_counts_, _targets(ids))
        return result

    def _restore(self, meta: dict) -> None:
        self.codec_ = SentenceCodec.from_dict(meta["codec"])
        self.classes_ = None if meta.get("classes") is None else np.array(meta["classes"])
        self.n_features_in_ = meta.get("n_features_in")
        counts = meta.get("unigram_counts")
        self.unigram_counts_ = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.unigram_valid_loss_ = meta.get("unigram_valid_loss")


__all__ = ["ConditionedGenerator", "sentence_loss"]
