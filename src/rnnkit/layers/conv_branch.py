"""The fully convolutional branch of LSTM-FCN (Karim et al. 2018), masked for padding.

Three temporal convolution blocks (Wang, Yan and Oates 2017: 128, 256, 128 filters of
widths 8, 5, 3), each ``conv -> batch norm -> ReLU``, then global average pooling over
time. Beside a recurrent encoder it adds shift-invariant local shape detectors, which is
what lifted LSTM classifiers to the state of the art on the UCR archive.

Padding: after each block the steps past each sequence's length are set to zero, so the
next convolution sees exactly the zeros it would see at the end of that sequence alone,
and the average runs over valid steps only. In eval mode a padded batch therefore gives
each sequence the same features as running it alone. (In training mode, batch norm's
batch statistics include padded steps, as they include the other sequences.)
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.layers.pooling import masked_mean


class ConvBranch(nn.Module):
    """``x`` (B, T, C) with ``mask`` (B, T) -> (B, channels[-1])."""

    def __init__(self, in_channels: int, channels: Sequence[int] = (128, 256, 128),
                 kernels: Sequence[int] = (8, 5, 3)) -> None:
        super().__init__()
        if len(channels) != len(kernels):
            raise ValueError("channels and kernels must have the same length")
        blocks, c_in = [], in_channels
        for c_out, k in zip(channels, kernels):
            blocks.append(nn.Sequential(nn.Conv1d(c_in, c_out, k), nn.BatchNorm1d(c_out), nn.ReLU()))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        # "same" padding, one output per step: (k-1)//2 zeros on the left, the rest on the right.
        self.pads = [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernels]
        self.output_size = c_in

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        m = mask.unsqueeze(1).to(x.dtype)  # (B, 1, T)
        h = x.transpose(1, 2) * m  # (B, C, T)
        for block, pad in zip(self.blocks, self.pads):
            h = block(F.pad(h, pad)) * m
        return masked_mean(h.transpose(1, 2), mask)
