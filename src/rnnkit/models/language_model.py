"""``LanguageModel``: predict the next token (character or word) from the ones before it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from rnnkit.cells import FusableCell
from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent, TorchState, embedding_dropout, locked_dropout


@dataclass
class LanguageModelConfig:
    """Everything needed to rebuild a :class:`LanguageModel` (stored in checkpoints).

    ``dropout`` is applied to the non-recurrent connections only (Zaremba et al. 2014):
    the embedding output, between recurrent layers and before the output layer.
    ``locked_dropout`` shares those masks over time (Gal & Ghahramani 2016);
    ``embedding_dropout`` drops whole words; ``weight_drop`` is DropConnect on ``W_hh``
    (Merity et al. 2018). ``init_range`` (e.g. 0.1) draws every weight from
    ``U(-r, r)`` as Zaremba et al. did; ``None`` keeps torch's defaults.
    """

    vocab_size: int
    cell: str = "lstm"
    hidden_size: int = 256
    num_layers: int = 2
    embedding_size: int | None = None  # default: hidden_size
    dropout: float = 0.0
    locked_dropout: bool = False
    embedding_dropout: float = 0.0
    weight_drop: float = 0.0
    tie_weights: bool = False
    init_range: float | None = None
    forget_bias: float | None = None
    proj_size: int = 0  # LSTM only: project each layer's output to this size (Sak et al. 2014)
    zoneout: float = 0.0  # zoneout probability on the recurrent state (Krueger et al. 2017)

    def __post_init__(self) -> None:
        if self.vocab_size < 1:
            raise ConfigError(f"vocab_size must be positive, got {self.vocab_size}")
        if self.proj_size and (self.cell != "lstm" or not 0 < self.proj_size < self.hidden_size):
            raise ConfigError(f"proj_size needs the lstm cell and 0 < proj_size < hidden_size, got {self.proj_size} "
                              f"with {self.cell} {self.hidden_size}")
        out = self.proj_size or self.hidden_size
        if self.tie_weights and (self.embedding_size or self.hidden_size) != out:
            raise ConfigError(f"tie_weights needs embedding_size == the output size ({out}; hidden_size, or "
                              f"proj_size when given), got {self.embedding_size or self.hidden_size}")
        for name in ("dropout", "embedding_dropout", "weight_drop", "zoneout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


class LanguageModel(nn.Module):
    r"""Embedding -> ``Recurrent`` -> linear decoder over the vocabulary.

    .. math::
        e_t = E[w_t],\quad h_t = \mathrm{RNN}(e_t, h_{t-1}),\quad
        p(w_{t+1} \mid w_{\le t}) = \mathrm{softmax}(W h_t + b)

    With ``tie_weights`` the decoder reuses the embedding matrix, ``W = E``
    (Press & Wolf 2017; Inan et al. 2017).

    Shapes: ``ids`` (B, T) -> logits (B, T, V); state as ``Recurrent`` (layers, B, H).
    """

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        self.config = config
        emb = config.embedding_size or config.hidden_size
        self.embedding = nn.Embedding(config.vocab_size, emb)
        self.rnn = Recurrent(config.cell, emb, config.hidden_size, config.num_layers, batch_first=True,
                             dropout=config.dropout, locked_dropout=config.locked_dropout,
                             weight_drop=config.weight_drop, forget_bias=config.forget_bias,
                             proj_size=config.proj_size, zoneout=config.zoneout)
        self.decoder = nn.Linear(self.rnn.output_size, config.vocab_size)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r = self.config.init_range
        if r is None:
            return  # torch's defaults, already applied at construction
        for p in self.parameters():
            nn.init.uniform_(p, -r, r)
        if self.config.forget_bias is not None:
            from rnnkit.cells.lstm import init_forget_bias

            for cell in self.rnn.cells:
                if isinstance(cell, FusableCell) and cell.bias:
                    init_forget_bias(cell.bias_ih, cell.bias_hh, cell.hidden_size, self.config.forget_bias)

    def _dropout(self, x: Tensor) -> Tensor:
        p = self.config.dropout
        if self.config.locked_dropout:
            return locked_dropout(x, p, self.training, time_dim=1)
        return nn.functional.dropout(x, p, self.training)

    def forward(self, ids: Tensor, state: TorchState | None = None, lengths: Tensor | None = None
                ) -> tuple[Tensor, TorchState]:
        if ids.dim() != 2:
            raise ValueError(f"LanguageModel expects token ids of shape (batch, time), got {tuple(ids.shape)}")
        x = embedding_dropout(self.embedding, ids, self.config.embedding_dropout, self.training)  # (B, T, E)
        x = self._dropout(x)
        out, state = self.rnn(x, state, lengths)  # (B, T, H)
        return self.decoder(self._dropout(out)), state  # (B, T, V)

    def step(self, ids: Tensor, state: TorchState | None = None) -> tuple[Tensor, TorchState]:
        """One token per sequence: ``ids`` (B,) -> logits (B, V) and the new state."""
        logits, state = self.forward(ids.unsqueeze(1), state)
        return logits.squeeze(1), state

    def initial_state(self, batch: int) -> TorchState:
        ref = self.decoder.weight
        return self.rnn.initial_state(batch, ref.device, ref.dtype)


def remap_vocabulary(state: dict[str, Tensor], old_tokens: list[str], new_tokens: list[str]
                     ) -> tuple[dict[str, Tensor], int]:
    """A language model's weights for another vocabulary (ULMFiT's fine-tuning step).

    The rows of the embedding, of the decoder's weight and of its bias that belong to a
    token both vocabularies hold are copied; a token new to the model starts at the mean of
    the old rows (Howard & Ruder 2018), so it begins as an "average word" instead of noise.
    Every other weight is kept as it is. Returns the new state and how many tokens were shared.
    """
    old_index = {t: i for i, t in enumerate(old_tokens)}
    pairs = [(j, old_index[t]) for j, t in enumerate(new_tokens) if t in old_index]
    new_ids = torch.tensor([j for j, _ in pairs], dtype=torch.long)
    old_ids = torch.tensor([i for _, i in pairs], dtype=torch.long)
    out = dict(state)
    for name in ("embedding.weight", "decoder.weight", "decoder.bias"):
        if name not in state:
            continue
        old = state[name]
        rows = old.mean(0, keepdim=True).expand(len(new_tokens), *old.shape[1:]).clone()
        if len(pairs):
            rows[new_ids] = old[old_ids]
        out[name] = rows
    return out, len(pairs)
