"""``Seq2Seq``: an attentional encoder-decoder for translation (many-to-many, unsynced).

Encoder (Sutskever et al. 2014; Bahdanau et al. 2015): source embeddings through a
bidirectional recurrent layer; each direction has ``hidden_size / 2`` units, so the
memory ``m_s = [\\overrightarrow{h}_s; \\overleftarrow{h}_s]`` and the concatenated final
states both have ``hidden_size`` -- the decoder starts from that state, layer by layer.

Decoder (Luong et al. 2015, with input feeding):

.. math::
    s_t = \\mathrm{RNN}([E y_{t-1};\\ \\tilde h_{t-1}],\\ s_{t-1})\\qquad
    c_t, a_t = \\mathrm{Attention}(s_t, m)

    \\tilde h_t = \\tanh(W_c [c_t; s_t]),\\qquad p(y_t \\mid y_{<t}, x) = \\mathrm{softmax}(W_o \\tilde h_t + b_o)

Input feeding gives the decoder the previous attentional vector :math:`\\tilde h_{t-1}`,
so it knows what it already attended to. Without it the decoder runs over the whole
target at once (one fused call), and attention is applied to all steps together.
``tie_embeddings`` reuses the target embedding as :math:`W_o` (Press & Wolf 2017).
``teacher_forcing`` < 1 feeds, at each step of each sentence with probability
``1 - ratio``, the model's own previous prediction instead of the true word (Williams &
Zipser 1989; Bengio et al. 2015's scheduled sampling with a fixed rate).

Shapes: ``src`` (B, S) ids with ``src_lengths`` (B,); ``tgt_in`` (B, T) starting with
``<bos>``; logits (B, T, V_tgt); attention weights (B, T, S).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent, TorchState
from rnnkit.layers.attention import ATTENTION_KINDS, Attention


@dataclass
class Seq2SeqConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    cell: str = "lstm"
    hidden_size: int = 256
    num_layers: int = 1
    embedding_size: int = 256
    bidirectional: bool = True
    attention: str = "general"  # dot | general | additive | none
    input_feeding: bool = True
    dropout: float = 0.2
    zoneout: float = 0.0  # zoneout probability on the recurrent state (Krueger et al. 2017)
    tie_embeddings: bool = False

    def __post_init__(self) -> None:
        if min(self.src_vocab_size, self.tgt_vocab_size) < 1:
            raise ConfigError("vocabulary sizes must be positive")
        if self.attention not in (*ATTENTION_KINDS, "none"):
            raise ConfigError(f"attention must be one of {', '.join(ATTENTION_KINDS)} or none, "
                              f"got {self.attention!r}")
        if self.bidirectional and self.hidden_size % 2:
            raise ConfigError(f"a bidirectional encoder splits hidden_size between its two directions; "
                              f"use an even size, not {self.hidden_size}")
        if self.tie_embeddings and self.embedding_size != self.hidden_size:
            raise ConfigError("tie_embeddings needs embedding_size == hidden_size "
                              f"(got {self.embedding_size} and {self.hidden_size})")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict:
        return asdict(self)


class Memory(NamedTuple):
    """What the decoder attends to: outputs (B, S, H), their keys, and the valid-step mask (B, S)."""

    outputs: Tensor
    keys: Tensor | None
    mask: Tensor

    def select(self, idx: Tensor) -> Memory:
        return Memory(self.outputs[idx], None if self.keys is None else self.keys[idx], self.mask[idx])


class DecoderState(NamedTuple):
    """The recurrent state (layers, B, H) and the attentional vector fed to the next step (B, H)."""

    rnn: TorchState
    feed: Tensor

    def select(self, idx: Tensor) -> DecoderState:
        rnn = tuple(s[:, idx] for s in self.rnn) if isinstance(self.rnn, tuple) else self.rnn[:, idx]
        return DecoderState(rnn, self.feed[idx])


class Seq2Seq(nn.Module):
    """See the module docstring for the equations."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = c = config
        self.src_embedding = nn.Embedding(c.src_vocab_size, c.embedding_size, padding_idx=0)
        self.tgt_embedding = nn.Embedding(c.tgt_vocab_size, c.embedding_size, padding_idx=0)
        enc_hidden = c.hidden_size // 2 if c.bidirectional else c.hidden_size
        self.encoder = Recurrent(c.cell, c.embedding_size, enc_hidden, c.num_layers, batch_first=True,
                                 dropout=c.dropout, bidirectional=c.bidirectional, zoneout=c.zoneout)
        self.has_attention = c.attention != "none"
        self.feeds_input = self.has_attention and c.input_feeding
        dec_in = c.embedding_size + (c.hidden_size if self.feeds_input else 0)
        self.decoder = Recurrent(c.cell, dec_in, c.hidden_size, c.num_layers, batch_first=True, dropout=c.dropout,
                                 zoneout=c.zoneout)
        if self.has_attention:
            self.attention = Attention(c.attention, c.hidden_size, c.hidden_size)
            self.combine = nn.Linear(2 * c.hidden_size, c.hidden_size, bias=False)
        self.drop = nn.Dropout(c.dropout)
        self.output = nn.Linear(c.hidden_size, c.tgt_vocab_size)
        if c.tie_embeddings:
            self.output.weight = self.tgt_embedding.weight

    # ------------------------------------------------------------- encoder
    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[Memory, DecoderState]:
        """Read the source; the decoder's first state is the encoder's last (both directions)."""
        if src.dim() != 2:
            raise ValueError(f"src must be token ids of shape (batch, time), got {tuple(src.shape)}")
        outputs, state = self.encoder(self.drop(self.src_embedding(src)), lengths=src_lengths)  # (B, S, H)
        mask = torch.arange(src.shape[1], device=src.device)[None, :] < src_lengths.to(src.device)[:, None]
        keys = self.attention.prepare(outputs) if self.has_attention else None
        if self.config.bidirectional:  # (layers * 2, B, H/2) -> (layers, B, H): forward and backward side by side
            def join(s: Tensor) -> Tensor:
                n, b, h = s.shape
                return s.view(n // 2, 2, b, h).permute(0, 2, 1, 3).reshape(n // 2, b, 2 * h)

            state = tuple(join(s) for s in state) if isinstance(state, tuple) else join(state)
        parts = state if isinstance(state, tuple) else (state,)
        if tuple(p.shape[-1] for p in parts) != self.decoder.state_size:
            # a state not laid out per unit (mLSTM's matrix memory) does not join across
            # directions: the decoder starts from zeros and reads the source through attention
            state = self.decoder.initial_state(src.shape[0], outputs.device, outputs.dtype)
        feed = outputs.new_zeros(src.shape[0], self.config.hidden_size)
        return Memory(outputs, keys, mask), DecoderState(state, feed)

    # ------------------------------------------------------------- decoder
    def _attend(self, s: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        """Decoder outputs ``s`` (B, H) or (B, T, H) -> attentional vectors of the same shape
        and weights (B, S) or (B, T, S)."""
        if not self.has_attention:
            return s, s.new_zeros(*s.shape[:-1], memory.outputs.shape[1])
        context, weights = self.attention(s, memory.keys, memory.outputs, memory.mask)
        return torch.tanh(self.combine(torch.cat([context, s], dim=-1))), weights

    def step(self, tokens: Tensor, state: DecoderState, memory: Memory) -> tuple[Tensor, DecoderState, Tensor]:
        """One decoder step: ``tokens`` (B,) -> logits (B, V), the new state, attention (B, S)."""
        x = self.drop(self.tgt_embedding(tokens))
        if self.feeds_input:
            x = torch.cat([x, state.feed], dim=-1)
        s, rnn = self.decoder.step(x, state.rnn)
        h, weights = self._attend(s, memory)
        return self.output(self.drop(h)), DecoderState(rnn, h), weights

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, teacher_forcing: float = 1.0,
                return_attention: bool = False):
        """Logits (B, T, V) for every target step (and attention (B, T, S) if asked)."""
        memory, state = self.encode(src, src_lengths)
        if not self.feeds_input and teacher_forcing >= 1.0:
            # every step's input is known: run the decoder over the whole target in one call
            s, _ = self.decoder(self.drop(self.tgt_embedding(tgt_in)), state.rnn)  # (B, T, H)
            h, weights = self._attend(s, memory)  # every step attends at once: (B, T, H), (B, T, S)
            logits = self.output(self.drop(h))
            return (logits, weights) if return_attention else logits
        step_logits: list[Tensor] = []
        step_weights: list[Tensor] = []
        tokens = tgt_in[:, 0]
        for t in range(tgt_in.shape[1]):
            out, state, w = self.step(tokens, state, memory)
            step_logits.append(out)
            step_weights.append(w)
            if t + 1 < tgt_in.shape[1]:
                tokens = tgt_in[:, t + 1]
                if teacher_forcing < 1.0:
                    own = out.argmax(-1)
                    tokens = torch.where(torch.rand(tokens.shape, device=tokens.device) < teacher_forcing,
                                         tokens, own)
        logits = torch.stack(step_logits, 1)
        return (logits, torch.stack(step_weights, 1)) if return_attention else logits
