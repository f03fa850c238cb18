"""``SequenceClassifier``: many-to-one, a whole sequence -> one class."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent, TorchState
from rnnkit.layers.char_encoder import CharWordEncoder
from rnnkit.layers.conv_branch import ConvBranch
from rnnkit.layers.embedding import word_embedding
from rnnkit.layers.pooling import POOLINGS, AttentionPooling, masked_max, masked_mean, valid_mask


@dataclass
class SequenceClassifierConfig:
    """Either real-valued input (``input_size`` features per step) or token ids
    (``vocab_size`` with an ``embedding_size`` embedding); one of the two must be set.

    ``pooling``: ``last`` (final state at each sequence's last valid step; both ends for a
    bidirectional encoder), ``mean``, ``max`` or ``attention``, all masked by length.
    ``znorm``: z-normalise each series over its own valid steps, per channel, before the
    encoder (the usual UCR preprocessing, done inside the model so it always applies).
    Otherwise series are standardised with per-channel statistics of the training set
    (buffers ``input_mean``/``input_std``, set by :meth:`SequenceClassifier.set_input_scaling`;
    identity until set), which keeps each channel's level, as multivariate data need.
    ``num_chars`` > 0 (token input): add each word's character-BiLSTM features
    (``char_hidden`` per direction) to its embedding.
    ``conv_branch``: LSTM-FCN (Karim et al. 2018): a fully convolutional branch reads the
    same input beside the recurrent encoder; both pooled outputs feed the head.
    """

    num_classes: int
    input_size: int | None = None
    vocab_size: int | None = None
    embedding_size: int = 100
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.0
    pooling: str = "last"
    znorm: bool = False
    num_chars: int = 0
    char_embedding: int = 32
    char_hidden: int = 32
    conv_branch: bool = False
    zoneout: float = 0.0  # zoneout probability on the recurrent state (Krueger et al. 2017)

    def __post_init__(self) -> None:
        if (self.input_size is None) == (self.vocab_size is None):
            raise ConfigError("give exactly one of input_size (real-valued series) or vocab_size (token ids)")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}")
        if self.num_classes < 2:
            raise ConfigError(f"a classifier needs at least 2 classes, got {self.num_classes}")
        if self.num_chars and self.vocab_size is None:
            raise ConfigError("character features need word input (vocab_size)")

    def to_dict(self) -> dict:
        return asdict(self)


def znormalise(x: Tensor, mask: Tensor, eps: float = 1e-8) -> Tensor:
    """Per sequence and channel: ``(x - mean) / std`` over valid steps; padding stays zero."""
    m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    n = m.sum(1, keepdim=True).clamp_min(1.0)
    mean = (x * m).sum(1, keepdim=True) / n
    var = (((x - mean) * m) ** 2).sum(1, keepdim=True) / n
    return (x - mean) / (var.sqrt() + eps) * m


class SequenceClassifier(nn.Module):
    """(Embedding [+ char features] ->) bidirectional/stacked ``Recurrent`` -> masked
    pooling [|| conv branch] -> dropout -> linear.

    Shapes: ``x`` (B, T, input_size) floats or (B, T) ids; ``lengths`` (B,) (default: all
    T); ``chars`` (B, T, L) char ids with ``char_lengths`` (B, T) when ``num_chars`` > 0
    -> logits (B, num_classes).
    """

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embedding: nn.Embedding | None
        if c.vocab_size is not None:
            self.embedding = word_embedding(c.vocab_size, c.embedding_size)
            features = c.embedding_size
        else:
            self.embedding = None
            features = c.input_size or 0
        self.chars = CharWordEncoder(c.num_chars, c.char_embedding, c.char_hidden) if c.num_chars else None
        if self.chars is not None:
            features += self.chars.output_size
        self.encoder = Recurrent(c.cell, features, c.hidden_size, c.num_layers, batch_first=True,
                                 dropout=c.dropout, bidirectional=c.bidirectional, zoneout=c.zoneout)
        out = c.hidden_size * (2 if c.bidirectional else 1)
        self.attention = AttentionPooling(out) if c.pooling == "attention" else None
        self.conv = ConvBranch(features) if c.conv_branch else None
        n_in = c.input_size or 0
        self.input_mean: Tensor
        self.input_std: Tensor
        self.register_buffer("input_mean", torch.zeros(n_in))
        self.register_buffer("input_std", torch.ones(n_in))
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(out + (self.conv.output_size if self.conv is not None else 0), c.num_classes)

    @torch.no_grad()
    def set_input_scaling(self, mean: Tensor, std: Tensor) -> None:
        """Per-channel training-set statistics for series input (used when ``znorm`` is off)."""
        self.input_mean.copy_(torch.as_tensor(mean, dtype=self.input_mean.dtype))
        self.input_std.copy_(torch.as_tensor(std, dtype=self.input_std.dtype).clamp_min(1e-8))

    def encode(self, x: Tensor, lengths: Tensor | None = None, chars: Tensor | None = None,
               char_lengths: Tensor | None = None) -> Tensor:
        """The pooled sequence representation (B, D * hidden [+ conv channels])."""
        return self.encode_with_state(x, lengths, chars, char_lengths)[0]

    def encode_with_state(self, x: Tensor, lengths: Tensor | None = None, chars: Tensor | None = None,
                          char_lengths: Tensor | None = None, state: TorchState | None = None
                          ) -> tuple[Tensor, TorchState]:
        """:meth:`encode` from the recurrent ``state`` (default zeros), also returning the
        encoder's final state (for export with the state in and out)."""
        b, t = x.shape[0], x.shape[1]
        if lengths is None:
            lengths = torch.full((b,), t, dtype=torch.long)
        lengths = lengths.to(torch.long)
        mask = valid_mask(lengths.to(x.device), t)  # (B, T)
        if self.embedding is not None:
            h = self.embedding(x)  # (B, T, E)
            if self.chars is not None:
                if chars is None or char_lengths is None:
                    raise ValueError("this classifier uses character features: pass chars and char_lengths")
                h = torch.cat([h, self.chars(chars, char_lengths)], dim=-1)
            h = self.dropout(h)  # word dropout on embeddings; raw series values are not dropped
        else:
            if self.config.znorm:
                h = znormalise(x, mask)
            else:
                h = (x - self.input_mean) / self.input_std * mask.unsqueeze(-1).to(x.dtype)
        pooled, final = self._pool(h, lengths, mask, state)
        if self.conv is not None:
            pooled = torch.cat([pooled, self.conv(h, mask)], dim=-1)
        return pooled, final

    def _pool(self, h: Tensor, lengths: Tensor, mask: Tensor, state: TorchState | None = None
              ) -> tuple[Tensor, TorchState]:
        out, state = self.encoder(h, state, lengths=lengths.cpu())  # (B, T, D*H)
        pooling = self.config.pooling
        if pooling == "last":
            # the forward direction's output at each sequence's last step (+ the backward
            # direction's at step 0): the top layer's final h, read from the outputs so that
            # cells whose state does not hold h (mLSTM) pool alike
            hidden = self.config.hidden_size
            last = (lengths - 1).clamp_min(0).to(out.device)
            pooled = out[torch.arange(out.shape[0], device=out.device), last, :hidden]
            if self.config.bidirectional:
                pooled = torch.cat([pooled, out[:, 0, hidden:]], dim=-1)
            return pooled, state
        if pooling == "mean":
            return masked_mean(out, mask), state
        if pooling == "max":
            return masked_max(out, mask), state
        assert self.attention is not None  # pooling == "attention" built it
        return self.attention(out, mask)[0], state

    def forward(self, x: Tensor, lengths: Tensor | None = None, chars: Tensor | None = None,
                char_lengths: Tensor | None = None) -> Tensor:
        return self.head(self.dropout(self.encode(x, lengths, chars, char_lengths)))
