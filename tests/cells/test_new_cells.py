"""The cells beyond LSTM/GRU/Elman: peephole and layer-normalised LSTM, minGRU, minLSTM,
sLSTM, mLSTM, and zoneout on any (h,)/(h, c) cell.

Each is checked against an independent explicit loop of its equations (written here, not
through the cell), the sequence form against stepping (full sequence == step by step ==
chunks with carried state, with lengths), float64 gradcheck, and golden numbers from
constant weights that pin the equations."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.cells import CELL_TYPES, make_cell
from rnnkit.layers import Recurrent

NEW = ["peephole_lstm", "layernorm_lstm", "mingru", "minlstm", "slstm", "mlstm"]


def small(cell: str, I: int = 5, H: int = 8, dtype=torch.float32):  # noqa: E741
    torch.manual_seed(0)
    kwargs = {"num_heads": 2} if cell == "mlstm" else {}
    return make_cell(cell, I, H, **kwargs).to(dtype)


def test_every_new_cell_has_a_name():
    assert set(NEW) <= set(CELL_TYPES)


# ----------------------------------------------------------------------------- reference loops
def g(x):
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def reference(cell_name: str, cell, x: torch.Tensor) -> torch.Tensor:
    """The equations, step by step, in plain torch (no logs, no stabiliser tricks beyond the paper's)."""
    T, B, _ = x.shape
    H = cell.hidden_size
    outs = []
    if cell_name == "mingru":
        W, b = cell.linear.weight, cell.linear.bias
        h = x.new_zeros(B, H)
        for t in range(T):
            k, c = (x[t] @ W.T + b).chunk(2, -1)
            z = torch.sigmoid(k)
            h = (1 - z) * h + z * g(c)
            outs.append(h)
    elif cell_name == "minlstm":
        W, b = cell.linear.weight, cell.linear.bias
        h = x.new_zeros(B, H)
        for t in range(T):
            kf, ki, c = (x[t] @ W.T + b).chunk(3, -1)
            f, i = torch.sigmoid(kf), torch.sigmoid(ki)
            h = f / (f + i) * h + i / (f + i) * g(c)
            outs.append(h)
    elif cell_name == "peephole_lstm":
        h, c = x.new_zeros(B, H), x.new_zeros(B, H)
        for t in range(T):
            i_, f_, g_, o_ = (x[t] @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T).chunk(4, -1)
            pi, pf, po = cell.weight_peephole
            i, f = torch.sigmoid(i_ + pi * c), torch.sigmoid(f_ + pf * c)
            c = f * c + i * torch.tanh(g_)
            h = torch.sigmoid(o_ + po * c) * torch.tanh(c)
            outs.append(h)
    elif cell_name == "layernorm_lstm":
        def ln(v, w, b=None):
            v = (v - v.mean(-1, keepdim=True)) / torch.sqrt(v.var(-1, unbiased=False, keepdim=True) + 1e-5)
            return v * w + (0 if b is None else b)
        h, c = x.new_zeros(B, H), x.new_zeros(B, H)
        for t in range(T):
            pre = ln(x[t] @ cell.weight_ih.T, cell.norm_ih.weight) + ln(h @ cell.weight_hh.T, cell.norm_hh.weight)
            i_, f_, g_, o_ = (pre + cell.bias_ih).chunk(4, -1)
            c = torch.sigmoid(f_) * c + torch.sigmoid(i_) * torch.tanh(g_)
            h = torch.sigmoid(o_) * torch.tanh(ln(c, cell.norm_c.weight, cell.norm_c.bias))
            outs.append(h)
    elif cell_name == "slstm":
        # unstabilised: exp(i~) and sigmoid(f~) as written, on small inputs where nothing overflows
        h, c, n = x.new_zeros(B, H), x.new_zeros(B, H), x.new_zeros(B, H)
        for t in range(T):
            z_, i_, f_, o_ = (x[t] @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T).chunk(4, -1)
            i, f = torch.exp(i_), torch.sigmoid(f_)
            c = f * c + i * torch.tanh(z_)
            n = f * n + i
            h = torch.sigmoid(o_) * c / n
            outs.append(h)
    elif cell_name == "mlstm":
        # unstabilised, as the paper writes it: the stabiliser scales C and n by exp(-m_t), which
        # turns the floor 1 of |n . q| into exp(-m_t) and leaves h unchanged
        heads, d = cell.num_heads, cell.head_size
        C = x.new_zeros(B, heads, d, d)
        n = x.new_zeros(B, heads, d)
        for t in range(T):
            q, k, v, o = cell.qkvo(x[t]).chunk(4, -1)
            q, k, v = (a.reshape(B, heads, d) for a in (q, k, v))
            k = k / math.sqrt(d)
            i_, f_ = cell.gate(x[t]).chunk(2, -1)
            i, f = torch.exp(i_)[..., None], torch.sigmoid(f_)[..., None]
            C = f[..., None] * C + i[..., None] * torch.einsum("bhi,bhj->bhij", v, k)
            n = f * n + i * k
            num = torch.einsum("bhij,bhj->bhi", C, q)
            den = torch.maximum((n * q).sum(-1).abs(), torch.ones(B, heads, dtype=x.dtype))
            outs.append(torch.sigmoid(o) * (num / den[..., None]).reshape(B, H))
    return torch.stack(outs)


@pytest.mark.parametrize("name", NEW)
def test_the_cell_matches_its_equations_written_out(name):
    cell = small(name, dtype=torch.float64)
    x = 0.5 * torch.randn(7, 3, 5, dtype=torch.float64)
    layer_out = []
    state = None
    for t in range(7):
        h, state = cell(x[t], state)
        layer_out.append(h)
    ref = reference(name, cell, x)
    assert torch.allclose(torch.stack(layer_out), ref, atol=1e-10), name


# ----------------------------------------------------------------------------- sequence forms
@pytest.mark.parametrize("name", ["mingru", "minlstm", "mlstm"])
def test_the_sequence_form_equals_stepping_with_lengths_and_carried_state(name):
    torch.manual_seed(0)
    kwargs = {"num_heads": 2, "chunk_size": 4} if name == "mlstm" else {}
    cell = make_cell(name, 5, 8, **kwargs)
    x = torch.randn(11, 3, 5)
    lengths = torch.tensor([11, 6, 1])
    valid = (torch.arange(11)[:, None] < lengths[None]).unsqueeze(-1)
    out, final = cell.scan(x, None, valid)
    # stepping, freezing each sequence past its end
    state = cell.initial_state(3)
    steps = []
    for t in range(11):
        h, new = cell(x[t], state)
        m = valid[t]
        state = tuple(torch.where(m, a, b) for a, b in zip(new, state))
        steps.append(h.masked_fill(~m, 0))
    assert torch.allclose(out, torch.stack(steps), atol=1e-5)
    for a, b in zip(final, state):
        assert torch.allclose(a, b, atol=1e-5)
    # two chunks with the state carried == the whole sequence
    first, mid = cell.scan(x[:5], None, None)
    second, end = cell.scan(x[5:], mid, None)
    whole, whole_end = cell.scan(x, None, None)
    assert torch.allclose(torch.cat([first, second]), whole, atol=1e-5)
    for a, b in zip(end, whole_end):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("name", ["mingru", "minlstm", "mlstm"])
def test_the_sequence_form_has_the_gradients_of_stepping(name):
    torch.manual_seed(0)
    kwargs = {"num_heads": 2, "chunk_size": 3} if name == "mlstm" else {}
    cell = make_cell(name, 4, 6, **kwargs)
    x = torch.randn(8, 2, 4, requires_grad=True)
    out, _ = cell.scan(x, None, None)
    grads_scan = torch.autograd.grad(out.square().sum(), [x, *cell.parameters()])
    state, steps = None, []
    for t in range(8):
        h, state = cell(x[t], state)
        steps.append(h)
    grads_step = torch.autograd.grad(torch.stack(steps).square().sum(), [x, *cell.parameters()])
    for a, b in zip(grads_scan, grads_step):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", NEW)
def test_gradcheck_float64_through_the_layer(name):
    torch.manual_seed(0)
    layer = Recurrent(name, 3, 4, num_layers=2).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 3])
    assert torch.autograd.gradcheck(lambda inp: layer(inp, lengths=lengths)[0], (x,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", NEW)
def test_the_layer_runs_whole_step_by_step_and_in_chunks_alike(name):
    torch.manual_seed(0)
    layer = Recurrent(name, 5, 8, num_layers=2, batch_first=True)
    x = torch.randn(3, 9, 5)
    whole, state = layer(x)
    out, s = [], None
    for t in range(9):
        h, s = layer.step(x[:, t], s)
        out.append(h)
    assert torch.allclose(whole, torch.stack(out, 1), atol=1e-5)
    a, mid = layer(x[:, :4])
    b, end = layer(x[:, 4:], mid)
    assert torch.allclose(whole, torch.cat([a, b], 1), atol=1e-5)
    for p, q in zip(state if isinstance(state, tuple) else (state,), end if isinstance(end, tuple) else (end,)):
        assert torch.allclose(p, q, atol=1e-5)


@pytest.mark.parametrize("name", NEW)
def test_bidirectional_padded_batch_equals_each_sequence_alone(name):
    torch.manual_seed(0)
    layer = Recurrent(name, 4, 6, bidirectional=True, batch_first=True)
    x = torch.randn(2, 7, 4)
    lengths = torch.tensor([7, 4])
    out, _ = layer(x, lengths=lengths)
    alone, _ = layer(x[1:, :4])
    assert torch.allclose(out[1, :4], alone[0], atol=1e-5)
    assert torch.all(out[1, 4:] == 0)


# ----------------------------------------------------------------------------- golden numbers
def constant(cell, value: float = 0.1):
    with torch.no_grad():
        for p in cell.parameters():
            p.fill_(value)
    return cell


def test_golden_numbers_pin_the_equations():
    x = torch.ones(1, 2)
    # minGRU, all weights 0.1: k = c = 0.3; z = sigmoid(0.3); h1 = z * 0.8
    h, _ = constant(make_cell("mingru", 2, 1))(x)
    assert h.item() == pytest.approx(torch.sigmoid(torch.tensor(0.3)).item() * 0.8, abs=1e-7)
    # minLSTM: f = i -> f' = i' = 1/2; h1 = 0.8 / 2
    h, _ = constant(make_cell("minlstm", 2, 1))(x)
    assert h.item() == pytest.approx(0.4, abs=1e-7)
    # sLSTM (forget bias set to 0.1 too): i~ = 0.3 = m_1 (> log sigmoid(0.3) + 0), i' = 1, c = n = tanh(0.3)/1
    s = constant(make_cell("slstm", 2, 1))
    h, (h1, c, n, m) = s(x)
    assert m.item() == pytest.approx(0.3, abs=1e-7) and n.item() == pytest.approx(1.0, abs=1e-7)
    assert h.item() == pytest.approx(torch.sigmoid(torch.tensor(0.3)).item() * math.tanh(0.3), abs=1e-7)


# ----------------------------------------------------------------------------- zoneout
def test_zoneout_keeps_units_in_training_and_mixes_in_evaluation():
    torch.manual_seed(0)
    layer = Recurrent("lstm", 3, 16, zoneout=0.5)
    assert layer.backend == "reference" and "zoneout" in layer.explain()
    plain = Recurrent("lstm", 3, 16)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(6, 2, 3)
    layer.train()
    out, _ = layer(x)
    kept = (out[1:] == out[:-1]).float().mean().item()
    assert 0.3 < kept < 0.7  # about half the units keep their previous value at each step
    layer.eval()
    plain.eval()
    assert not torch.allclose(layer(x)[0], plain(x)[0])
    zero = Recurrent("gru", 3, 4, zoneout=0.0)
    assert zero.backend == "fused"
    with pytest.raises(ValueError, match="zoneout applies"):
        Recurrent("slstm", 3, 4, zoneout=0.1)


# ----------------------------------------------------------------------------- LSTM with a projection
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_projection_matches_torch_fused_and_reference(bidirectional):
    torch.manual_seed(0)
    ref = torch.nn.LSTM(5, 8, 2, batch_first=True, proj_size=3, bidirectional=bidirectional)
    fused = Recurrent.from_torch(ref)
    loop = Recurrent.from_torch(ref, backend="reference")
    assert fused.backend == "fused" and fused.output_size == 3 and fused.state_size == (3, 8)
    x = torch.randn(4, 6, 5)
    expected, (h, c) = ref(x)
    for layer in (fused, loop):
        out, (h2, c2) = layer(x)
        assert torch.allclose(out, expected, atol=1e-6) and torch.allclose(h2, h, atol=1e-6)
        assert torch.allclose(c2, c, atol=1e-6)
    expected.square().sum().backward()
    fused(x)[0].square().sum().backward()
    for a, b in zip(ref.parameters(), fused.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-5)
    lengths = torch.tensor([6, 5, 3, 1])
    assert torch.allclose(fused(x, lengths=lengths)[0], loop(x, lengths=lengths)[0], atol=1e-6)
    assert fused.to_torch().proj_size == 3
    with pytest.raises(ValueError, match="proj_size"):
        Recurrent("gru", 5, 8, proj_size=3)


def test_a_projected_language_model_trains_ties_and_streams(tmp_path):
    from rnnkit.inference import LanguageStream
    from rnnkit.models import LanguageModel, LanguageModelConfig

    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(30, hidden_size=16, num_layers=2, embedding_size=6, proj_size=6,
                                              tie_weights=True)).eval()
    ids = torch.randint(0, 30, (2, 9))
    with torch.no_grad():
        logits, _ = model(ids)
    stream = LanguageStream(model, 2)
    assert torch.allclose(torch.from_numpy(stream.feed(ids.numpy())), logits, atol=1e-5)


# ----------------------------------------------------------------------------- the linear scan
@pytest.mark.parametrize("steps", [1, 2, 3, 7, 16, 50, 257])
@pytest.mark.parametrize("with_h0", [False, True])
def test_linear_scan_equals_the_loop(steps, with_h0):
    from rnnkit.cells.scan import linear_scan

    torch.manual_seed(steps)
    a = torch.rand(steps, 3, 4, dtype=torch.float64)
    b = torch.randn(steps, 3, 4, dtype=torch.float64)
    h0 = torch.randn(3, 4, dtype=torch.float64) if with_h0 else None
    h = torch.zeros(3, 4, dtype=torch.float64) if h0 is None else h0
    expected = []
    for t in range(steps):
        h = a[t] * h + b[t]
        expected.append(h)
    assert torch.allclose(linear_scan(a, b, h0), torch.stack(expected), atol=1e-12)


@pytest.mark.parametrize("steps", [1, 5, 23])
def test_linear_scan_gradcheck(steps):
    from rnnkit.cells.scan import linear_scan

    torch.manual_seed(1)
    a = torch.rand(steps, 2, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(steps, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(linear_scan, (a, b, h0))
    assert torch.autograd.gradcheck(lambda a, b: linear_scan(a, b, None), (a, b))


def test_linear_scan_survives_underflowing_decay_and_half_precision():
    from rnnkit.cells.scan import linear_scan

    a = torch.full((400, 1, 2), 1e-30)  # products underflow to zero within a chunk
    b = torch.ones(400, 1, 2)
    h = linear_scan(a, b, torch.full((1, 2), 5.0))
    assert torch.isfinite(h).all() and torch.allclose(h, torch.ones_like(h))
    a16 = torch.full((300, 1, 2), 0.99, dtype=torch.bfloat16)
    h16 = linear_scan(a16, torch.full_like(a16, 0.01), None)
    assert h16.dtype == torch.bfloat16
    # the coefficients as bf16 holds them; the sum itself is accumulated in float32
    bf_a, bf_b = (float(torch.tensor(v, dtype=torch.bfloat16)) for v in (0.99, 0.01))
    exact = bf_b * (1 - bf_a ** torch.arange(1, 301, dtype=torch.float64)) / (1 - bf_a)
    assert torch.allclose(h16[:, 0, 0].double(), exact, rtol=1e-2)


def test_linear_scan_takes_any_layout():
    from rnnkit.cells.scan import linear_scan

    a = torch.rand(4, 30, 3, dtype=torch.float64).transpose(0, 1)  # (30, 4, 3), not contiguous
    b = torch.randn(3, 4, 30, dtype=torch.float64).permute(2, 1, 0)
    h, expected = torch.zeros(4, 3, dtype=torch.float64), []
    for t in range(30):
        h = a[t] * h + b[t]
        expected.append(h)
    assert torch.allclose(linear_scan(a, b, None), torch.stack(expected), atol=1e-12)
