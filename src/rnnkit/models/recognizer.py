"""``CTCRecognizer``: unaligned sequence transduction, frames in and labels out (CTC)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.errors import ConfigError
from rnnkit.layers import Recurrent, TorchState
from rnnkit.layers.conv_front_end import Conv2dFrontEnd

FRONT_ENDS = ("none", "stack", "conv", "conv2d")


def check_front_end(front_end: str, subsample: int) -> None:
    if front_end not in FRONT_ENDS:
        raise ConfigError(f"unknown front end {front_end!r}; choose one of {', '.join(FRONT_ENDS)}")
    if subsample < 1 or (front_end == "none" and subsample != 1):
        raise ConfigError(f"subsample must be >= 1 (1 without a front end), got {subsample}")


def front_end_steps(lengths, front_end: str, subsample: int):
    """Steps after the front end for inputs of ``lengths`` frames (ints, arrays or tensors)."""
    if front_end in ("conv", "conv2d"):
        # kernel 3, padding 1: (T - 1) // stride + 1; two such layers of strides a, b give
        # (T - 1) // (a b) + 1, the same as one of stride a b
        return (lengths - 1) // subsample + 1
    return (lengths + subsample - 1) // subsample  # stacking pads the end to a multiple


@dataclass
class CTCRecognizerConfig:
    """``num_labels`` counts the blank (id 0) and every label of the alphabet.

    Front ends, each shortening the sequence ``subsample`` times before the recurrent layers
    (fewer steps: faster, and CTC's output rate nearer the label rate):

    * ``none``: the frames as they are (``subsample`` must be 1);
    * ``stack``: ``subsample`` consecutive frames concatenated into one step (the end padded
      with zeros to a multiple), a "low frame rate" that streams exactly;
    * ``conv``: two 1-D convolutions over time (kernel 3, ``conv_channels`` each, ReLU), the
      first with stride ``subsample``, each frame's features as channels;
    * ``conv2d``: :class:`~rnnkit.layers.conv_front_end.Conv2dFrontEnd`, two 2-D convolutions
      over the (feature, time) plane (CRNN's convolutional reader of a line image, Deep
      Speech 2's of a spectrogram), which also halve the feature axis twice.
    """

    input_size: int
    num_labels: int
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.1
    front_end: str = "stack"
    subsample: int = 2
    conv_channels: int = 64
    zoneout: float = 0.0

    def __post_init__(self) -> None:
        check_front_end(self.front_end, self.subsample)
        if self.num_labels < 2:
            raise ConfigError(f"a recogniser needs the blank and at least one label, got {self.num_labels}")

    def to_dict(self) -> dict:
        return asdict(self)


class CTCRecognizer(nn.Module):
    r"""Front end -> stacked (bi)directional ``Recurrent`` -> linear -> log-softmax over the
    labels and the blank, trained with CTC (``torch.nn.CTCLoss``; Graves et al. 2006).

    .. math::
        z = \mathrm{front}(x),\quad h_t = \mathrm{RNN}(z)_t,\quad
        \log p(\pi_t = k \mid x) = \mathrm{log\_softmax}(W h_t + b)_k

    Inputs are standardised with per-channel statistics of the training set (buffers
    ``input_mean``/``input_std``, set by :meth:`set_input_scaling`), so the same frames give the
    same outputs whether a whole utterance or a stream of chunks is read.

    Shapes: ``x`` (B, T, input_size), ``lengths`` (B,) -> log-probabilities (B, T', num_labels)
    and their lengths (B,), ``T' = output_lengths(T)``.
    """

    def __init__(self, config: CTCRecognizerConfig) -> None:
        super().__init__()
        self.config = c = config
        self.input_mean: Tensor
        self.input_std: Tensor
        self.register_buffer("input_mean", torch.zeros(c.input_size))
        self.register_buffer("input_std", torch.ones(c.input_size))
        self.conv: nn.Sequential | None = None
        self.conv2d: Conv2dFrontEnd | None = None
        if c.front_end == "conv":
            self.conv = nn.Sequential(nn.Conv1d(c.input_size, c.conv_channels, 3, stride=c.subsample, padding=1),
                                      nn.ReLU(), nn.Conv1d(c.conv_channels, c.conv_channels, 3, padding=1), nn.ReLU())
            features = c.conv_channels
        elif c.front_end == "conv2d":
            self.conv2d = Conv2dFrontEnd(c.input_size, c.conv_channels, c.subsample)
            features = self.conv2d.output_size
        else:
            features = c.input_size * c.subsample
        self.encoder = Recurrent(c.cell, features, c.hidden_size, c.num_layers, batch_first=True, dropout=c.dropout,
                                 bidirectional=c.bidirectional, zoneout=c.zoneout)
        self.dropout = nn.Dropout(c.dropout)
        self.output = nn.Linear(self.encoder.output_size * self.encoder.num_directions, c.num_labels)

    @torch.no_grad()
    def set_input_scaling(self, mean: Tensor, std: Tensor) -> None:
        self.input_mean.copy_(torch.as_tensor(mean, dtype=self.input_mean.dtype))
        self.input_std.copy_(torch.as_tensor(std, dtype=self.input_std.dtype).clamp_min(1e-5))

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """Steps after the front end for inputs of ``lengths`` frames."""
        return front_end_steps(lengths, self.config.front_end, self.config.subsample)

    def front(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Standardise, then subsample: (B, T, F) -> (B, T', F')."""
        b, t, _ = x.shape
        mask = (torch.arange(t, device=x.device)[None, :] < lengths.to(x.device)[:, None]).unsqueeze(-1)
        x = (x - self.input_mean) / self.input_std * mask.to(x.dtype)  # padding stays zero
        s = self.config.subsample
        if self.conv is not None:
            z = self.conv(x.transpose(1, 2)).transpose(1, 2)
        elif self.conv2d is not None:
            z = self.conv2d(x)
        elif s > 1:
            pad = (-t) % s
            z = F.pad(x, (0, 0, 0, pad)).reshape(b, (t + pad) // s, s * x.shape[-1])
        else:
            z = x
        return z, self.output_lengths(lengths)

    def forward(self, x: Tensor, lengths: Tensor | None = None, state: TorchState | None = None
                ) -> tuple[Tensor, Tensor]:
        if x.dim() != 3:
            raise ValueError(f"CTCRecognizer expects frames of shape (batch, time, features), got {tuple(x.shape)}")
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
        z, out_lengths = self.front(x, lengths.to(torch.long).cpu())
        h, _ = self.encoder(z, state, lengths=out_lengths.cpu())
        return F.log_softmax(self.output(self.dropout(h)).float(), dim=-1), out_lengths

    def step(self, z: Tensor, state: TorchState | None = None) -> tuple[Tensor, TorchState]:
        """Already front-ended steps (B, T', F') from ``state`` -> log-probabilities and the new
        state: the streaming path of a unidirectional model."""
        h, state = self.encoder(z, state)
        return F.log_softmax(self.output(h).float(), dim=-1), state
