"""A 2-D convolutional front end for recognisers: CRNN's reader of a line image (Shi, Bai and
Yao 2015) and Deep Speech 2's of a spectrogram (Amodei et al. 2015), shortening the sequence
before the recurrent layers."""

from __future__ import annotations

from torch import Tensor, nn


def time_strides(subsample: int) -> tuple[int, int]:
    """The two convolutions' strides in time: 2 then ``subsample / 2`` for an even
    ``subsample``, else ``subsample`` then 1 (kernels of 3 skip no frame while each stride is
    at most 3: ``subsample`` 1, 2, 3, 4 or 6)."""
    return (2, subsample // 2) if subsample % 2 == 0 else (subsample, 1)


class Conv2dFrontEnd(nn.Module):
    r"""Two 2-D convolutions over (feature, time) planes, CRNN's and Deep Speech 2's reader:
    the frames ``(B, T, F)`` are one image ``(B, 1, F, T)`` (pixel rows or mel channels by
    frames), each convolution 3x3 with padding 1, ReLU, stride 2 along the features (halving
    the height) and :func:`time_strides` along time; the ``channels x ceil(F / 4)`` values of
    each output column are its features. Unlike the 1-D ``conv`` front end, a pattern is read
    the same wherever it sits along the feature axis (a letter a few pixels higher, a voice a
    little higher).

    Shapes: ``(B, T, F)`` -> ``(B, (T - 1) // subsample + 1, channels * ceil(ceil(F / 2) / 2))``.
    """

    def __init__(self, input_size: int, channels: int, subsample: int) -> None:
        super().__init__()
        a, b = time_strides(subsample)
        half = max(1, channels // 2)
        self.layers = nn.Sequential(nn.Conv2d(1, half, 3, stride=(2, a), padding=1), nn.ReLU(),
                                    nn.Conv2d(half, channels, 3, stride=(2, b), padding=1), nn.ReLU())
        self.output_size = channels * ((((input_size - 1) // 2 + 1) - 1) // 2 + 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.layers(x.transpose(1, 2).unsqueeze(1))  # (B, C, F', T')
        return y.flatten(1, 2).transpose(1, 2)  # (B, T', C F')


__all__ = ["Conv2dFrontEnd", "time_strides"]
