"""One contract for every model family (scikit-learn's ``check_estimator`` in spirit): the
parameter protocol, ``fit`` returns self and leaves the parameters alone, not-fitted errors,
save/load gives identical predictions, one run-folder rule, all exported from ``rnnkit``; every
family exports to ONNX and can be served."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import rnnkit
from rnnkit.errors import ConfigError
from rnnkit.tasks import ESTIMATORS
from rnnkit.tasks.base import Estimator


@dataclass
class Family:
    name: str
    make: Callable[[], Estimator]  # a small, fast configuration
    data: Callable[[Any], tuple]  # tmp_path -> fit's positional arguments
    predict: Callable[[Estimator, tuple], Any]  # something deterministic to compare after save/load


def series_data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 12, 1)).astype(np.float32)
    y = np.where(X[:, :, 0].mean(1) > 0, "up", "down")
    return X, y


def tagging_data(tmp_path):
    sentences = [["the", "cat", "sat"], ["a", "dog", "ran"], ["the", "dog", "sat"], ["a", "cat", "ran"]] * 4
    tags = [["DET", "NOUN", "VERB"]] * len(sentences)
    return sentences, tags


def table_data(tmp_path):
    i = np.arange(240)
    return (pd.DataFrame({"date": pd.date_range("2022-01-01", periods=240, freq="h"),
                          "y": 5 + np.sin(2 * np.pi * i / 24)}),)


def text_file(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("def f(x):\n    return x + 1\n" * 60, encoding="utf-8")
    return (str(path),)


def sentence_data(tmp_path):
    return ["a good film", "a fine movie", "a bad film", "a dull movie"] * 6, ["pos", "pos", "neg", "neg"] * 6


def pair_data(tmp_path):
    src = ["a b c", "b c d", "c d a", "d a b"] * 6
    return src, [" ".join(s.split()[::-1]) for s in src]


def frame_data(tmp_path):
    rng = np.random.default_rng(0)
    texts = ["ab", "ba", "abb", "b"] * 5
    one_hot = np.eye(4, dtype=np.float32)
    frames = [np.concatenate([one_hot[[0, 1 + "ab".index(c), 1 + "ab".index(c), 1 + "ab".index(c), 0]] for c in t])
              + rng.normal(0, 0.1, (5 * len(t), 4)).astype(np.float32) for t in texts]
    return frames, texts


def music_data(tmp_path):
    roll = np.zeros((8, 88), np.float32)
    roll[::2, 39] = roll[1::2, 43] = 1.0
    return ({"train": [roll, roll[:6]], "valid": [roll], "test": [roll]},)


FAMILIES = [
    Family("RNNClassifier", lambda: rnnkit.RNNClassifier(hidden_size=8, epochs=2, device="cpu"), series_data,
           lambda e, d: e.predict_proba(d[0])),
    Family("RNNTagger", lambda: rnnkit.RNNTagger(hidden_size=8, num_layers=1, embedding_size=8, epochs=2,
                                                 device="cpu"), tagging_data,
           lambda e, d: np.concatenate(e.predict_proba(d[0]))),
    Family("Forecaster", lambda: rnnkit.Forecaster(horizon=4, context=12, hidden_size=8, epochs=2, device="cpu"),
           table_data, lambda e, d: e.predict(d[0]).select_dtypes("number").to_numpy()),
    Family("LanguageModeler", lambda: rnnkit.LanguageModeler(hidden_size=16, num_layers=1, batch_size=4, bptt=16,
                                                             epochs=1, device="cpu"), text_file,
           lambda e, d: e.evaluate(d[0])["loss"]),
    Family("ConditionedGenerator", lambda: rnnkit.ConditionedGenerator(hidden_size=8, condition_size=4, epochs=2,
                                                                       device="cpu"), sentence_data,
           lambda e, d: e.score(*d)["loss"]),
    Family("Translator", lambda: rnnkit.Translator(tokenizer="whitespace", min_freq=1, hidden_size=8,
                                                   embedding_size=8, epochs=2, device="cpu"), pair_data,
           lambda e, d: e.translate(d[0][:4], beam_size=1)),
    Family("MusicModeler", lambda: rnnkit.MusicModeler(hidden_size=8, epochs=2, device="cpu"), music_data,
           lambda e, d: e.evaluate(d[0]["test"])["nll"]),
    Family("Recognizer", lambda: rnnkit.Recognizer(hidden_size=8, num_layers=1, epochs=2, device="cpu"), frame_data,
           lambda e, d: np.concatenate(e.log_probs(d[0][:4]))),
]
IDS = [f.name for f in FAMILIES]


def test_every_family_is_covered_and_exported():
    assert sorted(IDS) == sorted(ESTIMATORS)
    for name in ESTIMATORS:
        assert name in rnnkit.__all__ and issubclass(getattr(rnnkit, name), Estimator)


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_parameters_round_trip_and_init_learns_nothing(family):
    est = family.make()
    params = est.get_params()
    assert set(params) == set(type(est)._param_names())
    assert set(vars(est)) == set(params)  # __init__ stores its parameters and nothing else
    assert type(est)(**params).get_params() == params
    assert est.set_params(seed=7) is est and est.get_params()["seed"] == 7
    with pytest.raises(ValueError, match="invalid parameter"):
        est.set_params(no_such_parameter=1)
    assert repr(est).startswith(family.name + "(")


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_not_fitted_errors(family, tmp_path):
    est = family.make()
    with pytest.raises(RuntimeError, match="not fitted"):
        family.predict(est, family.data(tmp_path))
    with pytest.raises(RuntimeError, match="not fitted"):
        est.save(tmp_path / "x.safetensors")


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_fit_save_load_and_run_folder(family, tmp_path):
    data = family.data(tmp_path)
    run = tmp_path / "run"
    est = family.make().set_params(run_dir=str(run))
    before = est.get_params()
    torch.manual_seed(0)
    assert est.fit(*data) is est
    assert est.get_params() == before  # fit leaves the parameters alone
    assert hasattr(est, "model_") and isinstance(est.history_, list) and np.isfinite(est.best_valid_loss_)
    assert (run / "model.safetensors").exists()

    expected = family.predict(est, data)
    for path in (est.save(tmp_path / "saved.safetensors"), run / "model.safetensors"):
        again = type(est).load(path)
        assert again.get_params() == before
        got = family.predict(again, data)
        if isinstance(expected, list):
            assert got == expected
        else:
            np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float),
                                       rtol=1e-6, atol=1e-7)

    with pytest.raises(ConfigError, match="already holds a training run"):
        family.make().set_params(run_dir=str(run)).fit(*data)
    with pytest.raises(ConfigError, match="exclude each other"):
        family.make().set_params(run_dir=str(run)).fit(*data, resume=True, overwrite=True)
    family.make().set_params(run_dir=str(run)).fit(*data, overwrite=True)  # replacing on request works


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_load_refuses_another_family(family, tmp_path):
    other = FAMILIES[(IDS.index(family.name) + 1) % len(FAMILIES)]
    path = other.make().fit(*other.data(tmp_path)).save(tmp_path / "other.safetensors")
    with pytest.raises(rnnkit.CheckpointError, match="is not a"):
        type(family.make()).load(path)


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_every_family_checkpoints_mid_epoch_on_request(family):
    """``checkpoint_every`` reaches the Trainer for every family (not only the language model)."""
    est = family.make().set_params(checkpoint_every=3)
    if isinstance(est, rnnkit.LanguageModeler):
        config = est._settings(["x.txt"], None, None).trainer_config()
    elif isinstance(est, rnnkit.MusicModeler):
        config = est._settings("").trainer_config()
    else:
        config = est._trainer_config()
    assert config.checkpoint_every == 3


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_every_family_exports_to_onnx_and_is_served(family, tmp_path):
    pytest.importorskip("onnx")
    from rnnkit.inference.onnx_export import read_onnx_metadata
    from rnnkit.serving.served import ServedModel

    est = family.make().fit(*family.data(tmp_path))
    paths = est.export(tmp_path / "model.onnx")
    assert paths and all(read_onnx_metadata(p)["estimator"] == family.name for p in paths)
    info = ServedModel("model", est).describe()
    assert info["estimator"] == family.name and (info["sessions"] or "predict" in info), info
