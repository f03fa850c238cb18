"""``ConditionedLM``: generate a sentence given a condition (one input, a sequence out).

The captioning-shaped problem (Vinyals et al. 2015 "Show and Tell"; Karpathy & Fei-Fei
2015): a condition -- a class label or a feature vector -- sets the recurrent state
before the first word, and (optionally) is fed again beside every word, so a long
sentence cannot forget what it was asked to be about.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent, TorchState


@dataclass
class ConditionedLMConfig:
    """``num_labels > 0``: the condition is a class id (B,) read through an embedding;
    ``feature_size > 0``: it is a feature vector (B, F) read through a linear layer.
    Exactly one of the two is set."""

    vocab_size: int
    num_labels: int = 0
    feature_size: int = 0
    cell: str = "lstm"
    hidden_size: int = 256
    num_layers: int = 1
    embedding_size: int | None = None  # default: hidden_size
    condition_size: int = 64
    condition_every_step: bool = True
    dropout: float = 0.0
    zoneout: float = 0.0  # zoneout probability on the recurrent state (Krueger et al. 2017)
    tie_weights: bool = False

    def __post_init__(self) -> None:
        if self.vocab_size < 1:
            raise ConfigError(f"vocab_size must be positive, got {self.vocab_size}")
        if (self.num_labels > 0) == (self.feature_size > 0):
            raise ConfigError("a conditioned model needs exactly one of num_labels (class labels) "
                              "and feature_size (feature vectors)")
        if self.tie_weights and (self.embedding_size or self.hidden_size) != self.hidden_size:
            raise ConfigError("tie_weights needs embedding_size == hidden_size")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict:
        return asdict(self)


class ConditionedLM(nn.Module):
    r"""Condition -> initial state; then a language model that may also see the condition.

    .. math::
        c = E_c[y] \ \text{(label)}\quad\text{or}\quad c = W_f f + b_f \ \text{(features)}

        h_0^{(l)} = \tanh(W_h^{(l)} c),\qquad m_0^{(l)} = W_m^{(l)} c \ \text{(LSTM memory)}

        h_t = \mathrm{RNN}([E w_{t-1};\ c],\ h_{t-1}),\qquad
        p(w_t \mid w_{<t}, c) = \mathrm{softmax}(W_o h_t + b_o)

    (``[E w_{t-1}; c]`` is just ``E w_{t-1}`` without ``condition_every_step``.)

    Shapes: ``ids`` (B, T) with ``<bos>`` first; ``condition`` (B,) long or (B, F) float;
    logits (B, T, V); state as :class:`~rnnkit.layers.Recurrent` (layers, B, H).
    """

    def __init__(self, config: ConditionedLMConfig) -> None:
        super().__init__()
        self.config = c = config
        emb = c.embedding_size or c.hidden_size
        if c.num_labels:
            self.condition_encoder: nn.Module = nn.Embedding(c.num_labels, c.condition_size)
        else:
            self.condition_encoder = nn.Linear(c.feature_size, c.condition_size)
        self.embedding = nn.Embedding(c.vocab_size, emb)
        rnn_in = emb + (c.condition_size if c.condition_every_step else 0)
        self.rnn = Recurrent(c.cell, rnn_in, c.hidden_size, c.num_layers, batch_first=True, dropout=c.dropout,
                             zoneout=c.zoneout)
        # the condition sets h (and c, for a state (h, c)); further parts (sLSTM's n, m) start at
        # zero; a cell that keeps no h in its state (mLSTM) reads the condition at every step
        sizes = self.rnn.state_size
        self.conditioned_parts = 0 if sizes[0] != c.hidden_size else 2 if len(sizes) == 2 else 1
        if not self.conditioned_parts and not c.condition_every_step:
            raise ValueError(f"a {c.cell} keeps no h in its state to condition: use condition_every_step")
        self.init_state = nn.Linear(c.condition_size, max(1, self.conditioned_parts) * c.num_layers * c.hidden_size)
        self.drop = nn.Dropout(c.dropout)
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size)
        if c.tie_weights:
            self.decoder.weight = self.embedding.weight

    def encode_condition(self, condition: Tensor) -> Tensor:
        """(B,) class ids or (B, F) features -> (B, condition_size)."""
        if self.config.num_labels:
            if condition.dim() != 1 or condition.dtype != torch.long:
                raise ValueError(f"expected class ids of shape (batch,), got {tuple(condition.shape)} "
                                 f"{condition.dtype}")
        elif condition.dim() != 2 or condition.shape[1] != self.config.feature_size:
            raise ValueError(f"expected features of shape (batch, {self.config.feature_size}), "
                             f"got {tuple(condition.shape)}")
        return self.condition_encoder(condition)

    def initial_state(self, cond: Tensor) -> TorchState:
        """The state before ``<bos>``, from the encoded condition (B, C)."""
        c = self.config
        zero = self.rnn.initial_state(cond.shape[0], cond.device, cond.dtype)
        if not self.conditioned_parts:
            return zero
        parts = self.init_state(cond).view(cond.shape[0], -1, c.num_layers, c.hidden_size)
        parts = parts.permute(1, 2, 0, 3).contiguous()  # (parts, layers, B, H)
        given = [torch.tanh(parts[0]), *(parts[1:self.conditioned_parts])]
        if len(self.rnn.state_size) == 1:
            return given[0]
        return (*given, *tuple(zero)[len(given):])

    def _inputs(self, ids: Tensor, cond: Tensor) -> Tensor:
        x = self.drop(self.embedding(ids))  # (B, T, E)
        if self.config.condition_every_step:
            x = torch.cat([x, cond.unsqueeze(1).expand(-1, ids.shape[1], -1)], dim=-1)
        return x

    def forward(self, ids: Tensor, condition: Tensor, lengths: Tensor | None = None,
                state: TorchState | None = None) -> tuple[Tensor, TorchState]:
        if ids.dim() != 2:
            raise ValueError(f"ConditionedLM expects token ids of shape (batch, time), got {tuple(ids.shape)}")
        cond = self.encode_condition(condition)
        if state is None:
            state = self.initial_state(cond)
        out, state = self.rnn(self._inputs(ids, cond), state, lengths)  # (B, T, H)
        return self.decoder(self.drop(out)), state

    def step(self, ids: Tensor, state: TorchState, condition: Tensor) -> tuple[Tensor, TorchState]:
        """One token per sequence: ``ids`` (B,) -> logits (B, V) and the new state."""
        logits, state = self.forward(ids.unsqueeze(1), condition, state=state)
        return logits.squeeze(1), state
