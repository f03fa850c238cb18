"""--precision: autocast reaches the recurrent kernels (every cell, padded and packed), the
weights stay float32, fp16 scales the loss, and a bad value is one line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.errors import ConfigError
from rnnkit.layers.recurrent import Recurrent
from rnnkit.training.trainer import TrainerConfig


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("packed", [False, True])
def test_bf16_autocast_runs_the_recurrence_in_bf16_with_float32_gradients(cell, packed):
    torch.manual_seed(0)
    layer = Recurrent(cell, 8, 16, num_layers=2, batch_first=True)
    x = torch.randn(3, 6, 8)
    lengths = torch.tensor([6, 4, 2]) if packed else None
    reference, _ = layer(x, lengths=lengths)
    with torch.autocast("cpu", torch.bfloat16):
        out, state = layer(x, lengths=lengths)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), reference, atol=3e-2)
    out.float().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in layer.parameters())
    # a bf16 state carried into a float32 window is accepted
    parts = state if isinstance(state, tuple) else (state,)
    layer(x[:, :2], state=parts if len(parts) > 1 else parts[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("cell, proj_size, packed", [("lstm", 0, False), ("lstm", 0, True), ("gru", 0, True),
                                                     ("lstm", 4, True)])
def test_cuda_autocast_runs_cudnn_in_low_precision(dtype, cell, proj_size, packed):
    # --precision bf16/fp16 on a GPU: the fused layer under CUDA autocast, padded and packed, the
    # projected LSTM (the awd-lstm preset's) too; close to float32, float32 gradients
    torch.manual_seed(0)
    layer = Recurrent(cell, 8, 16, num_layers=2, batch_first=True, proj_size=proj_size).cuda()
    x = torch.randn(3, 6, 8, device="cuda")
    lengths = torch.tensor([6, 4, 2]) if packed else None
    reference, _ = layer(x, lengths=lengths)
    with torch.autocast("cuda", dtype):
        out, _ = layer(x, lengths=lengths)
    assert out.dtype == dtype
    assert torch.allclose(out.float(), reference, atol=3e-2)
    out.float().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in layer.parameters())


def series(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return [np.sin(np.linspace(0, 2 + 2 * c, 16))[:, None] + 0.05 * rng.normal(size=(16, 1)) for c in y], y


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_training_in_low_precision_learns_and_records_it(tmp_path, precision):
    X, y = series()
    clf = rnnkit.RNNClassifier(hidden_size=16, epochs=15, batch_size=8, lr=1e-2, precision=precision, device="cpu",
                               early_stopping=None, conv_branch=False, validation_fraction=0.1,
                               run_dir=str(tmp_path / precision)).fit(X, y)
    assert clf.history_[0]["loss"] > clf.best_valid_loss_
    assert (clf.predict(X) == y).mean() > 0.8
    from rnnkit.training.checkpoint import load_checkpoint

    ck = load_checkpoint(tmp_path / precision / "last.safetensors")
    assert ck.meta["runtime"]["precision"] == precision
    assert ck.has_state("grad_scaler") == (precision == "fp16")
    assert all(v.dtype == torch.float32 for k, v in ck.tensors.items() if k.startswith("model/"))


def test_unknown_precision_is_refused_before_any_data_is_read(tmp_path):
    with pytest.raises(ConfigError, match="unknown precision"):
        TrainerConfig(precision="fp8")
    with pytest.raises(ConfigError, match="unknown precision"):
        rnnkit.RNNClassifier(precision="half").check_params()
    r = subprocess.run([sys.executable, "-m", "rnnkit", "classify", "train", "--train", str(tmp_path / "missing.tsv"),
                        "--precision", "fp8", "--out", str(tmp_path / "run")], capture_output=True, text=True)
    lines = [x for x in (r.stdout + r.stderr).splitlines() if x.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "unknown precision" in lines[0], lines


def test_old_bf16_flag_still_means_bf16():
    assert TrainerConfig(bf16=True).precision == "bf16"
