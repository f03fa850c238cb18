"""Streams over token ids: the language model, the conditioned generator, the translator's decoder.

Each step reads one token id per sequence, looks its embedding up straight into the
engine's input buffer, runs the recurrent stack and returns logits over the vocabulary
(B, V). Sampling on top of these: :mod:`rnnkit.generation.sampling`.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnkit.errors import ConfigError
from rnnkit.inference.engine import StepEngine
from rnnkit.inference.stream import Stream, as_numpy, model_id
from rnnkit.inference.torch_engine import make_engine
from rnnkit.layers import TorchState
from rnnkit.models.conditioned_lm import ConditionedLM
from rnnkit.models.language_model import LanguageModel
from rnnkit.models.seq2seq import Memory, Seq2Seq


def torch_state_arrays(state: TorchState, names: tuple[str, ...] = ("h", "c")) -> dict[str, np.ndarray]:
    """torch's ``(h, c)`` or ``h`` (layers, B, H) -> ``{"h": ..., "c": ...}`` float32 arrays
    (``names``: the engine's ``state_names``, for cells with other states)."""
    parts = state if isinstance(state, tuple) else (state,)
    return dict(zip(names, (as_numpy(p) for p in parts)))


class _TokenStream(Stream):
    """Token ids in (embedding rows into layer 0), logits out through a linear decoder."""

    input_rank = 0

    def __init__(self, engine: StepEngine, embedding: np.ndarray, decoder_w: np.ndarray, decoder_b: np.ndarray,
                 batch: int, key_arrays: list[np.ndarray]) -> None:
        self.embedding = embedding  # (V_in, E)
        self.decoder_wt = np.ascontiguousarray(decoder_w.T)  # (H', V)
        self.decoder_b = decoder_b  # (V,)
        self.vocab_size = embedding.shape[0]
        self._logits: dict[int, np.ndarray] = {}
        arrays = [*key_arrays, embedding, decoder_w, decoder_b, *engine.weight_arrays()]
        super().__init__(engine, batch, model_id(arrays))

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        if x.dtype.kind not in "iu":
            raise ConfigError(f"a {self.family} stream reads token ids (integers), got {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= self.vocab_size):
            raise ConfigError(f"token ids must lie in [0, {self.vocab_size}), got {x.min()}..{x.max()}")
        return x

    def _embed(self, ids: np.ndarray) -> None:
        self.engine.input_view(self._state)[:, : self.embedding.shape[1]] = self.embedding[ids]

    def _write_input(self, x: np.ndarray) -> None:
        self._embed(x)

    def _decode(self, h: np.ndarray) -> np.ndarray:
        out = self._logits.get(h.shape[0])
        if out is None:
            out = self._logits[h.shape[0]] = np.empty((h.shape[0], self.decoder_b.shape[0]), np.float32)
        np.dot(h, self.decoder_wt, out=out)
        np.add(out, self.decoder_b, out=out)
        return out

    def _output(self) -> np.ndarray:
        return self._decode(self.engine.top(self._state))


class LanguageStream(_TokenStream):
    """A :class:`~rnnkit.models.LanguageModel` kept open: token id -> next-token logits (B, V).

    Equal to ``model(ids)`` over the same tokens (tested: sequence == steps == chunks).
    """

    family = "language model"

    def __init__(self, model: LanguageModel, batch: int = 1) -> None:
        super().__init__(make_engine(model.rnn), as_numpy(model.embedding.weight), as_numpy(model.decoder.weight),
                         as_numpy(model.decoder.bias), batch, [])

    def set_torch_state(self, state: TorchState) -> None:
        """Continue from a state the torch model returned (a prompt read in one full pass)."""
        self.load_state_dict(torch_state_arrays(state, self.engine.state_names))


class ConditionedStream(_TokenStream):
    """A :class:`~rnnkit.models.ConditionedLM` opened on one condition per sequence.

    The condition sets the initial state and, with ``condition_every_step``, sits beside
    every token's embedding; it is part of the stream's state (``condition``, (B, C)).
    Feed ``<bos>`` first, as the model was trained.
    """

    family = "conditioned generator"

    def __init__(self, model: ConditionedLM, condition, batch: int | None = None) -> None:
        self.model = model
        cond = torch.as_tensor(condition)
        with torch.inference_mode():
            encoded = model.encode_condition(cond.to(model.embedding.weight.device))  # (B, C)
            state = model.initial_state(encoded)
        engine = make_engine(model.rnn)
        self._initial = torch_state_arrays(state, engine.state_names)
        self._condition = as_numpy(encoded)
        if batch is not None and batch != self._condition.shape[0]:
            raise ConfigError(f"{self._condition.shape[0]} condition(s) given for a batch of {batch}")
        super().__init__(engine, as_numpy(model.embedding.weight), as_numpy(model.decoder.weight),
                         as_numpy(model.decoder.bias), self._condition.shape[0],
                         [as_numpy(p) for p in model.condition_encoder.parameters()]
                         + [as_numpy(p) for p in model.init_state.parameters()])
        self.reset()

    def _new_extras(self, batch: int) -> dict[str, np.ndarray]:
        return {"condition": self._condition.copy()} if batch == self._condition.shape[0] else {}

    def reset(self) -> None:
        super().reset()
        self.load_state_dict({**self._initial, "condition": self._condition})

    def _expected_shapes(self, batch: int) -> dict[str, tuple[int, ...]]:
        shapes = super()._expected_shapes(batch)
        shapes["condition"] = (batch, self._condition.shape[1])
        return shapes

    def _write_input(self, x: np.ndarray) -> None:
        self._embed(x)
        if self.model.config.condition_every_step:
            e = self.embedding.shape[1]
            self.engine.input_view(self._state)[:, e:] = self.extras["condition"]


class DecoderStream(_TokenStream):
    """The translator's decoder opened on encoded source sentences: target token ->
    logits (B, V_tgt); :attr:`attention` holds the last step's weights (B, S).

    The encoder runs once, in torch, when the stream opens; its memory (``memory``,
    ``keys``, ``mask``, batch first) and the input-feeding vector ``feed`` (B, H) are part
    of the state. The recurrent step runs in the engine, attention in torch (one small
    batched product per step, exact to the model's own).
    """

    family = "translator decoder"

    def __init__(self, model: Seq2Seq, src, src_lengths=None) -> None:
        self.model = model
        src = torch.as_tensor(src, dtype=torch.long)
        if src.dim() != 2:
            raise ConfigError(f"source ids must be (batch, time), got shape {tuple(src.shape)}")
        lengths = (torch.full((src.shape[0],), src.shape[1], dtype=torch.long) if src_lengths is None
                   else torch.as_tensor(src_lengths, dtype=torch.long))
        with torch.inference_mode():
            memory, state = model.encode(src.to(model.output.weight.device), lengths)
        engine = make_engine(model.decoder)
        self._opened = {**torch_state_arrays(state.rnn, engine.state_names), "feed": as_numpy(state.feed),
                        "memory": as_numpy(memory.outputs), "mask": memory.mask.cpu().numpy().astype(np.float32)}
        if memory.keys is not None:
            self._opened["keys"] = as_numpy(memory.keys)
        self.attention = np.zeros((src.shape[0], src.shape[1]), np.float32)
        super().__init__(engine, as_numpy(model.tgt_embedding.weight),
                         as_numpy(model.output.weight), as_numpy(model.output.bias), src.shape[0],
                         [as_numpy(p) for p in model.parameters()])
        self.reset()

    def _new_extras(self, batch: int) -> dict[str, np.ndarray]:
        # set before the base class asks: the memory and the first input feed of the opened source
        return {k: v.copy() for k, v in self._opened.items() if k in ("feed", "memory", "mask", "keys")}

    def reset(self) -> None:
        super().reset()
        self.load_state_dict(dict(self._opened))

    def _expected_shapes(self, batch: int) -> dict[str, tuple[int, ...]]:
        shapes = super()._expected_shapes(batch)
        for k, v in self.extras.items():
            shapes[k] = (batch, *v.shape[1:])
        return shapes

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        # source lengths differ between states: adopt the given source length first
        if isinstance(state, dict) and "memory" in state:
            s = np.asarray(state["memory"]).shape[1:2]
            self.extras = {k: np.zeros((1, *s, *v.shape[2:]), np.float32) if k in ("memory", "keys", "mask") else v
                           for k, v in self.extras.items()}
        super().load_state_dict(state)

    def _write_input(self, x: np.ndarray) -> None:
        self._embed(x)
        if self.model.feeds_input:
            e = self.embedding.shape[1]
            self.engine.input_view(self._state)[:, e:] = self.extras["feed"]

    def _output(self) -> np.ndarray:
        s = torch.from_numpy(self.engine.top(self._state).copy())
        ex = self.extras
        memory = Memory(torch.from_numpy(ex["memory"]), torch.from_numpy(ex["keys"]) if "keys" in ex else None,
                        torch.from_numpy(ex["mask"]) > 0.5)
        with torch.inference_mode():
            h, weights = self.model._attend(s, memory)
        self.attention = weights.numpy()
        ex["feed"][...] = h.numpy()
        return self._decode(ex["feed"])


__all__ = ["LanguageStream", "ConditionedStream", "DecoderStream", "torch_state_arrays"]
