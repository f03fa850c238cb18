"""Character features for words: a bidirectional recurrent pass over each word's characters.

Following Ling et al. (2015) and Lample et al. (2016): a word's vector is the final forward
state and the final backward state of a BiLSTM over its characters, which gives a tagger
information about suffixes, capitals and digits of rare and unseen words.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.layers.recurrent import Recurrent


class CharWordEncoder(nn.Module):
    """Char ids ``(B, T, L)`` with char lengths ``(B, T)`` -> word features ``(B, T, 2 * hidden)``.

    Positions with length 0 (padding words) get zero features.
    """

    def __init__(self, num_chars: int, char_embedding: int = 32, hidden_size: int = 32, cell: str = "lstm") -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_embedding, padding_idx=0)
        self.rnn = Recurrent(cell, char_embedding, hidden_size, batch_first=True, bidirectional=True)
        self.output_size = 2 * hidden_size

    def forward(self, chars: Tensor, char_lengths: Tensor) -> Tensor:
        b, t, l = chars.shape  # noqa: E741
        flat_len = char_lengths.reshape(-1)
        present = flat_len > 0
        out = chars.new_zeros(b * t, self.output_size, dtype=self.embedding.weight.dtype)
        if present.any():
            x = self.embedding(chars.reshape(b * t, l)[present])  # (N, L, E)
            _, state = self.rnn(x, lengths=flat_len[present].cpu())
            h = state[0] if isinstance(state, tuple) else state  # (2, N, H): forward end, backward start
            out[present] = torch.cat([h[0], h[1]], dim=-1)
        return out.view(b, t, self.output_size)
