"""The NumPy step engine equals torch's layer, step by step, for every built-in cell."""

import numpy as np
import pytest
import torch

from rnnkit.errors import ConfigError
from rnnkit.inference import StepEngine, resolve_engine
from rnnkit.layers import Recurrent


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("batch", [1, 3])
def test_engine_steps_equal_the_full_sequence(cell, layers, batch):
    torch.manual_seed(0)
    rnn = Recurrent(cell, 5, 7, layers, batch_first=True).eval()
    x = torch.randn(batch, 9, 5)
    h0 = rnn.initial_state(batch)
    h0 = tuple(torch.randn_like(h) for h in h0) if isinstance(h0, tuple) else torch.randn_like(h0)
    with torch.no_grad():
        ref, ref_state = rnn(x, h0)
    engine = StepEngine(rnn)
    state = engine.new_state(batch)
    parts = h0 if isinstance(h0, tuple) else (h0,)
    engine.set(state, {k: p.numpy() for k, p in zip(("h", "c"), parts)})
    outs = np.stack([engine.step(state, x[:, t].numpy()).copy() for t in range(9)], 1)
    np.testing.assert_allclose(outs, ref.numpy(), atol=1e-5)
    final = engine.get(state)
    ref_parts = ref_state if isinstance(ref_state, tuple) else (ref_state,)
    for name, p in zip(("h", "c"), ref_parts):
        np.testing.assert_allclose(final[name], p.numpy(), atol=1e-5)


def test_engine_without_biases_and_with_a_wide_input():
    torch.manual_seed(1)
    rnn = Recurrent("lstm", 40, 6, 2, bias=False, batch_first=True).eval()
    x = torch.randn(2, 4, 40)
    with torch.no_grad():
        ref, _ = rnn(x)
    engine = StepEngine(rnn)
    state = engine.new_state(2)
    outs = np.stack([engine.step(state, x[:, t].numpy()).copy() for t in range(4)], 1)
    np.testing.assert_allclose(outs, ref.numpy(), atol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch", [1, 3])
def test_engine_runs_the_projected_lstm(bias, batch):
    # LSTMP (the awd-lstm preset's layers): h has P units, c keeps H; from a given state
    torch.manual_seed(2)
    rnn = Recurrent("lstm", 5, 7, 3, bias=bias, batch_first=True, proj_size=4).eval()
    x = torch.randn(batch, 9, 5)
    h0, c0 = (torch.randn_like(p) for p in rnn.initial_state(batch))
    with torch.no_grad():
        ref, (ref_h, ref_c) = rnn(x, (h0, c0))
    engine = StepEngine(rnn)
    assert engine.state_sizes == {"h": 4, "c": 7}
    state = engine.new_state(batch)
    engine.set(state, {"h": h0.numpy(), "c": c0.numpy()})
    outs = np.stack([engine.step(state, x[:, t].numpy()).copy() for t in range(9)], 1)
    np.testing.assert_allclose(outs, ref.numpy(), atol=1e-5)
    final = engine.get(state)
    np.testing.assert_allclose(final["h"], ref_h.numpy(), atol=1e-5)
    np.testing.assert_allclose(final["c"], ref_c.numpy(), atol=1e-5)


def test_engine_refuses_what_it_cannot_run():
    with pytest.raises(ConfigError, match="bidirectional"):
        StepEngine(Recurrent("lstm", 3, 4, bidirectional=True))
    with pytest.raises(ConfigError, match="engine must be one of"):
        resolve_engine("fast")
    assert resolve_engine("auto", "cpu") == "numpy"
    assert resolve_engine("auto", "cuda") == "torch"
    assert "fused [x, h, 1] @ W" in StepEngine(Recurrent("gru", 3, 4)).explain()
