"""Cells against torch's cells, float64 gradcheck, golden numbers, and the cell contract."""

import math

import pytest
import torch
from torch import nn

from helpers import assert_matches_torch
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell, make_cell

SIZES = [(1, 1, 1), (3, 5, 7), (4, 16, 8)]  # (batch, input, hidden)


def _pair(kind, i, h, bias=True):
    if kind == "lstm":
        ours, theirs = LSTMCell(i, h, bias), nn.LSTMCell(i, h, bias)
    elif kind == "gru":
        ours, theirs = GRUCell(i, h, bias), nn.GRUCell(i, h, bias)
    else:
        ours, theirs = ElmanCell(i, h, bias, nonlinearity=kind), nn.RNNCell(i, h, bias, nonlinearity=kind)
    theirs.load_state_dict(ours.state_dict())  # same names and layout: copies one-to-one
    return ours.double(), theirs.double()


@pytest.mark.parametrize("kind", ["lstm", "gru", "tanh", "relu"])
@pytest.mark.parametrize("batch,inp,hid", SIZES)
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch_forward_and_backward(kind, batch, inp, hid, bias):
    ours, theirs = _pair(kind, inp, hid, bias)
    x = torch.randn(batch, inp, dtype=torch.double)
    h = torch.randn(batch, hid, dtype=torch.double)
    if kind == "lstm":
        c = torch.randn(batch, hid, dtype=torch.double)
        assert_matches_torch(ours, theirs, [x, h, c],
                             call_ours=lambda x, h, c: ours(x, (h, c))[1],
                             call_theirs=lambda x, h, c: theirs(x, (h, c)))
    else:
        assert_matches_torch(ours, theirs, [x, h],
                             call_ours=lambda x, h: ours(x, (h,))[0],
                             call_theirs=lambda x, h: theirs(x, h))


@pytest.mark.parametrize("cls", [LSTMCell, GRUCell, ElmanCell])
def test_cell_gradcheck_float64(cls):
    cell = cls(3, 4).double()
    x = torch.randn(2, 3, dtype=torch.double, requires_grad=True)
    state = tuple(s.normal_().requires_grad_() for s in cell.initial_state(2, dtype=torch.double))

    def f(x, *state):
        h, new = cell(x, state)
        return (h, *new)

    assert torch.autograd.gradcheck(f, (x, *state))
    assert torch.autograd.gradcheck(lambda w: cell.recur(x @ w.T, state, cell.weight_hh, cell.bias_hh)[0],
                                    (cell.weight_ih.detach().clone().requires_grad_(),))


def _const(cell, ih_rows, hh_rows=None):
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor(ih_rows, dtype=cell.weight_ih.dtype).view(-1, 1))
        cell.weight_hh.copy_(torch.tensor(hh_rows or [0.0] * len(ih_rows)).view(-1, 1))
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()


def test_golden_lstm_gate_order_i_f_g_o():
    cell = LSTMCell(1, 1)
    _const(cell, [1.0, 2.0, 3.0, 4.0])  # i, f, g, o pre-activations for x = 1
    h, (_, c) = cell(torch.ones(1, 1), (torch.zeros(1, 1), torch.ones(1, 1)))
    assert c.item() == pytest.approx(1.608240391867133, abs=1e-6)  # sig(2)*1 + sig(1)*tanh(3)
    assert h.item() == pytest.approx(0.9063001135083372, abs=1e-6)  # sig(4)*tanh(c)


def test_golden_gru_gate_order_r_z_n_reset_after_matmul():
    cell = GRUCell(1, 1)
    _const(cell, [1.0, 2.0, 3.0], [0.5, 0.5, 0.5])
    h, _ = cell(torch.ones(1, 1), (torch.ones(1, 1),))
    assert h.item() == pytest.approx(0.9998341473482194, abs=1e-6)


@pytest.mark.parametrize("nonlinearity,expected", [("tanh", math.tanh(0.8)), ("relu", 0.8)])
def test_golden_elman(nonlinearity, expected):
    cell = ElmanCell(1, 1, nonlinearity=nonlinearity)
    with torch.no_grad():
        cell.weight_ih.fill_(0.5)
        cell.weight_hh.fill_(-1.0)
        cell.bias_ih.fill_(0.1)
        cell.bias_hh.fill_(0.2)
    h, _ = cell(torch.full((1, 1), 2.0), (torch.full((1, 1), 0.5),))
    assert h.item() == pytest.approx(expected, abs=1e-6)


def test_forget_bias_initialisation():
    cell = LSTMCell(3, 5, forget_bias=1.0)
    total = cell.bias_ih + cell.bias_hh
    assert torch.equal(total[5:10], torch.ones(5))
    assert not torch.equal(total[:5], torch.ones(5))  # other gates keep torch's init


# ----------------------------------------------------------------- the cell contract
CONTRACT = [
    ("lstm", dict(), (7, 7)),
    ("gru", dict(), (7,)),
    ("rnn_tanh", dict(), (7,)),
    ("rnn_relu", dict(), (7,)),
]


@pytest.mark.parametrize("name,kwargs,state_size", CONTRACT)
def test_cell_contract(name, kwargs, state_size, tmp_path):
    cell = make_cell(name, 5, 7, **kwargs)
    assert cell.state_size == state_size
    state = cell.initial_state(3)
    assert len(state) == len(state_size) and all(s.shape == (3, 7) and not s.any() for s in state)
    x = torch.randn(3, 5)
    h, new = cell(x)  # state defaults to zeros
    assert h.shape == (3, 7) and len(new) == len(state_size)
    torch.testing.assert_close(cell(x, state)[0], h)
    # state_dict round trip and seed determinism
    clone = make_cell(name, 5, 7, **kwargs)
    clone.load_state_dict(cell.state_dict())
    torch.testing.assert_close(clone(x)[0], h)
    torch.manual_seed(3)
    a = make_cell(name, 5, 7, **kwargs)
    torch.manual_seed(3)
    b = make_cell(name, 5, 7, **kwargs)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    # dtype follows the module
    assert cell.double()(x.double())[0].dtype == torch.double
    assert repr(cell).startswith(type(cell).__name__)


def test_cell_rejects_wrong_input_shape():
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 5\)"):
        LSTMCell(5, 7)(torch.randn(3, 4))
    with pytest.raises(ValueError, match="unknown cell type"):
        make_cell("transformer", 1, 1)
