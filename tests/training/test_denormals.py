"""Denormal floats are flushed while training (they cost CPUs microcode time) and only then."""

import pytest
import torch

from rnnkit.training.denormals import flushed_denormals


def test_flushed_inside_and_restored_after():
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    tiny = torch.tensor([1e-30])
    assert (tiny * 1e-10).item() > 0  # a denormal, kept by default
    with flushed_denormals():
        assert (tiny * 1e-10).item() == 0.0
    assert (tiny * 1e-10).item() > 0


def test_a_fit_flushes_while_it_trains():
    import numpy as np

    from rnnkit.tasks.classify import RNNClassifier
    from rnnkit.training import Callback

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    seen = []

    class Probe(Callback):
        def on_fit_start(self, trainer):
            seen.append((torch.tensor([1e-30]) * 1e-10).item())

    rng = np.random.default_rng(0)
    RNNClassifier(hidden_size=4, epochs=1, device="cpu").fit(
        rng.normal(size=(8, 5, 1)).astype("float32"), np.array([0, 1] * 4), callbacks=[Probe()])
    assert seen == [0.0]
    assert (torch.tensor([1e-30]) * 1e-10).item() > 0
