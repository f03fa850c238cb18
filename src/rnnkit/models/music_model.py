"""``PolyphonicModel``: a recurrent network over piano rolls with one sigmoid per key.

At step t the network has read the frames ``v_1 .. v_{t-1}`` (a zero frame stands before
the first) and outputs logits ``l_t`` (88,), so that

    p(v_t | v_<t) = prod_k sigmoid(l_tk)^{v_tk} (1 - sigmoid(l_tk))^{1 - v_tk}

(notes independent given the state, as in the RNN baselines of Boulanger-Lewandowski et al.
2012 and Chung et al. 2014). The negative log-likelihood of a step is the sum of the 88
binary cross-entropies; the figure published for JSB Chorales is its mean over all test
steps.

Shapes: ``frames`` (B, T, 88) -> logits (B, T, 88), with the state for step-by-step use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.layers import Recurrent


@dataclass
class PolyphonicModelConfig:
    n_keys: int = 88
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.0
    zoneout: float = 0.0  # zoneout probability on the recurrent state (Krueger et al. 2017)

    def to_dict(self) -> dict:
        return asdict(self)


class PolyphonicModel(nn.Module):
    def __init__(self, config: PolyphonicModelConfig) -> None:
        super().__init__()
        self.config = c = config
        self.rnn = Recurrent(c.cell, c.n_keys, c.hidden_size, c.num_layers, batch_first=True,
                             dropout=c.dropout if c.num_layers > 1 else 0.0, zoneout=c.zoneout)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.n_keys)

    def forward(self, frames: Tensor, state=None, lengths: Tensor | None = None):
        """Logits for the *next* frame after each input frame: ``(B, T, 88)``, and the state."""
        h, state = self.rnn(frames, state, lengths=lengths)
        return self.head(self.drop(h)), state

    @staticmethod
    def shifted(roll: Tensor) -> Tensor:
        """The inputs for predicting ``roll``: a zero frame, then every frame but the last."""
        return torch.cat([torch.zeros_like(roll[:, :1]), roll[:, :-1]], 1)

    def step_nll(self, roll: Tensor, lengths: Tensor) -> Tensor:
        """Per-step NLL (nats), ``(B, T)``, zero past each length."""
        logits, _ = self(self.shifted(roll), lengths=lengths)
        nll = F.binary_cross_entropy_with_logits(logits.float(), roll.float(), reduction="none").sum(-1)
        mask = torch.arange(roll.shape[1], device=roll.device)[None] < lengths.to(roll.device)[:, None]
        return nll * mask


__all__ = ["PolyphonicModel", "PolyphonicModelConfig"]
