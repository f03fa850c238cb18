"""The scan of a first-order linear recurrence, ``h_t = a_t * h_{t-1} + b_t``, over a whole sequence.

Cells whose gates do not read the previous state (minGRU, minLSTM) reduce to this recurrence,
with every ``a_t`` and ``b_t`` known before the first step. It is computed in two levels
(a blocked scan, as on GPUs, sized for a CPU): the T steps are cut into ``n`` chunks of
``L ~ sqrt(T)``; then

1. every chunk is scanned from a zero state, all chunks at once (L steps, each over
   n x B x H numbers), keeping only its last state, and the product of its ``a``;
2. the state entering each chunk is carried across chunks (n steps over B x H):
   ``carry_{k+1} = prod(a of chunk k) * carry_k + end_k``;
3. every chunk is scanned again from its entering state, all at once, writing ``h``.

So a sequence costs about ``3 sqrt(T)`` dependent operations instead of T, each on many
numbers, and no copies (the chunks are strided views). Unlike the log-space form (Heinsen
2023), which divides by the running product of ``a`` and needs logarithms to survive that,
this form only multiplies: no division, no ``exp``/``log`` per element, and it equals
stepping one step at a time up to the rounding of a few additions (an ``a`` product that
underflows to zero is exactly the fact that the chunk forgot its input).

The backward pass is the same recurrence run backwards, ``g_t = dL/dh_t + a_{t+1} g_{t+1}``,
then ``dL/db_t = g_t``, ``dL/da_t = g_t * h_{t-1}``, ``dL/dh_0 = a_1 g_1``: one more scan, not
an autograd graph of T steps. Half-precision inputs are scanned in float32.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F


def g(x: Tensor) -> Tensor:
    """minGRU's positive activation ``g(x) = x + 0.5`` (x >= 0), ``sigmoid(x)`` (x < 0):
    continuous, increasing and always > 0, so a state built from it stays positive."""
    # relu(x) + sigmoid(min(x, 0)), with min(x, 0) = -relu(-x): the same function as the
    # two-branch `where`, in single-pass kernels forward and backward (1.6x faster)
    return F.relu(x) + torch.sigmoid(-F.relu(-x))


def _chunked_scan(a: Tensor, b: Tensor, h0: Tensor | None, reverse: bool = False, out: Tensor | None = None) -> Tensor:
    """``h`` (T, ...) of ``h_t = a_t h_{t-1} + b_t`` from ``a``, ``b`` (T, ...) and ``h0`` (...);
    ``reverse``: ``h_t = a_t h_{t+1} + b_t`` from the last step back, ``h0`` entering after it;
    ``out``: a contiguous tensor like ``b`` to write ``h`` into.

    The chunks are strided views of the inputs and the output (no copies): the steps that do
    not fill a whole chunk (fewer than ``L``) run one at a time after the chunks (forward) or
    before them in time (reverse)."""
    steps, rest = a.shape[0], a.shape[1:]
    h = torch.empty_like(b) if out is None else out
    if steps == 0:
        return h
    length = max(1, math.isqrt(steps))  # chunk length ~ sqrt(T)
    chunks = steps // length
    main = chunks * length
    span = slice(steps - main, steps) if reverse else slice(0, main)
    a_c = a[span].view(chunks, length, *rest)
    b_c = b[span].view(chunks, length, *rest)
    h_c = h[span].view(chunks, length, *rest)
    order = range(length - 1, -1, -1) if reverse else range(length)
    first, *others = order
    # 1. every chunk from a zero state, all at once: its last state and the product of its a
    end = b_c[:, first].clone()
    for j in others:
        end = torch.addcmul(b_c[:, j], a_c[:, j], end)
    decay = a_c.prod(dim=1)
    # 2. the state entering each chunk, carried across chunks in time order
    carry = a.new_empty(chunks, *rest)
    state = a.new_zeros(rest) if h0 is None else h0
    for k in range(chunks - 1, -1, -1) if reverse else range(chunks):
        carry[k] = state
        state = torch.addcmul(end[k], decay[k], state)
    # 3. every chunk again from its entering state, writing the output
    previous = carry
    for j in order:
        torch.addcmul(b_c[:, j], a_c[:, j], previous, out=h_c[:, j])
        previous = h_c[:, j]
    # the steps left over, one at a time
    for t in range(steps - main - 1, -1, -1) if reverse else range(main, steps):
        torch.addcmul(b[t], a[t], state, out=h[t])
        state = h[t]
    return h


class _LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor, h0: Tensor | None) -> Tensor:
        h = _chunked_scan(a, b, h0)
        ctx.has_h0 = h0 is not None
        ctx.save_for_backward(a, h, h0 if h0 is not None else a.new_zeros(a.shape[1:]))
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        a, h, h0 = ctx.saved_tensors
        # g_t = dL/dh_t + a_{t+1} g_{t+1}: the same recurrence backwards in time, entered at
        # the last step (g_{T-1} = dL/dh_{T-1}) so that a[1:] is the coefficient as a view
        grad_h = grad_h.contiguous()
        grad_b = torch.empty_like(grad_h)
        grad_b[-1] = grad_h[-1]
        _chunked_scan(a[1:], grad_h[:-1], grad_h[-1], reverse=True, out=grad_b[:-1])
        grad_a = torch.empty_like(a)  # g_t * h_{t-1}
        torch.mul(grad_b[1:], h[:-1], out=grad_a[1:])
        torch.mul(grad_b[0], h0, out=grad_a[0])
        grad_h0 = a[0] * grad_b[0] if ctx.has_h0 else None
        return grad_a, grad_b, grad_h0


def linear_scan(a: Tensor, b: Tensor, h0: Tensor | None) -> Tensor:
    """All ``h_t`` (T, B, H) of ``h_t = a_t h_{t-1} + b_t`` from ``a``, ``b`` (T, B, H) and
    ``h0`` (B, H) (``None``: zero). ``a = 1, b = 0`` leaves the state as it is (how padded steps
    are skipped). Differentiable in all three; see the module docstring for the method."""
    dtype = a.dtype
    if dtype in (torch.float16, torch.bfloat16):  # T roundings of a half-precision sum would pile up
        a, b = a.float(), b.float()
        h0 = None if h0 is None else h0.float()
    elif h0 is not None:
        h0 = h0.to(dtype)
    h = _LinearScan.apply(a, b, h0)
    return h.to(dtype)


__all__ = ["linear_scan", "g"]
