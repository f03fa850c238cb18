"""Long-range memory tasks: the data are what they claim, a short lag is learnt, the CLI runs."""

import json

import torch
from typer.testing import CliRunner

from rnnkit.cli.main import app
from rnnkit.diagnostics.long_range import COPY_K, LongRangeNet, adding_batch, copy_batch, train_long_range


def test_adding_batch_marks_one_value_in_each_half():
    x, y = adding_batch(16, 10, torch.Generator().manual_seed(0))
    assert x.shape == (16, 10, 2) and y.shape == (16,)
    markers = x[..., 1]
    assert (markers.sum(1) == 2).all() and (markers[:, :5].sum(1) == 1).all()
    torch.testing.assert_close((x[..., 0] * markers).sum(1), y)


def test_copy_batch_layout():
    x, y = copy_batch(4, 7, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 7 + 2 * COPY_K)
    assert (x[:, COPY_K:7 + COPY_K - 1] == 0).all() and (x[:, 7 + COPY_K - 1] == 9).all()
    assert (y[:, -COPY_K:] == x[:, :COPY_K]).all() and not y[:, :-COPY_K].any()


def test_short_adding_problem_is_learnt():
    r = train_long_range("adding", "lstm", 6, steps=400, hidden_size=16, lr=1e-2, test_size=256)
    assert r.score < 0.03 and not r.diverged  # baseline MSE is 1/6


def test_cli(tmp_path):
    r = CliRunner().invoke(app, ["inspect", "long-range", "--task", "copy", "--cells", "gru,irnn", "--lengths", "3",
                                 "--steps", "5", "--hidden", "8", "--clip", "1,none",
                                 "--out", str(tmp_path / "lr.png"), "--json", str(tmp_path / "lr.json")])
    assert r.exit_code == 0, r.output
    results = json.loads((tmp_path / "lr.json").read_text())
    assert [x["clip"] for x in results] == [1.0, 1.0, None, None] and (tmp_path / "lr.png").exists()
    r = CliRunner().invoke(app, ["inspect", "long-range", "--lengths", "10,x"])
    assert r.exit_code == 2 and "--lengths takes integers" in r.output


def test_irnn_starts_at_identity_and_lstm_forget_gate_open():
    irnn = LongRangeNet("adding", "irnn", 8)
    (w_hh,) = [p for n, p in irnn.rnn.named_parameters() if "weight_hh" in n]
    torch.testing.assert_close(w_hh, torch.eye(8))
    assert all(not p.any() for n, p in irnn.rnn.named_parameters() if "bias" in n)
    # With W_hh = I and zero input the ReLU state is carried unchanged: dh_t/dh_{t-1} = I.
    assert irnn.rnn.cell_type == "rnn_relu"
    lstm = LongRangeNet("adding", "lstm", 8, forget_bias=1.0)
    (b_ih,) = [p for n, p in lstm.rnn.named_parameters() if "bias_ih" in n]
    assert (b_ih[8:16] == 1.0).all()  # torch's gate order: input, forget, cell, output


def test_irnn_gradients_grow_with_length_without_clipping():
    short = train_long_range("adding", "irnn", 5, steps=20, hidden_size=16, clip=None, test_size=8)
    long = train_long_range("adding", "irnn", 80, steps=20, hidden_size=16, clip=None, test_size=8)
    assert long.max_grad_norm > 5 * short.max_grad_norm
