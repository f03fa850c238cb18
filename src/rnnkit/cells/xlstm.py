"""xLSTM's cells (Beck et al. 2024): exponential input gates, kept finite by a stabiliser state.

Both use an exponential input gate ``exp(i~)`` and a sigmoid forget gate, in log space with
the stabiliser ``m`` (a running maximum of the log gates), so no exponential overflows::

    m_t  = max(log f_t + m_{t-1}, i~_t)          log f_t = logsigmoid(f~_t)
    i'_t = exp(i~_t - m_t),   f'_t = exp(log f_t + m_{t-1} - m_t)

sLSTM (scalar memory, recurrent weights ``R``; sequential), per unit::

    z_t = tanh(W_z x_t + R_z h_{t-1} + b_z),  o_t = sigmoid(W_o x_t + R_o h_{t-1} + b_o)
    i~_t, f~_t = W_{i,f} x_t + R_{i,f} h_{t-1} + b_{i,f}
    c_t = f'_t c_{t-1} + i'_t z_t,   n_t = f'_t n_{t-1} + i'_t,   h_t = o_t * c_t / n_t
    state (h, c, n, m), each (B, H)

mLSTM (matrix memory per head, no recurrent weights: parallel over time), per head of size
``d = H / num_heads``, with ``q, k, v = W_{q,k,v} x_t`` (``k`` scaled by ``1/sqrt(d)``) and
scalar gates ``i~, f~`` per head::

    C_t = f'_t C_{t-1} + i'_t v_t k_t^T          (d, d)
    n_t = f'_t n_{t-1} + i'_t k_t                (d,)
    h_t = o_t * C_t q_t / max(|n_t . q_t|, exp(-m_t)),   o_t = sigmoid(W_o x_t + b_o)
    state (C, n, m): (B, heads*d*d), (B, heads*d), (B, heads)

The mLSTM's sequence form (:meth:`MLSTMCell.scan`) unrolls the recurrence into a decay
matrix ``D_ts = exp(F_t - F_s + i~_s - m_t)`` (``F`` the cumulative log forget gate) over
chunks of ``chunk_size`` steps, carrying ``(C, n, m)`` between chunks: the same numbers as
stepping, with matrix products instead of T dependent steps.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.base import RecurrentCell, State, StepCell, check_sizes, check_step_input
from rnnkit.errors import ConfigError


class SLSTMCell(StepCell):
    """sLSTM; see the module docstring. ``forget_bias``: the forget gates' initial bias
    (positive: remember by default, as the paper initialises it)."""

    #: what each state tensor is (exported graphs name their state inputs after them)
    state_names = ("h", "c", "n", "m")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, forget_bias: float = 3.0) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias, self.forget_bias = input_size, hidden_size, bias, forget_bias
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))  # z, i, f, o
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size)) if bias else None
        self.reset_parameters()

    @property
    def state_size(self) -> tuple[int, ...]:
        return (self.hidden_size,) * 4

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)
        if self.bias_ih is not None:
            with torch.no_grad():
                self.bias_ih.zero_()
                self.bias_ih[2 * self.hidden_size:3 * self.hidden_size] = self.forget_bias

    def recur_with_gates(self, x_t: Tensor, state: State) -> tuple[Tensor, State, dict[str, Tensor]]:
        h, c, n, m = state
        pre = F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh)
        z_, i_, f_, o_ = pre.chunk(4, dim=-1)
        log_f = F.logsigmoid(f_)
        m_new = torch.maximum(log_f + m, i_)
        i = torch.exp(i_ - m_new)
        f = torch.exp(log_f + m - m_new)
        c = f * c + i * torch.tanh(z_)
        n = f * n + i
        o = torch.sigmoid(o_)
        h = o * c / n
        return h, (h, c, n, m_new), {"input": i, "forget": f, "output": o}


class MLSTMCell(RecurrentCell):
    """mLSTM; see the module docstring. ``num_heads`` must divide ``hidden_size`` (default: 4,
    or 2 or 1 when 4 does not divide it); ``chunk_size``: steps per block of the sequence form
    (memory grows with its square)."""

    #: the matrix memory (heads * d * d, flattened), the normaliser, the stabiliser per head
    state_names = ("C", "n", "m")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, num_heads: int | None = None,
                 chunk_size: int = 64, forget_bias: float = 3.0) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        if num_heads is None:
            num_heads = next(h for h in (4, 2, 1) if hidden_size % h == 0)
        if num_heads < 1 or hidden_size % num_heads:
            raise ConfigError(f"num_heads ({num_heads}) must divide hidden_size ({hidden_size})")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.num_heads, self.head_size, self.chunk_size = num_heads, hidden_size // num_heads, chunk_size
        self.forget_bias = forget_bias
        self.qkvo = nn.Linear(input_size, 4 * hidden_size, bias=bias)
        self.gate = nn.Linear(input_size, 2 * num_heads, bias=True)  # i~, f~ per head
        self.reset_parameters()

    @property
    def state_size(self) -> tuple[int, ...]:
        return (self.num_heads * self.head_size ** 2, self.hidden_size, self.num_heads)

    def reset_parameters(self) -> None:
        self.qkvo.reset_parameters()
        nn.init.normal_(self.gate.weight, std=0.1 / math.sqrt(self.input_size))
        with torch.no_grad():
            self.gate.bias.zero_()
            self.gate.bias[self.num_heads:] = self.forget_bias

    def _project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """q, k, v (..., heads, d), o (..., H), i~ and log f (..., heads)."""
        heads, d = self.num_heads, self.head_size
        q, k, v, o = self.qkvo(x).chunk(4, dim=-1)
        shape = (*x.shape[:-1], heads, d)
        i_, f_ = self.gate(x).chunk(2, dim=-1)
        return (q.reshape(shape), k.reshape(shape) / math.sqrt(d), v.reshape(shape), torch.sigmoid(o), i_,
                F.logsigmoid(f_))

    def _unflatten(self, state: State) -> tuple[Tensor, Tensor, Tensor]:
        C, n, m = state
        B = C.shape[0]
        return C.reshape(B, self.num_heads, self.head_size, self.head_size), \
            n.reshape(B, self.num_heads, self.head_size), m

    def _flatten(self, C: Tensor, n: Tensor, m: Tensor) -> State:
        B = C.shape[0]
        return C.reshape(B, -1), n.reshape(B, -1), m

    def forward(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        check_step_input(self, x_t)
        if state is None:
            state = self.initial_state(x_t.shape[0], x_t.device, x_t.dtype)
        C, n, m = self._unflatten(tuple(state))
        q, k, v, o, i_, log_f = self._project(x_t)  # (B, heads, d) ..., (B, heads)
        m_new = torch.maximum(log_f + m, i_)
        i = torch.exp(i_ - m_new).unsqueeze(-1)
        f = torch.exp(log_f + m - m_new).unsqueeze(-1)
        C = f.unsqueeze(-1) * C + i.unsqueeze(-1) * v.unsqueeze(-1) * k.unsqueeze(-2)  # v k^T
        n = f * n + i * k
        state = self._flatten(C, n, m_new)
        C, n, _ = self._unflatten(state)  # read h from the state returned (so dh/dstate is the real path)
        num = (C @ q.unsqueeze(-1)).squeeze(-1)  # (B, heads, d)
        den = torch.maximum((n * q).sum(-1).abs(), torch.exp(-m_new)).unsqueeze(-1)
        h = o * (num / den).reshape(x_t.shape[0], self.hidden_size)
        return h, state

    def scan(self, x: Tensor, state: State | None, valid: Tensor | None) -> tuple[Tensor, State]:
        """A whole sequence chunk by chunk: ``x`` (T, B, I), ``valid`` (T, B, 1) or None ->
        outputs (T, B, H), zero past each length, and the state after each sequence's last step."""
        T, B = x.shape[0], x.shape[1]
        if state is None:
            state = self.initial_state(B, x.device, x.dtype)
        C, n, m = self._unflatten(tuple(state))
        q, k, v, o, i_, log_f = self._project(x)
        if valid is not None:  # past a sequence's end: forget nothing, take nothing in
            log_f = torch.where(valid, log_f, torch.zeros_like(log_f))
            i_ = torch.where(valid, i_, torch.full_like(i_, -torch.inf))
        outs = []
        for start in range(0, T, self.chunk_size):
            sl = slice(start, start + self.chunk_size)
            h, C, n, m = self._chunk(q[sl], k[sl], v[sl], i_[sl], log_f[sl], C, n, m)
            outs.append(h)
        h = o * torch.cat(outs, 0).reshape(T, B, self.hidden_size)
        if valid is not None:
            h = h.masked_fill(~valid, 0.0)
        return h, self._flatten(C, n, m)

    @staticmethod
    def _chunk(q: Tensor, k: Tensor, v: Tensor, i_: Tensor, log_f: Tensor, C: Tensor, n: Tensor, m: Tensor
               ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One chunk of L steps in parallel. q, k, v (L, B, heads, d); i~, log f (L, B, heads);
        state C (B, heads, d, d), n (B, heads, d), m (B, heads). Returns the normalised
        memory readout (L, B, heads, d) and the state after the chunk."""
        L = q.shape[0]
        Fc = torch.cumsum(log_f, 0)  # (L, B, heads): sum of log f over steps 1..t
        # log weight of step s's input at step t (s <= t): F_t - F_s + i~_s; of the carried state: F_t + m
        w = Fc.unsqueeze(1) - Fc.unsqueeze(0) + i_.unsqueeze(0)  # (t, s, B, heads)
        causal = torch.ones(L, L, dtype=torch.bool, device=q.device).tril().view(L, L, 1, 1)
        w = w.masked_fill(~causal, -torch.inf)
        w_state = Fc + m  # (L, B, heads)
        m_t = torch.maximum(w.amax(1), w_state)  # (L, B, heads): the stabiliser at each step
        D = torch.exp(w - m_t.unsqueeze(1))  # (t, s, B, heads)
        s0 = torch.exp(w_state - m_t)  # (L, B, heads)
        scores = torch.einsum("tbhd,sbhd->tsbh", q, k) * D  # (q_t . k_s) D_ts
        num = torch.einsum("tsbh,sbhd->tbhd", scores, v) + s0.unsqueeze(-1) * torch.einsum("bhij,tbhj->tbhi", C, q)
        nq = scores.sum(1) + s0 * torch.einsum("bhj,tbhj->tbh", n, q)
        den = torch.maximum(nq.abs(), torch.exp(-m_t)).unsqueeze(-1)
        # the state after the chunk: row t = L-1 of the same weights
        d_last, s_last = D[-1], s0[-1]  # (s, B, heads), (B, heads)
        C = s_last[..., None, None] * C + torch.einsum("sbh,sbhi,sbhj->bhij", d_last, v, k)
        n = s_last[..., None] * n + torch.einsum("sbh,sbhj->bhj", d_last, k)
        return num / den, C, n, m_t[-1]

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_heads={self.num_heads}, chunk_size={self.chunk_size}"
                + ("" if self.bias else ", bias=False"))


__all__ = ["SLSTMCell", "MLSTMCell"]
