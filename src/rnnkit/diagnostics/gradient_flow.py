"""How much of a late output's gradient reaches early steps: vanishing and exploding gradients.

Backpropagation through time multiplies one Jacobian per step,

    dh_T/dh_t = prod_{k=t+1}^{T} dh_k/dh_{k-1},

so its norm shrinks or grows roughly geometrically in the distance ``T - t`` unless the
cell keeps it near 1. An Elman cell's step Jacobian is ``diag(1 - h_k^2) W_hh``: below
a spectral radius of 1 it vanishes, above it the products explode. The LSTM's cell
state adds a path whose Jacobian is ``diag(f_k)`` (the forget gate), close to the
identity while the gate stays open; the GRU's update gate does the same.

:func:`jacobian_norms` measures ``||dh_T/dh_t||_F`` for every ``t`` along one sequence
with random probes: for ``v ~ N(0, I)``, ``E ||J^T v||^2 = ||J||_F^2``, and one backward
pass of a batch of ``probes`` copies of the same sequence, each with its own ``v``, gives
``J^T v`` at every step at once (each copy has the same Jacobians).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnkit.cells import make_cell
from rnnkit.cells.base import RecurrentCell
from rnnkit.errors import ConfigError
from rnnkit.outputs import save_figure


@dataclass
class GradientFlow:
    """``norms[d]`` = ``||dh_T/dh_{T-d}||_F`` for distance ``d`` = 0 .. T-1 (``norms[0]`` is
    ``||I||_F = sqrt(H)``). ``label`` names the cell."""

    label: str
    norms: np.ndarray

    @property
    def distances(self) -> np.ndarray:
        return np.arange(len(self.norms))

    def decay_per_step(self) -> float:
        """Geometric mean ratio ``norms[d+1] / norms[d]`` over the sequence (< 1: vanishing,
        > 1: exploding); computed from the end points so a few noisy steps do not dominate."""
        n = self.norms[self.norms > 0]
        if len(n) < 2:
            return float("nan")
        return float(np.exp((np.log(n[-1]) - np.log(n[0])) / (len(n) - 1)))

    def to_dict(self) -> dict:
        return {"label": self.label, "norms": self.norms.tolist(), "decay_per_step": self.decay_per_step()}


def jacobian_norms(cell: RecurrentCell, inputs: Tensor, probes: int = 32, seed: int = 0,
                   label: str | None = None) -> GradientFlow:
    """``||dh_T/dh_t||_F`` along ``inputs`` (T, input_size), from a zero initial state (for a
    cell whose state does not hold ``h``, the first state tensor ``s_t`` in place of ``h_t``).

    Estimated with ``probes`` Gaussian probe vectors (relative error about
    ``1/sqrt(probes)``), on a float64 copy of the cell.
    """
    if inputs.dim() != 2 or inputs.shape[1] != cell.input_size:
        raise ValueError(f"inputs must be (T, {cell.input_size}), got {tuple(inputs.shape)}")
    if probes < 1:
        raise ConfigError("probes must be at least 1")
    gen = torch.Generator().manual_seed(seed)
    probe_cell = copy.deepcopy(cell).cpu().double().eval()  # float64, and the caller's cell is never touched
    steps = inputs.shape[0]
    x = inputs.detach().to(torch.float64).unsqueeze(1).expand(steps, probes, cell.input_size)
    hs: list[Tensor] = []
    with torch.enable_grad():
        state = probe_cell.initial_state(probes, dtype=torch.float64, device="cpu")
        for t in range(steps):
            h, state = probe_cell(x[t], state)
            # the first state tensor (h for Elman, GRU, LSTM, minGRU, sLSTM; the matrix memory C of
            # an mLSTM, whose h feeds nothing back): its gradient collects everything later steps send
            s0 = state[0]
            s0.retain_grad()
            hs.append(s0)
        v = torch.randn(probes, h.shape[-1], generator=gen, dtype=torch.float64)
        (h * v).sum().backward()  # the output at T
    grads = [h.grad if h.grad is not None else torch.zeros_like(h) for h in hs]  # no path back: zero
    sq = torch.stack([g.pow(2).sum(1).mean() for g in grads])  # (T,): estimates of ||J_t||_F^2
    norms = sq.sqrt().flip(0).numpy()  # distance order: d = T - 1 - t
    return GradientFlow(label or type(cell).__name__, norms)


def fresh_cell_flows(cells: list[str], length: int = 200, hidden_size: int = 64, input_size: int = 8,
                     probes: int = 32, seed: int = 0) -> list[GradientFlow]:
    """The classic comparison: freshly initialised cells (torch's default initialisation)
    reading the same N(0, 1) input sequence."""
    flows = []
    for name in cells:
        torch.manual_seed(seed)
        cell = make_cell(name, input_size, hidden_size)
        inputs = torch.randn(length, input_size, generator=torch.Generator().manual_seed(seed + 1))
        flows.append(jacobian_norms(cell, inputs, probes, seed, label=name))
    return flows


def plot_gradient_flow(flows: list[GradientFlow], out_path, title: str = "Gradient flow through time"):
    """``||dh_T/dh_t||`` against ``T - t`` on a log scale, one line per flow; ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for f in flows:
        ax.semilogy(f.distances, np.maximum(f.norms, 1e-300), label=f"{f.label} (x{f.decay_per_step():.3f}/step)")
    ax.set_xlabel("distance T - t (steps)")
    ax.set_ylabel("||dh_T / dh_t||  (Frobenius)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out_path, dpi=110)
    plt.close(fig)
    return out_path
