"""The gradient monitor: per-step gradient records during real training, and its warnings."""

import json
from types import SimpleNamespace

import pytest
from torch import nn

from rnnkit.diagnostics.gradient_monitor import GradientMonitor
from rnnkit.layers import Recurrent
from rnnkit.tasks import lm


def test_language_model_training_logs_gradient_flow(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcdefgh " * 300)
    settings = lm.LMSettings(train_files=[str(path)], hidden_size=16, num_layers=1, batch_size=4, bptt=12, epochs=1,
                             max_steps=6, progress=False, sample_every=0, device="cpu", monitor_gradients=2)
    lm.train(settings, tmp_path / "run")
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    flows = [r for r in records if r["kind"] == "grad_flow"]
    assert [r["step"] for r in flows] == [2, 4, 6]
    assert all(len(r["norms"]) == 12 and min(r["norms"]) > 0 for r in flows)


def _trainer(clip=None):
    logged = []
    return SimpleNamespace(config=SimpleNamespace(clip=clip), log=logged.append, logged=logged)


def test_warns_on_exploding_norms():
    model = nn.Sequential(Recurrent("gru", 2, 3))
    monitor = GradientMonitor(model, every=1000)
    trainer = _trainer()
    for step, norm in enumerate([1.0, 1.2, 0.9, 1.1, 50.0], 1):
        monitor.on_step(trainer, {"kind": "train", "step": step, "grad_norm": norm})
    assert len(monitor.warnings) == 1 and "exploding gradient" in monitor.warnings[0]
    assert "--clip" in monitor.warnings[0]
    with pytest.raises(ValueError, match="recurrent layer"):
        GradientMonitor(nn.Linear(2, 2))
