"""Gradient flow through time: exact on hand-made cells, agrees with autograd's Jacobian, CLI."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cells import ElmanCell, LSTMCell
from rnnkit.cli.main import app
from rnnkit.diagnostics.gradient_flow import fresh_cell_flows, jacobian_norms


@pytest.mark.parametrize("a", [0.875, 1.125])  # exact in float32
def test_linear_regime_elman_vanishes_or_explodes_geometrically(a):
    # Zero input and bias keep h at 0 where tanh' = 1, so dh_T/dh_t = (a I)^(T-t) exactly.
    cell = ElmanCell(3, 5)
    with torch.no_grad():
        cell.weight_hh.copy_(a * torch.eye(5))
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
    flow = jacobian_norms(cell, torch.zeros(40, 3), probes=8)
    np.testing.assert_allclose(flow.norms / flow.norms[0], a ** np.arange(40), rtol=1e-9)
    assert flow.decay_per_step() == pytest.approx(a, rel=1e-9)


def test_probe_estimate_matches_autograd_jacobian():
    torch.manual_seed(0)
    cell = LSTMCell(2, 4).double()
    x = torch.randn(6, 2, dtype=torch.double)

    def h_T_from(t, h_t, c_t):
        state = (h_t.unsqueeze(0), c_t.unsqueeze(0))
        h = h_t.unsqueeze(0)
        for k in range(t + 1, 6):
            h, state = cell(x[k:k + 1], state)
        return h[0]

    # states along the sequence, then the exact Jacobian d h_T / d h_t holding c_t fixed
    state, states = None, []
    for k in range(6):
        _, state = cell(x[k:k + 1], state)
        states.append(tuple(s[0].detach() for s in state))
    exact = [torch.linalg.norm(torch.autograd.functional.jacobian(lambda h: h_T_from(t, h, states[t][1]),  # noqa: B023
                                                                   states[t][0])).item() for t in range(6)]
    flow = jacobian_norms(cell, x.float(), probes=4000, seed=1)
    np.testing.assert_allclose(flow.norms, exact[::-1], rtol=0.08)


def test_fresh_cells_and_cli(tmp_path):
    flows = fresh_cell_flows(["rnn_tanh", "gru"], length=30, hidden_size=16, probes=16)
    assert [f.label for f in flows] == ["rnn_tanh", "gru"] and all(len(f.norms) == 30 for f in flows)
    assert all(f.norms[-1] < f.norms[0] for f in flows)  # default initialisation: gradients vanish
    r = CliRunner().invoke(app, ["inspect", "gradients", "--length", "20", "--hidden", "8", "--cells", "lstm,gru",
                                 "--out", str(tmp_path / "g.png"), "--json", str(tmp_path / "g.json")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "g.png").exists() and len(json.loads((tmp_path / "g.json").read_text())) == 2
    r = CliRunner().invoke(app, ["inspect", "gradients", "--cells", "lstm,transformer"])
    assert r.exit_code == 2 and "unknown cell transformer" in r.output
