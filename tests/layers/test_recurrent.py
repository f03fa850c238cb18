"""``Recurrent`` vs torch.nn.LSTM/GRU/RNN, between its two backends, and its invariants."""

import itertools
import warnings

import pytest
import torch
from torch import nn

from helpers import assert_matches_torch
from rnnkit.cells import RecurrentCell
from rnnkit.layers import Recurrent, locked_dropout
from rnnkit.layers import recurrent as recurrent_module

CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]
BACKENDS = ["fused", "reference"]
T, B, I, H = 5, 3, 4, 6  # noqa: E741


def _state_like(layer, batch, scale=1.0):
    n = layer.num_layers * layer.num_directions
    parts = tuple(torch.randn(n, batch, H, dtype=torch.double) * scale for _ in layer.state_size)
    return parts


def _as_torch_state(parts):
    return parts[0] if len(parts) == 1 else parts


GRID = list(itertools.product(CELLS, BACKENDS, [1, 2, 3], [False, True], [False, True], [True, False], [False, True]))


@pytest.mark.parametrize("cell,backend,layers,bidi,batch_first,bias,given_state", GRID)
def test_matches_torch_over_option_grid(cell, backend, layers, bidi, batch_first, bias, given_state):
    ours = Recurrent(cell, I, H, layers, bias=bias, batch_first=batch_first, bidirectional=bidi,
                     backend=backend).double()
    theirs = ours.to_torch()
    x = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=torch.double)
    inputs = [x] + (list(_state_like(ours, B)) if given_state else [])
    names = {n: t for n, t in zip(dict(ours.named_parameters()), ours.torch_state_dict())}

    def run_ours(x, *state):
        return ours(x, _as_torch_state(state) if state else None)

    def run_theirs(x, *state):
        return theirs(x, _as_torch_state(state) if state else None)

    assert_matches_torch(ours, theirs, inputs, param_map=names, call_ours=run_ours, call_theirs=run_theirs,
                         atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_full_sequence_equals_step_by_step_equals_two_chunks(cell, backend, batch_first):
    layer = Recurrent(cell, I, H, 2, batch_first=batch_first, backend=backend).double()
    x = torch.randn((B, 7, I) if batch_first else (7, B, I), dtype=torch.double)
    t_dim = 1 if batch_first else 0
    state0 = _as_torch_state(_state_like(layer, B))
    full, final = layer(x, state0)

    state, steps = state0, []
    for t in range(7):
        out, state = layer.step(x.select(t_dim, t), state)
        steps.append(out)
    torch.testing.assert_close(torch.stack(steps, t_dim), full)
    for a, b in zip(Recurrent._to_tuple(state), Recurrent._to_tuple(final)):
        torch.testing.assert_close(a, b)

    first, mid = layer(x.narrow(t_dim, 0, 3), state0)
    second, end = layer(x.narrow(t_dim, 3, 4), mid)
    torch.testing.assert_close(torch.cat([first, second], t_dim), full)
    for a, b in zip(Recurrent._to_tuple(end), Recurrent._to_tuple(final)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bidi", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_padded_batch_equals_each_sequence_alone(cell, backend, bidi, batch_first):
    layer = Recurrent(cell, I, H, 2, bidirectional=bidi, batch_first=batch_first, backend=backend).double()
    lengths = [7, 2, 5, 1]
    seqs = [torch.randn(n, I, dtype=torch.double) for n in lengths]
    padded = nn.utils.rnn.pad_sequence(seqs, batch_first=batch_first)
    state0 = _state_like(layer, len(seqs))
    out, final = layer(padded, _as_torch_state(state0), lengths=torch.tensor(lengths))
    final = Recurrent._to_tuple(final)
    t_dim, b_dim = (1, 0) if batch_first else (0, 1)
    for b, seq in enumerate(seqs):
        alone_state = _as_torch_state(tuple(s[:, b:b + 1] for s in state0))
        alone, alone_final = layer(seq.unsqueeze(b_dim), alone_state)
        got = out.select(b_dim, b)
        torch.testing.assert_close(got.narrow(0, 0, lengths[b]), alone.select(b_dim, 0))
        assert not got.narrow(0, lengths[b], got.shape[0] - lengths[b]).any(), "padding must give zeros"
        for f, a in zip(final, Recurrent._to_tuple(alone_final)):
            torch.testing.assert_close(f[:, b], a[:, 0])


@pytest.mark.parametrize("cell", CELLS)
def test_lengths_match_torch_packed_sequence(cell):
    ours = Recurrent(cell, I, H, 2, bidirectional=True, backend="reference").double()
    theirs = ours.to_torch()
    lengths = torch.tensor([3, 5, 1])
    x = torch.randn(5, 3, I, dtype=torch.double)
    out, state = ours(x, lengths=lengths)
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    ref_packed, ref_state = theirs(packed)
    ref_out, _ = nn.utils.rnn.pad_packed_sequence(ref_packed, total_length=5)
    torch.testing.assert_close(out, ref_out)
    for a, b in zip(Recurrent._to_tuple(state), Recurrent._to_tuple(ref_state)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_gradcheck_float64(cell, backend):
    layer = Recurrent(cell, 2, 3, 2, bidirectional=True, backend=backend).double()
    x = torch.randn(4, 2, 2, dtype=torch.double, requires_grad=True)
    h0 = [s.requires_grad_() for s in _state_like(layer, 2, 0.5)]
    h0 = [s[..., :3].detach().requires_grad_() for s in h0]

    def f(x, *state):
        out, final = layer(x, _as_torch_state(state), lengths=torch.tensor([4, 3]))
        return (out, *Recurrent._to_tuple(final))

    assert torch.autograd.gradcheck(f, (x, *h0))


def _count_kernel_calls(monkeypatch):
    calls = {"kernel": 0, "cell": 0}
    for mode, fn in list(recurrent_module._FUSED_KERNELS.items()):
        def wrapped(*args, _fn=fn, **kwargs):
            calls["kernel"] += 1
            return _fn(*args, **kwargs)
        monkeypatch.setitem(recurrent_module._FUSED_KERNELS, mode, wrapped)
    from rnnkit.cells import LSTMCell
    orig = LSTMCell.recur

    def recur(self, *a, **k):
        calls["cell"] += 1
        return orig(self, *a, **k)

    monkeypatch.setattr(LSTMCell, "recur", recur)
    return calls


@pytest.mark.parametrize("lengths", [None, [6, 3, 4]])
def test_locked_dropout_and_weight_drop_keep_the_fused_path(monkeypatch, lengths):
    layer = Recurrent("lstm", I, H, 3, dropout=0.4, locked_dropout=True, weight_drop=0.5)
    assert layer.backend == "fused"
    calls = _count_kernel_calls(monkeypatch)
    layer.train()
    layer(torch.randn(6, 3, I), lengths=lengths)
    assert calls == {"kernel": 3, "cell": 0}  # one fused call per layer, no Python time loop
    layer.eval()
    layer(torch.randn(6, 3, I), lengths=lengths)
    assert calls == {"kernel": 4, "cell": 0}  # eval: one call for the whole stack


@pytest.mark.parametrize("locked", [False, True])
def test_dropout_variants_agree_between_backends_given_the_same_seed(locked):
    fused = Recurrent("lstm", I, H, 3, dropout=0.3, locked_dropout=locked, weight_drop=0.4).double()
    ref = Recurrent("lstm", I, H, 3, dropout=0.3, locked_dropout=locked, weight_drop=0.4,
                    backend="reference").double()
    ref.load_state_dict(fused.state_dict())
    x = torch.randn(6, 3, I, dtype=torch.double)
    torch.manual_seed(7)
    a, _ = fused(x)
    torch.manual_seed(7)
    b, _ = ref(x)
    if locked:  # same masks drawn in the same order -> identical
        torch.testing.assert_close(a, b)
    fused.eval(), ref.eval()
    torch.testing.assert_close(fused(x)[0], ref(x)[0])  # no dropout at all in eval


def test_weight_drop_changes_training_output_only():
    layer = Recurrent("gru", I, H, weight_drop=0.5)
    x = torch.randn(5, 2, I)
    layer.eval()
    ref = layer(x)[0]
    layer.train()
    assert not torch.allclose(layer(x)[0], ref)
    layer.eval()
    torch.testing.assert_close(layer(x)[0], ref)


def test_locked_dropout_mask_is_shared_over_time():
    x = torch.ones(50, 4, 16)
    y = locked_dropout(x, 0.5, training=True, time_dim=0)
    assert torch.equal(y[0] == 0, y[-1] == 0) and (y == 0).any()
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(locked_dropout(x, 0.5, training=False), x)


class MinimalGatedCell(RecurrentCell):
    """A custom cell (not torch-shaped): h_t = (1 - z) h + z tanh(W x), z = sigmoid(U x)."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.w = nn.Linear(input_size, hidden_size, bias)
        self.u = nn.Linear(input_size, hidden_size, bias)

    @property
    def state_size(self):
        return (self.hidden_size,)

    def forward(self, x_t, state=None):
        (h,) = state if state is not None else self.initial_state(x_t.shape[0])
        z = torch.sigmoid(self.u(x_t))
        h = (1 - z) * h + z * torch.tanh(self.w(x_t))
        return h, (h,)


def test_custom_cell_runs_on_the_reference_backend():
    layer = Recurrent(MinimalGatedCell, I, H, 2, bidirectional=True)
    assert layer.backend == "reference" and "no fused kernel" in layer.explain()
    x = torch.randn(5, 2, I)
    out, h = layer(x, lengths=[5, 3])
    assert out.shape == (5, 2, 2 * H) and h.shape == (4, 2, H)
    # one layer, forward direction: the cell applied step by step
    single = Recurrent(MinimalGatedCell, I, H, bidirectional=True)
    out = single(x)[0]
    cell, state, manual = single.cells[0], None, []
    for t in range(5):
        o, state = cell(x[t], state)
        manual.append(o)
    torch.testing.assert_close(out[..., :H], torch.stack(manual))
    with pytest.raises(ValueError, match="fused"):
        Recurrent(MinimalGatedCell, I, H, backend="fused")


def test_explain_and_repr_state_the_backend():
    assert "fused" in repr(Recurrent("lstm", 2, 3))
    assert Recurrent("gru", 2, 3).explain().startswith("fused: torch's GRU kernel")
    assert Recurrent("gru", 2, 3, backend="reference").explain().startswith("reference")


def test_clear_errors():
    layer = Recurrent("lstm", I, H, 2)
    with pytest.raises(ValueError, match=r"expects input \(time, batch, features\) with features=4"):
        layer(torch.randn(5, 3, 2))
    with pytest.raises(ValueError, match=r"initial state must have shape \(2, 3, 6\)"):
        layer(torch.randn(5, 3, I), (torch.zeros(1, 3, H), torch.zeros(1, 3, H)))
    with pytest.raises(ValueError, match="between 1 and the padded length 5"):
        layer(torch.randn(5, 3, I), lengths=[5, 0, 2])
    with pytest.raises(ValueError, match="bidirectional"):
        Recurrent("gru", I, H, bidirectional=True).step(torch.randn(3, I))
    with pytest.raises(ValueError, match="forget_bias applies to lstm, peephole_lstm"):
        Recurrent("gru", I, H, forget_bias=1.0)
    with pytest.raises(ValueError, match="backend"):
        Recurrent("gru", I, H, backend="cuda")


@pytest.mark.parametrize("cell", CELLS)
def test_torch_interop_round_trip(cell):
    theirs = Recurrent(cell, I, H, 2, bidirectional=True).to_torch()
    ours = Recurrent.from_torch(theirs)
    assert type(theirs) is type(ours.to_torch())
    x = torch.randn(4, 2, I)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0])
    # the layer's torch_state_dict loads strictly into the torch module
    theirs.load_state_dict(ours.torch_state_dict(), strict=True)


def test_layer_contract_state_dict_seed_dtype():
    torch.manual_seed(1)
    a = Recurrent("lstm", I, H, 2, bidirectional=True)
    torch.manual_seed(1)
    b = Recurrent("lstm", I, H, 2, bidirectional=True)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = Recurrent("lstm", I, H, 2, bidirectional=True)
    c.load_state_dict(a.state_dict())
    x = torch.randn(3, 2, I)
    torch.testing.assert_close(c(x)[0], a(x)[0])
    assert a.double()(x.double())[0].dtype == torch.double
    h0 = a.initial_state(2)
    assert isinstance(h0, tuple) and h0[0].shape == (4, 2, H)


def test_flatten_parameters_is_a_noop_on_cpu_and_keeps_outputs():
    layer = Recurrent("lstm", I, H, 2)
    x = torch.randn(3, 2, I)
    before = layer(x)[0]
    ptrs = [p.data_ptr() for p in layer.parameters()]
    layer.flatten_parameters()
    layer.to(torch.float32)
    assert [p.data_ptr() for p in layer.parameters()] == ptrs
    torch.testing.assert_close(layer(x)[0], before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("cell", CELLS)
def test_cuda_fused_matches_torch_and_cpu_reference(cell, monkeypatch):
    # Ampere and later GPUs run cuDNN's RNNs in TF32 (10-bit mantissa) unless told not to;
    # equivalence with the float32 CPU reference is checked in full float32.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    ours = Recurrent(cell, I, H, 2, bidirectional=True).cuda()
    theirs = ours.to_torch()
    x = torch.randn(5, 3, I, device="cuda")
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], atol=1e-5, rtol=1e-4)
    ref = Recurrent(cell, I, H, 2, bidirectional=True, backend="reference")
    ref.load_state_dict({k: v.cpu() for k, v in ours.state_dict().items()})
    torch.testing.assert_close(ours(x)[0].cpu(), ref(x.cpu())[0], atol=1e-5, rtol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("bias", [True, False])
def test_cuda_projected_lstm_flattens_and_matches_torch(bias, monkeypatch):
    # An LSTMP layer holds five tensors per layer and direction (weight_hr last): cuDNN's flat
    # buffer must be laid out with that stride, as torch.nn.LSTM(proj_size=...) lays it out.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    ours = Recurrent("lstm", I, H, 2, bias=bias, bidirectional=True, proj_size=3).cuda()
    theirs = ours.to_torch()
    x = torch.randn(5, 3, I, device="cuda", requires_grad=True)
    out, (h, c) = ours(x)
    ref_out, (ref_h, ref_c) = theirs(x)
    assert out.shape == (5, 3, 6) and h.shape == (4, 3, 3) and c.shape == (4, 3, H)
    for a, b in ((out, ref_out), (h, ref_h), (c, ref_c)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    (grad,) = torch.autograd.grad(out.sum(), x)
    (ref_grad,) = torch.autograd.grad(ref_out.sum(), x)
    torch.testing.assert_close(grad, ref_grad, atol=1e-5, rtol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_weight_dropped_projected_lstm_trains():
    # The AWD-LSTM's layer on cuDNN: DropConnect on weight_hh (fresh weights at every call, so
    # not the flat buffer) with projections; every weight gets a gradient, evaluation is repeatable.
    layer = Recurrent("lstm", I, H, 3, proj_size=3, weight_drop=0.5, locked_dropout=True, dropout=0.2).cuda()
    x = torch.randn(2, 7, I, device="cuda")
    layer(x)[0].square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())
    layer.eval()
    torch.testing.assert_close(layer(x)[0], layer(x)[0])


@pytest.mark.parametrize("note, settings, training, silenced", [
    # cuDNN warns at every call whose weights lie outside the flat buffer; under DropConnect in
    # training that is by design, so the layer silences that one warning there and nowhere else
    ("_NOT_CONTIGUOUS", {"weight_drop": 0.5}, True, True),
    ("_NOT_CONTIGUOUS", {"weight_drop": 0.5}, False, False),
    ("_NOT_CONTIGUOUS", {"weight_drop": 0.0}, True, False),
    # torch notes once that oneDNN has no projected LSTM and runs its own kernel instead: the
    # layer drops that note for projected layers on the CPU
    ("_NO_ONEDNN_PROJECTION", {"proj_size": 3}, True, True),
    ("_NO_ONEDNN_PROJECTION", {"proj_size": 0}, True, False),
])
def test_the_layer_silences_only_the_kernel_notes_it_expects(note, settings, training, silenced, monkeypatch):
    recurrent = recurrent_module
    real = recurrent._FUSED_KERNELS["LSTM"]
    text = getattr(recurrent, note)

    def warning_kernel(*args):
        warnings.warn(text + ". More words follow.", stacklevel=2)
        warnings.warn("another warning", stacklevel=2)
        return real(*args)

    monkeypatch.setitem(recurrent._FUSED_KERNELS, "LSTM", warning_kernel)
    layer = Recurrent("lstm", I, H, 2, **settings).train(training)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer(torch.randn(T, B, I))
    messages = [str(w.message) for w in caught]
    assert "another warning" in messages  # every other warning passes
    assert any(m.startswith(text) for m in messages) != silenced
