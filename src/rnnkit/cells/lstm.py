"""The long short-term memory cell (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.base import FusableCell, State
from rnnkit.errors import ConfigError


class LSTMCell(FusableCell):
    r"""LSTM cell with torch's layout and gate order (i, f, g, o).

    .. math::
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})   && \text{input gate}\\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})   && \text{forget gate}\\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})    && \text{candidate}\\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})   && \text{output gate}\\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t                       && \text{memory cell}\\
        h_t &= o_t \odot \tanh(c_t)

    Shapes: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``bias_*`` (4H,), rows stacked
    i, f, g, o; state ``(h, c)``. The additive update of ``c_t`` is the "constant error
    carousel": with ``f_t`` near 1, ``dc_t/dc_{t-1} = f_t`` and gradients survive many steps.

    ``forget_bias``: if given, the forget-gate bias starts at this value (split as
    ``bias_ih[f] = forget_bias``, ``bias_hh[f] = 0``), as Jozefowicz et al. (2015)
    recommend (1.0, Keras' ``unit_forget_bias``). ``None`` keeps torch's init.

    ``proj_size`` P > 0 (Sak et al. 2014, ``torch.nn.LSTM(proj_size=P)``): the output is
    projected, ``h_t = W_hr (o_t * tanh(c_t))`` with ``weight_hr`` (P, H), and the recurrence
    reads the projected ``h`` (``weight_hh`` (4H, P)): state ``(h (P), c (H))``, output P. The
    same weights run in torch's fused kernel.
    """

    num_gates: ClassVar[int] = 4
    fused_mode: ClassVar[str] = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, forget_bias: float | None = None,
                 proj_size: int = 0) -> None:
        if proj_size < 0 or proj_size >= hidden_size:
            raise ConfigError(f"proj_size must be between 0 and hidden_size - 1 ({hidden_size - 1}), got {proj_size}")
        self.forget_bias = forget_bias
        self.proj_size = proj_size
        super().__init__(input_size, hidden_size, bias)
        if proj_size:
            self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, proj_size))
            self.weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size))
            self.reset_parameters()

    @property
    def state_size(self) -> tuple[int, ...]:
        return (self.output_size, self.hidden_size)

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    def flat_weights(self) -> list[Tensor]:
        """torch's order: ``weight_ih, weight_hh[, bias_ih, bias_hh][, weight_hr]``."""
        ws = super().flat_weights()
        return [*ws, self.weight_hr] if self.proj_size else ws

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.forget_bias is not None and self.bias:
            init_forget_bias(self.bias_ih, self.bias_hh, self.hidden_size, self.forget_bias)

    def recur(self, gi: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[Tensor, State]:
        h, state, _ = self.recur_with_gates(gi, state, weight_hh, bias_hh)
        return h, state

    def recur_with_gates(self, gi: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None
                         ) -> tuple[Tensor, State, dict[str, Tensor]]:
        """:meth:`recur`, also returning the gates ``input``, ``forget``, ``candidate``, ``output``."""
        h, c = state
        gates = gi + F.linear(h, weight_hh, bias_hh)  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=-1)  # each (B, H)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        if self.proj_size:
            h = F.linear(h, self.weight_hr)
        return h, (h, c), {"input": i, "forget": f, "candidate": g, "output": o}

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.forget_bias is not None:
            s += f", forget_bias={self.forget_bias}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s


@torch.no_grad()
def init_forget_bias(bias_ih: Tensor, bias_hh: Tensor, hidden_size: int, value: float) -> None:
    """Set the forget-gate slice (rows H:2H) of an LSTM's biases so they sum to ``value``."""
    bias_ih[hidden_size : 2 * hidden_size].fill_(value)
    bias_hh[hidden_size : 2 * hidden_size].zero_()
