"""``LMClassifier``: a classifier on a pretrained language model's encoder (ULMFiT)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent, embedding_dropout, locked_dropout
from rnnkit.layers.pooling import masked_max, masked_mean, valid_mask
from rnnkit.models.language_model import LanguageModelConfig


@dataclass
class LMClassifierConfig:
    """The language model's configuration (``language_model``, its dropouts included: they
    regularise the encoder while it is fine-tuned) and the head's: ``head_hidden`` units,
    ``dropout`` before the head's first layer and half of it before the second (ULMFiT:
    0.4 and 0.1 times a multiplier). ``bptt``: in training, texts longer than this many
    tokens are read in two parts (see :meth:`LMClassifier.encode`); ``None`` backpropagates
    through whole texts."""

    num_classes: int
    language_model: LanguageModelConfig | dict[str, Any] = field(default_factory=dict)
    head_hidden: int = 50
    dropout: float = 0.2
    bptt: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.language_model, dict):
            self.language_model = LanguageModelConfig(**self.language_model)
        if self.num_classes < 2:
            raise ConfigError(f"a classifier needs at least 2 classes, got {self.num_classes}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.bptt is not None and self.bptt < 1:
            raise ConfigError(f"bptt must be at least 1 token, got {self.bptt}")

    @property
    def lm(self) -> LanguageModelConfig:
        assert isinstance(self.language_model, LanguageModelConfig)  # made so by __post_init__
        return self.language_model

    def to_dict(self) -> dict:
        return asdict(self)


class LMClassifier(nn.Module):
    r"""A language model's embedding and recurrent stack, read by a pooling head
    (Howard & Ruder 2018, "Universal Language Model Fine-tuning for Text Classification").

    The top layer's outputs :math:`H = (h_1 .. h_T)` are pooled three ways and concatenated,
    ``concat pooling``: :math:`h_c = [h_T, \max_t h_t, \operatorname{mean}_t h_t]` (masked by
    length), then ``LayerNorm -> Dropout -> Linear(3E, head_hidden) -> ReLU -> LayerNorm ->
    Dropout -> Linear(head_hidden, classes)`` (ULMFiT's head with layer normalisation in
    place of batch normalisation: no failure on a batch of one, no per-rank statistics under
    torchrun, the same computation in training and use).

    The encoder's modules carry the language model's names (``embedding``, ``rnn``), so its
    weights load from a language-model checkpoint with :meth:`load_encoder`; the decoder is
    not kept. :meth:`layer_groups` (embedding, each recurrent layer, the head) lets the
    trainer give lower layers smaller learning rates and unfreeze them one at a time.

    Shapes: ``ids`` (B, T) token ids, ``lengths`` (B,) (default: all T) -> logits (B, classes).
    """

    def __init__(self, config: LMClassifierConfig) -> None:
        super().__init__()
        self.config = config
        lm = config.lm
        emb = lm.embedding_size or lm.hidden_size
        self.embedding = nn.Embedding(lm.vocab_size, emb)
        self.rnn = Recurrent(lm.cell, emb, lm.hidden_size, lm.num_layers, batch_first=True, dropout=lm.dropout,
                             locked_dropout=lm.locked_dropout, weight_drop=lm.weight_drop,
                             forget_bias=lm.forget_bias, proj_size=lm.proj_size, zoneout=lm.zoneout)
        features = 3 * self.rnn.output_size
        p = config.dropout
        self.head = nn.Sequential(nn.LayerNorm(features), nn.Dropout(p), nn.Linear(features, config.head_hidden),
                                  nn.ReLU(), nn.LayerNorm(config.head_hidden), nn.Dropout(p / 2),
                                  nn.Linear(config.head_hidden, config.num_classes))

    def load_encoder(self, lm_state: dict[str, Tensor]) -> None:
        """Copy a :class:`~rnnkit.models.LanguageModel`'s embedding and recurrent weights."""
        own = self.state_dict()
        wanted = {k: v for k, v in lm_state.items() if k.startswith(("embedding.", "rnn."))}
        missing = [k for k in own if k.startswith(("embedding.", "rnn.")) and k not in wanted]
        wrong = [k for k, v in wanted.items() if k not in own or own[k].shape != v.shape]
        if missing or wrong:
            raise ConfigError(f"the language model does not fit this encoder (missing {missing[:3]}, "
                              f"mismatched {wrong[:3]})")
        self.load_state_dict(wanted, strict=False)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Bottom to top: the embedding, each recurrent layer, the head (with any other
        parameter of the encoder in the top recurrent layer's group)."""
        groups = [list(self.embedding.parameters())] + [list(c.parameters()) for c in self.rnn.cells]
        placed = {id(p) for g in groups for p in g}
        groups[-1] += [p for p in self.rnn.parameters() if id(p) not in placed]
        return [*groups, list(self.head.parameters())]

    def _dropout(self, x: Tensor) -> Tensor:
        lm = self.config.lm
        if lm.locked_dropout:
            return locked_dropout(x, lm.dropout, self.training, time_dim=1)
        return nn.functional.dropout(x, lm.dropout, self.training)

    def encode(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        r"""Concat pooling of the top layer's outputs over each whole text: (B, 3 * output size).

        With ``config.bptt = W``, in training with gradients on, a text of length
        :math:`L > W` is read in two parts (ULMFiT's "backpropagation through time for text
        classification", BPT3C, with one cut): its first :math:`L - W` tokens without
        gradient, their final state carried into the last :math:`W` tokens, which are
        backpropagated. Pooling still covers every token (the first part's outputs enter max
        and mean as constants), so long reviews are read whole at the memory and backward
        cost of :math:`W` tokens. The outputs equal a whole reading's (same dropout masks
        aside); only the gradient is cut. In evaluation a text is read in one pass.
        """
        if ids.dim() != 2:
            raise ValueError(f"LMClassifier expects token ids of shape (batch, time), got {tuple(ids.shape)}")
        b, t = ids.shape
        if lengths is None:
            lengths = torch.full((b,), t, dtype=torch.long)
        lengths = lengths.to(torch.long).cpu()
        x = embedding_dropout(self.embedding, ids, self.config.lm.embedding_dropout, self.training)
        x = self._dropout(x)  # one locked-dropout mask per text, shared by both parts
        w = self.config.bptt
        if w is not None and t > w and self.training and torch.is_grad_enabled():
            return self._encode_in_two_parts(x, lengths, w)
        out, _ = self.rnn(x, None, lengths)  # (B, T, E)
        out = self._dropout(out)
        mask = valid_mask(lengths.to(out.device), t)
        last = out[torch.arange(b, device=out.device), (lengths - 1).clamp_min(0).to(out.device)]
        return torch.cat([last, masked_max(out, mask), masked_mean(out, mask)], dim=-1)

    def _encode_in_two_parts(self, x: Tensor, lengths: Tensor, w: int) -> Tensor:
        """BPT3C with one cut (see :meth:`encode`); ``x`` (B, T, E) embedded, ``lengths`` on the CPU."""
        b, device = x.shape[0], x.device
        head_len = (lengths - w).clamp_min(0)  # tokens read without gradient, per text
        tail_len = lengths - head_len
        long_rows = head_len.nonzero().squeeze(1)
        state = _parts(self.rnn.initial_state(b, device, x.dtype))
        feature = self.rnn.output_size
        head_max = x.new_full((b, feature), float("-inf"))
        head_sum = x.new_zeros(b, feature)
        if len(long_rows):
            rows = long_rows.to(device)
            with torch.no_grad():
                steps = int(head_len.max())
                out, final = self.rnn(x[rows, :steps], None, head_len[long_rows])
                out = self._dropout(out)
                mask = valid_mask(head_len[long_rows].to(device), steps)
                head_max = head_max.index_copy(0, rows, masked_max(out, mask).to(x.dtype))
                head_sum = head_sum.index_copy(0, rows, (out * mask.unsqueeze(-1)).sum(1).to(x.dtype))
                state = tuple(s.index_copy(1, rows, f.to(s.dtype))
                              for s, f in zip(state, _parts(final)))
        # the last W tokens of each text, left-aligned: token head_len[i] + j of text i
        at = (head_len.unsqueeze(1) + torch.arange(w).unsqueeze(0)).clamp_max(x.shape[1] - 1).to(device)
        tail = x.gather(1, at.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        out, _ = self.rnn(tail, state[0] if len(state) == 1 else state, tail_len)
        out = self._dropout(out)
        mask = valid_mask(tail_len.to(device), w)
        last = out[torch.arange(b, device=device), (tail_len - 1).to(device)]
        top = torch.maximum(masked_max(out, mask), head_max.to(out.dtype))
        mean = ((out * mask.unsqueeze(-1)).sum(1) + head_sum.to(out.dtype)) / lengths.to(device).unsqueeze(1)
        return torch.cat([last, top, mean], dim=-1)

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.head(self.encode(ids, lengths))


def _parts(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """A recurrent state as a tuple: ``h`` alone (RNN, GRU) or ``(h, c)`` (LSTM)."""
    return (state,) if isinstance(state, Tensor) else tuple(state)
