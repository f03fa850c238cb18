"""Checkpoints: bit-identical round trip, atomic saves, clear errors on bad files."""

import os

import numpy as np
import pytest
import torch

from rnnkit.errors import CheckpointError
from rnnkit.layers import Recurrent
from rnnkit.training import checkpoint as ckpt_module
from rnnkit.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


def _make(path, seed=0):
    torch.manual_seed(seed)
    layer = Recurrent("lstm", 3, 5, 2)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
    layer(torch.randn(4, 2, 3))[0].sum().backward()
    opt.step()
    ck = Checkpoint(meta={"config": {"cell": "lstm", "hidden": 5}, "step": 7, "vocab": ["a", "b"]},
                    tensors={f"model/{k}": v for k, v in layer.state_dict().items()})
    ck.put_state("optimizer", opt.state_dict())
    ck.put_state("rng", {"torch": torch.get_rng_state(), "numpy": np.random.get_state()})
    save_checkpoint(path, ck)
    layer.saved_rng = torch.get_rng_state()
    return layer, opt


def test_round_trip_is_bit_identical(tmp_path):
    path = tmp_path / "run" / "model.safetensors"
    layer, opt = _make(path)
    loaded = load_checkpoint(path)
    assert loaded.meta["config"] == {"cell": "lstm", "hidden": 5} and loaded.meta["step"] == 7
    clone = Recurrent("lstm", 3, 5, 2)
    clone.load_state_dict({k[len("model/"):]: v for k, v in loaded.tensors.items() if k.startswith("model/")})
    x = torch.randn(6, 2, 3)
    assert torch.equal(clone(x)[0], layer(x)[0])
    opt2 = torch.optim.Adam(clone.parameters(), lr=1.0)
    opt2.load_state_dict(loaded.state("optimizer"))
    assert opt2.param_groups[0]["lr"] == 1e-3
    for p, q in zip(opt.state.values(), opt2.state.values()):
        assert torch.equal(p["exp_avg"], q["exp_avg"]) and torch.equal(p["exp_avg_sq"], q["exp_avg_sq"])
    rng = loaded.state("rng")
    assert torch.equal(rng["torch"], layer.saved_rng)
    assert rng["numpy"][0] == "MT19937" and isinstance(rng["numpy"], tuple)
    np.random.set_state(rng["numpy"])  # the restored numpy state is usable as is


def test_crash_mid_save_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    _make(path, seed=0)
    before = path.read_bytes()

    real_fsync = os.fsync

    def crash(fd):
        real_fsync(fd)
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(ckpt_module.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        _make(path, seed=1)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path).meta["step"] == 7
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"], "no temp file left behind"


@pytest.mark.parametrize("cut", [4, 100, -10])
def test_truncated_file_gives_one_clear_line(tmp_path, cut):
    path = tmp_path / "model.safetensors"
    _make(path)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="not a readable rnnkit checkpoint") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


def test_other_bad_files(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("hello world, definitely not tensors")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(text)
    from safetensors.torch import save_file
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not an rnnkit checkpoint"):
        load_checkpoint(foreign)


def test_loading_unpickles_nothing(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    _make(path)
    import pickle

    def boom(*a, **k):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(torch, "load", boom)
    assert load_checkpoint(path).meta["step"] == 7


def test_a_checkpoint_another_version_cannot_use_names_its_writer(tmp_path, monkeypatch):
    """Checkpoints record the rnnkit that wrote them; one this version cannot rebuild says so
    in one line (here: a model config field this version does not know, and missing metadata)."""
    from rnnkit import RNNClassifier, __version__
    from rnnkit.training import build_model

    X = np.random.default_rng(0).normal(size=(12, 6, 1)).astype(np.float32)
    path = RNNClassifier(hidden_size=4, epochs=1, device="cpu").fit(X, ["a", "b"] * 6).save(tmp_path / "m.safetensors")
    ck = load_checkpoint(path)
    assert ck.written_by == __version__

    ck.meta["model"]["config"]["from_the_future"] = 1
    monkeypatch.setattr(ckpt_module, "__version__", "9.9.0")
    save_checkpoint(tmp_path / "future.safetensors", ck)
    with pytest.raises(CheckpointError, match=r"written by rnnkit 9\.9\.0\): its model config does not fit"):
        build_model(load_checkpoint(tmp_path / "future.safetensors"))

    del ck.meta["model"]["config"]["from_the_future"]
    del ck.meta["classes"]
    save_checkpoint(tmp_path / "partial.safetensors", ck)
    with pytest.raises(CheckpointError, match=r"written by rnnkit 9\.9\.0\) lacks what this RNNClassifier needs"):
        RNNClassifier.load(tmp_path / "partial.safetensors")


def test_a_config_declaring_a_huge_model_is_refused_before_any_allocation(tmp_path):
    """The config is checked against the stored tensors' shapes on the meta device first: a
    small file claiming hidden 2**22 (a 70 TB model) is one line, at once, with no allocation."""
    import resource
    import time

    from rnnkit.models import LanguageModel, LanguageModelConfig
    from rnnkit.training import build_model, put_model

    ck = Checkpoint()
    put_model(ck, LanguageModel(LanguageModelConfig(vocab_size=10, hidden_size=8, num_layers=1)))
    ck.meta["model"]["config"]["hidden_size"] = 2**22
    save_checkpoint(tmp_path / "huge.safetensors", ck)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    with pytest.raises(CheckpointError, match="does not match its weights"):
        build_model(load_checkpoint(tmp_path / "huge.safetensors"))
    assert time.monotonic() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 200_000  # KiB: under 200 MB more


def test_header_is_checked_before_the_tensors_are_read(tmp_path):
    (tmp_path / "lying.safetensors").write_bytes((10**12).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointError, match="does not fit the file"):
        load_checkpoint(tmp_path / "lying.safetensors")


def test_a_vocabulary_that_does_not_fit_the_model_is_one_line(tmp_path):
    from rnnkit.tasks import lm

    corpus = tmp_path / "c.txt"
    corpus.write_text("abcabc\n" * 50)
    result = lm.train(lm.LMSettings(train_files=[str(corpus)], hidden_size=8, num_layers=1, epochs=1,
                                    progress=False, sample_every=0, device="cpu"), tmp_path / "run")
    ck = load_checkpoint(result.best_checkpoint)
    ck.meta["vocab"]["tokens"] = ck.meta["vocab"]["tokens"][:2]  # shorter than the embedding
    save_checkpoint(tmp_path / "short.safetensors", ck)
    with pytest.raises(CheckpointError, match="vocabulary has 2 tokens"):
        lm.load(tmp_path / "short.safetensors")
