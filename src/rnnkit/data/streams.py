"""Sequence batching for truncated BPTT: one corpus as ``batch_size`` contiguous streams.

The corpus ``w_0 ... w_{N-1}`` is cut into ``B`` equal contiguous pieces, one per batch
row (the tail that does not divide evenly is dropped)::

    row b = w[b*L : (b+1)*L],   L = N // B

and window ``k`` is columns ``[k*bptt, k*bptt + T)`` of every row, with targets shifted
by one. So row ``b`` of window ``k+1`` continues row ``b`` of window ``k`` exactly, which
is what lets the final hidden state of window ``k`` serve as the initial state of
window ``k+1`` (Zaremba et al. 2014; char-rnn; the PyTorch word_language_model example).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from rnnkit.errors import DataError


class StreamBatches:
    """``(x, y)`` windows of shape ``(B, T)`` (batch first), ``T <= bptt``; see the module docstring."""

    def __init__(self, ids: np.ndarray, batch_size: int, bptt: int) -> None:
        if batch_size < 1 or bptt < 1:
            raise DataError(f"batch size and bptt must be positive, got {batch_size} and {bptt}")
        length = len(ids) // batch_size
        if length < 2:
            raise DataError(f"{len(ids)} tokens are too few for {batch_size} streams; "
                            f"use a smaller batch size (at most {max(1, len(ids) // 2)})")
        self.batch_size = batch_size
        self.bptt = bptt
        # (B, L) view: a reshape of the (possibly memory-mapped) array, no copy yet.
        self.rows = np.asarray(ids[: length * batch_size]).reshape(batch_size, length)
        self.tokens_per_epoch = batch_size * (length - 1)

    def __len__(self) -> int:
        return -(-(self.rows.shape[1] - 1) // self.bptt)  # ceil((L - 1) / bptt)

    def window(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = k * self.bptt
        t = min(self.bptt, self.rows.shape[1] - 1 - start)
        block = torch.from_numpy(np.ascontiguousarray(self.rows[:, start:start + t + 1]).astype(np.int64))
        return block[:, :-1], block[:, 1:]  # x (B, T), y (B, T)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.iter_from(0)

    def iter_from(self, k: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Windows ``k, k+1, ...``: resuming mid-epoch continues the same streams."""
        for i in range(k, len(self)):
            yield self.window(i)
