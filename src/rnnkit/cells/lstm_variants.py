"""Two classic LSTM variants that torch's fused kernel does not run (the layer loops over time).

Peephole LSTM (Gers, Schraudolph & Schmidhuber 2002): the gates also see the memory cell::

    i_t = sigmoid(W_i x_t + U_i h_{t-1} + p_i * c_{t-1} + b_i)
    f_t = sigmoid(W_f x_t + U_f h_{t-1} + p_f * c_{t-1} + b_f)
    g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)
    c_t = f_t * c_{t-1} + i_t * g_t
    o_t = sigmoid(W_o x_t + U_o h_{t-1} + p_o * c_t + b_o)      (the new cell)
    h_t = o_t * tanh(c_t)

Layer-normalised LSTM (Ba, Kiros & Hinton 2016): each projection and the cell normalised::

    (i, f, g, o) = LN(W x_t) + LN(U h_{t-1}) + b
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
    h_t = sigmoid(o) * tanh(LN(c_t))

Both keep torch's gate order (i, f, g, o) and names ``weight_ih`` (4H, I), ``weight_hh``
(4H, H); state ``(h, c)``, each (B, H).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.base import State, StepCell, check_sizes


class _LSTMBase(StepCell):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, forget_bias: float | None = None
                 ) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias, self.forget_bias = input_size, hidden_size, bias, forget_bias
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size)) if bias else None

    @property
    def state_size(self) -> tuple[int, ...]:
        return (self.hidden_size, self.hidden_size)

    def _init_lstm(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)
        if self.bias_ih is not None:
            nn.init.uniform_(self.bias_ih, -bound, bound)
            if self.forget_bias is not None:
                with torch.no_grad():
                    self.bias_ih[self.hidden_size:2 * self.hidden_size] = self.forget_bias



class PeepholeLSTMCell(_LSTMBase):
    """LSTM with peephole connections; see the module docstring."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, forget_bias: float | None = None
                 ) -> None:
        super().__init__(input_size, hidden_size, bias, forget_bias)
        self.weight_peephole = nn.Parameter(torch.empty(3, hidden_size))  # p_i, p_f, p_o
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self._init_lstm()
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.weight_peephole, -bound, bound)

    def recur_with_gates(self, x_t: Tensor, state: State) -> tuple[Tensor, State, dict[str, Tensor]]:
        h, c = state
        gates = F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh)
        i_, f_, g_, o_ = gates.chunk(4, dim=-1)
        p_i, p_f, p_o = self.weight_peephole
        i = torch.sigmoid(i_ + p_i * c)
        f = torch.sigmoid(f_ + p_f * c)
        c = f * c + i * torch.tanh(g_)
        o = torch.sigmoid(o_ + p_o * c)
        h = o * torch.tanh(c)
        return h, (h, c), {"input": i, "forget": f, "output": o, "cell": c}


class LayerNormLSTMCell(_LSTMBase):
    """Layer-normalised LSTM; see the module docstring."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, forget_bias: float | None = None
                 ) -> None:
        super().__init__(input_size, hidden_size, bias, forget_bias)
        # the normalisations have gains only: the bias is the cell's own (after the sum)
        self.norm_ih = nn.LayerNorm(4 * hidden_size, bias=False)
        self.norm_hh = nn.LayerNorm(4 * hidden_size, bias=False)
        self.norm_c = nn.LayerNorm(hidden_size)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self._init_lstm()
        for norm in (self.norm_ih, self.norm_hh, self.norm_c):
            norm.reset_parameters()

    def recur_with_gates(self, x_t: Tensor, state: State) -> tuple[Tensor, State, dict[str, Tensor]]:
        h, c = state
        gates = self.norm_ih(F.linear(x_t, self.weight_ih)) + self.norm_hh(F.linear(h, self.weight_hh))
        if self.bias_ih is not None:
            gates = gates + self.bias_ih
        i_, f_, g_, o_ = gates.chunk(4, dim=-1)
        i, f, o = torch.sigmoid(i_), torch.sigmoid(f_), torch.sigmoid(o_)
        c = f * c + i * torch.tanh(g_)
        h = o * torch.tanh(self.norm_c(c))
        return h, (h, c), {"input": i, "forget": f, "output": o, "cell": c}


__all__ = ["PeepholeLSTMCell", "LayerNormLSTMCell"]
