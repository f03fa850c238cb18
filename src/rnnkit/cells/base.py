"""The one-time-step contract every recurrent cell follows.

A cell maps one input step and the previous state to the new output and state::

    h_t, state_t = cell(x_t, state_{t-1})        x_t: (B, input_size)

``state`` is always a tuple of ``(B, size)`` tensors, one per entry of
``state_size``: ``(h,)`` for Elman and GRU cells, ``(h, c)`` for the LSTM.
Layers (``rnnkit.layers.Recurrent``) own the time loop; a cell knows one step.

Two kinds of cell exist:

* :class:`RecurrentCell` -- the bare contract. Any module that implements it can be
  run by ``Recurrent(cell=...)`` on the reference (explicit loop) backend.
* :class:`FusableCell` -- a cell whose parameters have exactly torch's layout
  (``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,)),
  so that the same weights also run in torch's fused kernels (cuDNN / oneDNN) and copy
  one-to-one into ``torch.nn.LSTMCell``/``GRUCell``/``RNNCell`` and ``nn.LSTM``/...
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

State = tuple[Tensor, ...]


class RecurrentCell(nn.Module, ABC):
    """Abstract one-step recurrent cell.

    Subclasses set ``input_size``, ``hidden_size`` and ``state_size`` and implement
    :meth:`forward`. The output ``h_t`` has shape ``(B, hidden_size)``.
    """

    input_size: int
    hidden_size: int

    @property
    @abstractmethod
    def state_size(self) -> tuple[int, ...]:
        """Size of each state tensor, e.g. ``(H,)`` or ``(H, H)`` for (h, c)."""

    @property
    def output_size(self) -> int:
        """Size of ``h_t``: ``hidden_size`` (an LSTM with a projection says otherwise)."""
        return self.hidden_size

    def initial_state(
        self, batch: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> State:
        """All-zero state: a tuple of ``(batch, size)`` tensors."""
        ref = next(self.parameters(), None)
        device = device if device is not None else (ref.device if ref is not None else None)
        dtype = dtype if dtype is not None else (ref.dtype if ref is not None else None)
        return tuple(torch.zeros(batch, size, device=device, dtype=dtype) for size in self.state_size)

    def reset_parameters(self) -> None:
        """Re-initialise the weights; by default each submodule's own ``reset_parameters``."""
        for m in self.children():
            reset = getattr(m, "reset_parameters", None)
            if callable(reset):
                reset()

    @abstractmethod
    def forward(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One step: ``x_t`` (B, input_size) -> ``(h_t (B, hidden_size), new_state)``."""


class StepCell(RecurrentCell):
    """A cell written as one step on the raw input: subclasses set ``input_size``,
    ``hidden_size``, ``bias`` and implement :meth:`recur_with_gates` (the peephole and
    layer-normalised LSTMs, the sLSTM)."""

    input_size: int
    hidden_size: int
    bias: bool

    @abstractmethod
    def recur_with_gates(self, x_t: Tensor, state: State) -> tuple[Tensor, State, dict[str, Tensor]]:
        """One step from ``x_t`` (B, I): ``(h_t, new state, the gates by name)``."""

    def forward(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        check_step_input(self, x_t)
        if state is None:
            state = self.initial_state(x_t.shape[0], x_t.device, x_t.dtype)
        h, state, _ = self.recur_with_gates(x_t, tuple(state))
        return h, state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


def check_step_input(cell: RecurrentCell, x_t: Tensor) -> None:
    """One step's input must be (batch, input_size)."""
    if x_t.dim() != 2 or x_t.shape[-1] != cell.input_size:
        raise ValueError(f"{type(cell).__name__} expects input of shape (batch, {cell.input_size}), "
                         f"got {tuple(x_t.shape)}")


def check_sizes(input_size: int, hidden_size: int) -> None:
    if input_size <= 0 or hidden_size <= 0:
        raise ValueError(f"input_size and hidden_size must be positive, got {input_size} and {hidden_size}")


class FusableCell(RecurrentCell):
    """A cell with torch's parameter layout; see the module docstring.

    The math lives in :meth:`recur`, which takes the *input projection*
    ``gi = x_t W_ih^T + b_ih`` (B, G*H) already computed. Splitting it this way lets a
    layer project a whole sequence with one matrix multiply and reuse exactly this
    step for the recurrence, and lets weight-drop hand in a dropped ``W_hh``.
    """

    #: Number of stacked gate blocks G in ``weight_ih``/``weight_hh``.
    num_gates: ClassVar[int]
    #: Name of torch's fused kernel family for these weights.
    fused_mode: ClassVar[str]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gh = self.num_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gh, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gh, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gh))
            self.bias_hh = nn.Parameter(torch.empty(gh))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    @property
    def state_size(self) -> tuple[int, ...]:
        return (self.hidden_size,)

    def reset_parameters(self) -> None:
        """torch's default: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def flat_weights(self) -> list[Tensor]:
        """``[weight_ih, weight_hh, bias_ih, bias_hh]`` (biases only if ``bias``), torch's order."""
        ws: list[Tensor] = [self.weight_ih, self.weight_hh]
        if self.bias:
            ws += [self.bias_ih, self.bias_hh]
        return ws

    @abstractmethod
    def recur(self, gi: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[Tensor, State]:
        """The cell's equations given ``gi`` (B, G*H), the projected input of this step."""

    def recur_with_gates(self, gi: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None
                         ) -> tuple[Tensor, State, dict[str, Tensor]]:
        """:meth:`recur` and the cell's gate activations by name, each (B, H), for inspection.
        Gated cells override this (and compute :meth:`recur` through it); the default has none."""
        h, state = self.recur(gi, state, weight_hh, bias_hh)
        return h, state, {}

    def forward(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        check_step_input(self, x_t)
        if state is None:
            state = self.initial_state(x_t.shape[0], x_t.device, x_t.dtype)
        gi = F.linear(x_t, self.weight_ih, self.bias_ih)  # (B, G*H)
        return self.recur(gi, tuple(state), self.weight_hh, self.bias_hh)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s
