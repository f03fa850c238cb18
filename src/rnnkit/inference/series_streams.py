"""Streams that read one step of a sequence and answer at once: the classifier's (and the
transfer classifier's) running prediction, the tagger's label per step, the music model's
next frame.

Each works on the model's own input units (token ids, or feature vectors already
scaled as the estimator scales them) and equals the model's full-sequence forward over
the steps fed so far (tested for every family).
"""

from __future__ import annotations

import numpy as np
from torch import nn

from rnnkit.errors import ConfigError
from rnnkit.inference.engine import StepEngine
from rnnkit.inference.stream import Stream, as_numpy, model_id
from rnnkit.inference.torch_engine import make_engine
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.lm_classifier import LMClassifier
from rnnkit.models.music_model import PolyphonicModel
from rnnkit.models.tagger import SequenceTagger


class _StepStream(Stream):
    """Token ids (an embedding) or feature vectors in, a linear head over the top layer out."""

    def __init__(self, engine: StepEngine, embedding: np.ndarray | None, n_features: int, head_w: np.ndarray,
                 head_b: np.ndarray, batch: int, key_arrays: list[np.ndarray]) -> None:
        self.embedding = embedding
        self.n_features = n_features
        self.head_wt = np.ascontiguousarray(head_w.T)  # (F_in, out)
        self.head_b = head_b
        self.input_rank = 0 if embedding is not None else 1  # type: ignore[misc]
        arrays = [*key_arrays, head_w, head_b, *engine.weight_arrays()]
        if embedding is not None:
            arrays.append(embedding)
        super().__init__(engine, batch, model_id(arrays))

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        if self.embedding is not None:
            if x.dtype.kind not in "iu":
                raise ConfigError(f"a {self.family} stream reads token ids (integers), got {x.dtype}")
            n = self.embedding.shape[0]
            if x.size and (x.min() < 0 or x.max() >= n):
                raise ConfigError(f"token ids must lie in [0, {n}), got {x.min()}..{x.max()}")
            return x
        if x.dtype.kind not in "fiub":
            raise ConfigError(f"a {self.family} stream reads numbers, got {x.dtype}")
        if x.ndim and x.shape[-1] != self.n_features:
            raise ConfigError(f"this {self.family} reads {self.n_features} feature(s) per step, got {x.shape[-1]}")
        if not np.isfinite(x).all():
            raise ConfigError(f"a {self.family} stream's input must be finite (no NaN or infinity)")
        return x.astype(np.float32, copy=False)

    def _write_input(self, x: np.ndarray) -> None:
        view = self.engine.input_view(self._state)
        view[...] = self.embedding[x] if self.embedding is not None else self._scale(x)

    def _scale(self, x: np.ndarray) -> np.ndarray:
        return x

    def _head(self, features: np.ndarray) -> np.ndarray:
        return features @ self.head_wt + self.head_b


class TaggerStream(_StepStream):
    """A unidirectional :class:`~rnnkit.models.SequenceTagger`: one step -> tag logits (B, num_tags)."""

    family = "tagger"

    def __init__(self, model: SequenceTagger, batch: int = 1) -> None:
        c = model.config
        if c.num_chars:
            raise ConfigError("this tagger reads each word's characters; streaming takes word ids only")
        emb = as_numpy(model.embedding.weight) if model.embedding is not None else None
        super().__init__(make_engine(model.encoder), emb, c.input_size or 0, as_numpy(model.head.weight),
                         as_numpy(model.head.bias), batch, [])

    def _output(self) -> np.ndarray:
        return self._head(self.engine.top(self._state))


class MusicStream(_StepStream):
    """A :class:`~rnnkit.models.music_model.PolyphonicModel`: frame ``v_t`` (B, 88) -> the
    logits of ``v_{t+1}`` (B, 88). The model was trained with a zero frame before the
    first one: feed zeros first to get the first frame's logits."""

    family = "music model"

    def __init__(self, model: PolyphonicModel, batch: int = 1) -> None:
        super().__init__(make_engine(model.rnn), None, model.config.n_keys, as_numpy(model.head.weight),
                         as_numpy(model.head.bias), batch, [])

    def _output(self) -> np.ndarray:
        return self._head(self.engine.top(self._state))


class ClassifierStream(_StepStream):
    """A unidirectional :class:`~rnnkit.models.SequenceClassifier` giving its prediction
    for the sequence so far after every step: logits (B, num_classes).

    Pooling runs online: ``last`` is the top layer's output; ``mean`` keeps a running sum
    and count; ``max`` a running maximum; ``attention`` an online softmax (running
    maximum score, sum of exponentials and weighted sum, as in Milakov & Gimelshein 2018).
    Those running values are the stream's extra state.
    """

    family = "classifier"

    def __init__(self, model: SequenceClassifier, batch: int = 1) -> None:
        c = model.config
        # Each refusal names the setting that makes a streamable classifier, in Python and on the CLI.
        for flag, why, remedy in (
                (c.znorm, "z-normalises each whole series", "znorm=False (--znorm dataset)"),
                (c.conv_branch, "has a convolutional branch", "conv_branch=False (--no-conv-branch)"),
                (c.num_chars, "reads each word's characters", "char_features=False (--no-char-features)")):
            if flag:
                raise ConfigError(f"this classifier {why}; it needs the whole sequence and cannot stream "
                                  f"(train one with {remedy} and bidirectional=False (--unidirectional) to stream)")
        self.pooling = c.pooling
        self.hidden = c.hidden_size
        emb = as_numpy(model.embedding.weight) if model.embedding is not None else None
        self.mean = as_numpy(model.input_mean)
        self.std = as_numpy(model.input_std)
        self.att = None
        if model.attention is not None:
            self.att = (np.ascontiguousarray(as_numpy(model.attention.proj.weight).T),
                        as_numpy(model.attention.proj.bias), as_numpy(model.attention.score.weight)[0])
        keys = [self.mean, self.std, *(() if self.att is None else self.att)]
        super().__init__(make_engine(model.encoder), emb, c.input_size or 0, as_numpy(model.head.weight),
                         as_numpy(model.head.bias), batch, keys)

    def _new_extras(self, batch: int) -> dict[str, np.ndarray]:
        h = self.hidden
        if self.pooling == "mean":
            return {"sum": np.zeros((batch, h), np.float32), "count": np.zeros((batch, 1), np.float32)}
        if self.pooling == "max":
            return {"max": np.full((batch, h), -np.inf, np.float32)}
        if self.pooling == "attention":
            return {"score_max": np.full((batch, 1), -np.inf, np.float32),
                    "score_sum": np.zeros((batch, 1), np.float32), "weighted": np.zeros((batch, h), np.float32)}
        return {}

    def _scale(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    def _output(self) -> np.ndarray:
        h = self.engine.top(self._state)
        ex = self.extras
        if self.pooling == "last":
            pooled = h
        elif self.pooling == "mean":
            ex["sum"] += h
            ex["count"] += 1.0
            pooled = ex["sum"] / ex["count"]
        elif self.pooling == "max":
            np.maximum(ex["max"], h, out=ex["max"])
            pooled = ex["max"]
        else:
            assert self.att is not None
            w, b, v = self.att
            e = (np.tanh(h @ w + b) @ v)[:, None]  # (B, 1)
            new_max = np.maximum(ex["score_max"], e)
            rescale = np.exp(ex["score_max"] - new_max)  # earlier terms, relative to the new maximum
            weight = np.exp(e - new_max)
            ex["score_sum"] = ex["score_sum"] * rescale + weight
            ex["weighted"] = ex["weighted"] * rescale + weight * h
            ex["score_max"] = new_max
            pooled = ex["weighted"] / ex["score_sum"]
        return self._head(pooled)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class LMClassifierStream(_StepStream):
    """A transfer classifier (:class:`~rnnkit.models.LMClassifier`, ULMFiT's) giving its
    prediction for the text so far after every token id: logits (B, num_classes).

    Concat pooling runs online, ``[h_t, max_{s<=t} h_s, mean_{s<=t} h_s]``: a running maximum,
    sum and count are the stream's extra state, so every token costs the same. The head
    (LayerNorm, Linear, ReLU, LayerNorm, Linear; dropout is off in use) runs in NumPy. The
    estimator closes each text with ``<eos>``: feed it last to get ``predict``'s answer.
    """

    family = "transfer classifier"

    def __init__(self, model: LMClassifier, batch: int = 1) -> None:
        model = model.eval()
        norm1, _, lin1, _, norm2, _, lin2 = model.head
        assert isinstance(norm1, nn.LayerNorm) and isinstance(norm2, nn.LayerNorm)
        assert isinstance(lin1, nn.Linear) and isinstance(lin2, nn.Linear)
        self.features = model.rnn.output_size
        self.norms = [(as_numpy(n.weight), as_numpy(n.bias), float(n.eps)) for n in (norm1, norm2)]
        self.hidden_wt, self.hidden_b = np.ascontiguousarray(as_numpy(lin1.weight).T), as_numpy(lin1.bias)
        keys = [a for n in self.norms for a in n[:2]] + [as_numpy(lin1.weight), self.hidden_b]
        super().__init__(make_engine(model.rnn), as_numpy(model.embedding.weight), 0, as_numpy(lin2.weight),
                         as_numpy(lin2.bias), batch, keys)

    def _new_extras(self, batch: int) -> dict[str, np.ndarray]:
        return {"max": np.full((batch, self.features), -np.inf, np.float32),
                "sum": np.zeros((batch, self.features), np.float32), "count": np.zeros((batch, 1), np.float32)}

    def _output(self) -> np.ndarray:
        h = self.engine.top(self._state)
        ex = self.extras
        np.maximum(ex["max"], h, out=ex["max"])
        ex["sum"] += h
        ex["count"] += 1.0
        pooled = np.concatenate([h, ex["max"], ex["sum"] / ex["count"]], axis=-1)
        (w1, b1, eps1), (w2, b2, eps2) = self.norms
        hidden = np.maximum(_layer_norm(pooled, w1, b1, eps1) @ self.hidden_wt + self.hidden_b, 0.0)
        return self._head(_layer_norm(hidden, w2, b2, eps2)).astype(np.float32)


__all__ = ["ClassifierStream", "TaggerStream", "MusicStream", "LMClassifierStream"]
