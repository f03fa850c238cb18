"""``SequenceTagger``: synced many-to-many, one label per input step."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent, TorchState
from rnnkit.layers.char_encoder import CharWordEncoder
from rnnkit.layers.embedding import word_embedding
from rnnkit.layers.pooling import valid_mask


@dataclass
class SequenceTaggerConfig:
    """Word ids (``vocab_size``) or real-valued steps (``input_size``), optionally with
    character features for words (``num_chars`` > 0), into a BiLSTM and a per-step head."""

    num_tags: int
    vocab_size: int | None = None
    input_size: int | None = None
    embedding_size: int = 100
    num_chars: int = 0
    char_embedding: int = 32
    char_hidden: int = 32
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.0
    zoneout: float = 0.0  # zoneout probability on the recurrent state (Krueger et al. 2017)

    def __post_init__(self) -> None:
        if (self.input_size is None) == (self.vocab_size is None):
            raise ConfigError("give exactly one of vocab_size (words) or input_size (real-valued steps)")
        if self.num_chars and self.vocab_size is None:
            raise ConfigError("character features need word input (vocab_size)")
        if self.num_tags < 1:
            raise ConfigError(f"num_tags must be positive, got {self.num_tags}")

    def to_dict(self) -> dict:
        return asdict(self)


class SequenceTagger(nn.Module):
    """Shapes: ``x`` (B, T) word ids or (B, T, F); optional ``chars`` (B, T, L) with
    ``char_lengths`` (B, T); ``lengths`` (B,) -> logits (B, T, num_tags). Logits past each
    length are zero and excluded from :meth:`loss`."""

    def __init__(self, config: SequenceTaggerConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        features = c.input_size or 0
        self.embedding = None
        if c.vocab_size is not None:
            self.embedding = word_embedding(c.vocab_size, c.embedding_size)
            features = c.embedding_size
        self.chars = CharWordEncoder(c.num_chars, c.char_embedding, c.char_hidden) if c.num_chars else None
        if self.chars is not None:
            features += self.chars.output_size
        self.encoder = Recurrent(c.cell, features, c.hidden_size, c.num_layers, batch_first=True,
                                 dropout=c.dropout, bidirectional=c.bidirectional, zoneout=c.zoneout)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size * (2 if c.bidirectional else 1), c.num_tags)

    def forward(self, x: Tensor, lengths: Tensor | None = None, chars: Tensor | None = None,
                char_lengths: Tensor | None = None) -> Tensor:
        return self.forward_with_state(x, lengths, chars, char_lengths)[0]

    def forward_with_state(self, x: Tensor, lengths: Tensor | None = None, chars: Tensor | None = None,
                           char_lengths: Tensor | None = None, state: TorchState | None = None
                           ) -> tuple[Tensor, TorchState]:
        """:meth:`forward` from the recurrent ``state`` (default zeros), also returning the
        encoder's final state (for export with the state in and out)."""
        b, t = x.shape[0], x.shape[1]
        if lengths is None:
            lengths = torch.full((b,), t, dtype=torch.long)
        h = self.embedding(x) if self.embedding is not None else x
        if self.chars is not None:
            if chars is None or char_lengths is None:
                raise ValueError("this tagger uses character features: pass chars and char_lengths")
            h = torch.cat([h, self.chars(chars, char_lengths)], dim=-1)
        out, state = self.encoder(self.dropout(h), state, lengths=lengths.cpu())  # (B, T, D*H), zero past lengths
        logits = self.head(self.dropout(out))
        mask = valid_mask(lengths.to(logits.device), t).unsqueeze(-1)
        return logits * mask, state

    @staticmethod
    def loss(logits: Tensor, tags: Tensor, lengths: Tensor, label_smoothing: float = 0.0,
             weight: Tensor | None = None) -> Tensor:
        """Mean cross-entropy over valid steps only."""
        mask = valid_mask(lengths.to(logits.device), logits.shape[1])
        return F.cross_entropy(logits[mask], tags[mask], weight=weight, label_smoothing=label_smoothing)
