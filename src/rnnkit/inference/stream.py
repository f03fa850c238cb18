"""``Stream``: a trained recurrent model kept open, one step (or chunk) at a time.

A stream owns the recurrent state of ``batch`` independent sequences and advances them
together through the NumPy :class:`~rnnkit.inference.engine.StepEngine`:

* :meth:`Stream.step` -- one input per sequence -> one output per sequence;
* :meth:`Stream.feed` -- a chunk of T inputs per sequence -> T outputs per sequence
  (the same numbers as the model's full-sequence forward over those steps);
* :meth:`Stream.state_dict` / :meth:`Stream.load_state_dict` -- the state as named
  float32 arrays (``h``, ``c`` as (num_layers, B, H), then family extras with the batch
  first); :meth:`Stream.to_bytes` / :meth:`Stream.restore` -- the same as one ``.npz``
  blob that names its model, so a state is never loaded into another model;
* :meth:`Stream.copy`, :meth:`Stream.reset`; :func:`join` puts several streams into one
  batch and :meth:`Stream.split` takes them apart again.

Subclasses (one per model family) say how an input reaches layer 0 (:meth:`_write_input`)
and what an output is (:meth:`_output`).
"""

from __future__ import annotations

import copy as _copy
import hashlib
import io
import json
from collections.abc import Sequence
from typing import ClassVar, TypeVar

import numpy as np
import torch

from rnnkit.errors import ConfigError
from rnnkit.inference.engine import EngineState, StepEngine

T = TypeVar("T", bound="StreamState")
R = TypeVar("R", bound="Stream")
_FORMAT = "rnnkit-stream-state/1"


def as_numpy(t: torch.Tensor) -> np.ndarray:
    """A float32 C-contiguous copy of a parameter, on the CPU."""
    return np.ascontiguousarray(t.detach().to("cpu", torch.float32).numpy())


def model_id(arrays: Sequence[np.ndarray]) -> str:
    """A short fingerprint of a model's weights: states carry it, restores check it."""
    digest = hashlib.sha1()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).view(np.uint8).data)
    return digest.hexdigest()[:16]


class StreamState:
    """What every stream shares: a state of named float32 arrays that can be copied,
    serialised, restored, split per sequence and joined (see :func:`join`).

    Subclasses give :meth:`state_dict`, :meth:`load_state_dict` (which adopts the state's
    batch), :meth:`copy`, :attr:`batch`, :attr:`family`, :attr:`model_id`, and say where
    each array's batch axis is (:meth:`batch_axis`)."""

    family: ClassVar[str] = "stream"
    model_id: str
    steps: int

    @property
    def batch(self) -> int:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def copy(self: T) -> T:
        raise NotImplementedError

    def batch_axis(self, name: str) -> int:
        """The batch axis of state array ``name`` (0 unless said otherwise)."""
        return 0

    def to_bytes(self) -> bytes:
        """The state as one ``.npz`` blob that names this stream's family and model."""
        buf = io.BytesIO()
        meta = {"format": _FORMAT, "family": self.family, "model_id": self.model_id, "steps": self.steps}
        arrays = {"__meta__": np.frombuffer(json.dumps(meta).encode(), np.uint8), **self.state_dict()}
        np.savez(buf, **arrays)  # type: ignore[arg-type]  # (mypy matches the names against savez's flags)
        return buf.getvalue()

    def restore(self, blob: bytes) -> None:
        """Load a state written by :meth:`to_bytes` of a stream of the same model."""
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            meta = json.loads(arrays.pop("__meta__").tobytes().decode())
        except Exception as exc:  # any unreadable blob is the same user error
            raise ConfigError(f"not a saved stream state ({type(exc).__name__}: {exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ConfigError("not a saved stream state (no rnnkit stream header)")
        if meta.get("family") != self.family or meta.get("model_id") != self.model_id:
            raise ConfigError(f"this state belongs to a {meta.get('family')} stream of model {meta.get('model_id')}, "
                              f"not to this {self.family} stream of model {self.model_id}")
        self.load_state_dict(arrays)
        self.steps = int(meta.get("steps", 0))

    def split(self: T) -> list[T]:
        """One stream per sequence of the batch."""
        state = self.state_dict()
        parts = []
        for b in range(self.batch):
            part = self.copy()
            part.load_state_dict({k: np.take(v, [b], axis=self.batch_axis(k)) for k, v in state.items()})
            parts.append(part)
        return parts


class Stream(StreamState):
    """Base class of the recurrent streams; see the module docstring. ``batch`` streams advance together."""

    #: number of trailing dimensions of one step's input: 0 for token ids, 1 for feature vectors
    input_rank: ClassVar[int] = 1

    def __init__(self, engine: StepEngine, batch: int, model_key: str) -> None:
        if batch < 1:
            raise ConfigError(f"a stream needs a batch of at least 1, got {batch}")
        self.engine = engine
        self.model_id = model_key
        self._state: EngineState = engine.new_state(batch)
        self.extras: dict[str, np.ndarray] = self._new_extras(batch)
        self.steps = 0  # steps fed since the stream was opened or reset (for sequences: the longest)

    # ------------------------------------------------------------------ family hooks
    def _new_extras(self, batch: int) -> dict[str, np.ndarray]:
        """Family state beside the recurrent one (running pooled outputs ...), batch first."""
        return {}

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _write_input(self, x: np.ndarray) -> None:
        """Put one step's input (B, ...) into the engine's layer-0 buffer."""
        raise NotImplementedError

    def _output(self) -> np.ndarray:
        """This step's output (B, ...) from the engine's top layer (may be a reused buffer)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ stepping
    @property
    def batch(self) -> int:
        return self._state.batch

    def explain(self) -> str:
        return f"{self.family} stream of {self.batch} sequence(s); {self.engine.explain()}"

    def step(self, x) -> np.ndarray:
        """One step: ``x`` (B,) token ids or (B, F) features -> this step's output (B, ...)."""
        x = self._check_input(np.asarray(x))
        expected = 1 + self.input_rank
        if x.ndim != expected or x.shape[0] != self.batch:
            raise ConfigError(f"a {self.family} stream step takes {self._step_shape()}, got shape {x.shape}")
        return self.advance(x).copy()

    def feed(self, chunk) -> np.ndarray:
        """T steps: ``chunk`` (B, T) ids or (B, T, F) features -> outputs (B, T, ...)."""
        chunk = self._check_input(np.asarray(chunk))
        expected = 2 + self.input_rank
        if chunk.ndim != expected or chunk.shape[0] != self.batch:
            raise ConfigError(f"a {self.family} stream chunk is (batch={self.batch}, time"
                              f"{', features' if self.input_rank else ''}), got shape {chunk.shape}")
        outs = [self.advance(chunk[:, t]).copy() for t in range(chunk.shape[1])]
        if not outs:
            return np.zeros((self.batch, 0), np.float32)
        return np.stack(outs, 1)

    def advance(self, x: np.ndarray) -> np.ndarray:
        """One step without input checks; returns the output buffer, which the next step
        overwrites (for tight loops such as sampling; :meth:`step` returns a copy)."""
        self._write_input(x)
        self.engine.step(self._state)
        self.steps += 1
        return self._output()

    def _step_shape(self) -> str:
        return f"(batch={self.batch},)" if not self.input_rank else f"(batch={self.batch}, features)"

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of the state: ``h`` (and ``c``) (num_layers, B, H), then the family's extras."""
        out = self.engine.get(self._state)
        out.update({k: v.copy() for k, v in self.extras.items()})
        return out

    def _expected_shapes(self, batch: int) -> dict[str, tuple[int, ...]]:
        sizes = (getattr(self.engine, "state_sizes", None)
                 or {n: self.engine.hidden_size for n in self.engine.state_names})
        out: dict[str, tuple[int, ...]] = {name: (self.engine.num_layers, batch, sizes[name])
                                           for name in self.engine.state_names}
        out.update({k: (batch, *v.shape[1:]) for k, v in self.extras.items()})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Replace the state (any batch size: the stream takes the state's batch)."""
        first = self.engine.state_names[0]
        if not isinstance(state, dict) or first not in state:
            raise ConfigError(f"a {self.family} stream state is a dict with {', '.join(self._expected_shapes(1))}")
        h = np.asarray(state[first])
        batch = h.shape[1] if h.ndim == 3 else -1
        expected = self._expected_shapes(max(batch, 1))
        missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        if missing or unexpected:
            raise ConfigError(f"this {self.family} stream's state holds {', '.join(expected)}; "
                              f"missing {missing or 'nothing'}, unexpected {unexpected or 'nothing'}")
        for name, shape in expected.items():
            value = np.asarray(state[name])
            if value.shape != shape or value.dtype != np.float32:
                raise ConfigError(f"state {name!r} must be float32 of shape {shape}, "
                                  f"got {value.dtype} of shape {value.shape}")
        if batch != self.batch:
            self._state = self.engine.new_state(batch)
        self.engine.set(self._state, {k: np.asarray(state[k]) for k in self.engine.state_names})
        self.extras = {k: np.array(state[k], dtype=np.float32) for k in self.extras}

    def copy(self: R) -> R:
        """An independent stream at the same point (the engine and weights are shared)."""
        other = _copy.copy(self)
        other._state = self._state.copy()
        other.extras = {k: v.copy() for k, v in self.extras.items()}
        return other

    def reset(self) -> None:
        """Back to the state the stream was opened with."""
        self._state = self.engine.new_state(self.batch)
        self.extras = self._new_extras(self.batch)
        self.steps = 0

    def batch_axis(self, name: str) -> int:
        return 1 if name in self.engine.state_names else 0


def join(streams: Sequence[T]) -> T:
    """One stream whose batch holds all of ``streams``' sequences, in order (same model)."""
    if not streams:
        raise ConfigError("join needs at least one stream")
    first = streams[0]
    for s in streams[1:]:
        if type(s) is not type(first) or s.model_id != first.model_id:
            raise ConfigError("only streams of one model can be joined")
    states = [s.state_dict() for s in streams]
    joined = {k: np.concatenate([st[k] for st in states], axis=first.batch_axis(k)) for k in states[0]}
    out = first.copy()
    out.load_state_dict(joined)
    out.steps = max(s.steps for s in streams)
    return out


__all__ = ["Stream", "StreamState", "join", "model_id", "as_numpy"]
