"""LanguageModel: shapes, step == forward, tied weights through checkpoints, can it overfit."""

import pytest
import torch

from rnnkit.errors import ConfigError
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from rnnkit.training.model_io import build_model, put_model


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_step_by_step_equals_forward(cell):
    model = LanguageModel(LanguageModelConfig(vocab_size=11, cell=cell, hidden_size=12, num_layers=2)).eval()
    ids = torch.randint(0, 11, (3, 9))
    full, _ = model(ids)
    state, steps = None, []
    for t in range(9):
        logits, state = model.step(ids[:, t], state)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full)


def test_tied_weights_survive_a_checkpoint(tmp_path):
    model = LanguageModel(LanguageModelConfig(vocab_size=20, hidden_size=16, num_layers=1, tie_weights=True))
    assert model.decoder.weight is model.embedding.weight
    ck = Checkpoint()
    put_model(ck, model)
    save_checkpoint(tmp_path / "m.safetensors", ck)
    loaded = build_model(load_checkpoint(tmp_path / "m.safetensors"))
    assert loaded.decoder.weight is loaded.embedding.weight
    ids = torch.randint(0, 20, (2, 5))
    assert torch.equal(loaded(ids)[0], model.eval()(ids)[0])


def test_config_errors():
    with pytest.raises(ConfigError, match="tie_weights needs embedding_size == the output size"):
        LanguageModelConfig(vocab_size=5, hidden_size=8, embedding_size=4, tie_weights=True)
    with pytest.raises(ConfigError, match="dropout"):
        LanguageModelConfig(vocab_size=5, dropout=1.5)


def test_init_range_and_forget_bias():
    model = LanguageModel(LanguageModelConfig(vocab_size=30, hidden_size=10, init_range=0.1, forget_bias=1.0))
    assert all(p.abs().max() <= 0.1 + 1e-6 for n, p in model.named_parameters() if "bias" not in n)
    cell = model.rnn.cells[0]
    assert torch.equal((cell.bias_ih + cell.bias_hh)[10:20], torch.ones(10))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_can_overfit_one_batch(cell):
    torch.manual_seed(0)
    text = torch.tensor([[0, 1, 2, 3, 4, 0, 2, 4, 1, 3, 0, 4, 3, 2, 1, 0]])
    model = LanguageModel(LanguageModelConfig(vocab_size=5, cell=cell, hidden_size=32, num_layers=1))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(200):
        logits, _ = model(text[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), text[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05


def test_dropout_variants_run_and_are_off_in_eval():
    cfg = LanguageModelConfig(vocab_size=9, hidden_size=8, num_layers=2, dropout=0.5, locked_dropout=True,
                              embedding_dropout=0.2, weight_drop=0.3)
    model = LanguageModel(cfg)
    ids = torch.randint(0, 9, (2, 6))
    assert model.rnn.backend == "fused"
    model.eval()
    torch.testing.assert_close(model(ids)[0], model(ids)[0])
    model.train()
    assert not torch.allclose(model(ids)[0], model(ids)[0])
