"""Small fitted models saved once per test session, for the server tests."""

import numpy as np
import pandas as pd
import pytest

import rnnkit
from helpers import ctc_utterances


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    text = root / "text.txt"
    text.write_text("the cat sat on the mat. the dog ran to the cat.\n" * 40, encoding="utf-8")
    lm = rnnkit.LanguageModeler(hidden_size=16, num_layers=1, batch_size=4, bptt=16, epochs=1, device="cpu")
    paths = {"lm": lm.fit(str(text)).save(root / "lm.safetensors")}
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 8, 2)).astype(np.float32)
    y = np.where(X[:, :, 0].mean(1) > 0, "up", "down")
    clf = rnnkit.RNNClassifier(hidden_size=8, bidirectional=False, znorm=False, conv_branch=False, epochs=2,
                                 device="cpu").fit(X, y)
    paths["sensor"] = clf.save(root / "sensor.safetensors")
    bi = rnnkit.RNNClassifier(hidden_size=8, conv_branch=False, epochs=1, device="cpu").fit(X, y)
    paths["bi"] = bi.save(root / "bi.safetensors")
    texts = ["a good film", "a fine movie", "a bad film", "a dull movie"] * 6
    txt = rnnkit.RNNClassifier(hidden_size=8, bidirectional=False, epochs=2, device="cpu")
    paths["txt"] = txt.fit(texts, ["pos", "pos", "neg", "neg"] * 6).save(root / "txt.safetensors")
    sentences = [["the", "cat", "sat"], ["a", "dog", "ran"]] * 6
    tagger = rnnkit.RNNTagger(hidden_size=8, num_layers=1, embedding_size=8, bidirectional=False,
                              char_features=False, epochs=2, device="cpu")
    paths["tagger"] = tagger.fit(sentences, [["DET", "NOUN", "VERB"]] * 12).save(root / "tagger.safetensors")
    i = np.arange(200)
    table = pd.DataFrame({"date": pd.date_range("2022-01-01", periods=200, freq="h"),
                          "y": 5 + np.sin(2 * np.pi * i / 24)})
    fc = rnnkit.Forecaster(horizon=4, context=12, hidden_size=8, epochs=1, device="cpu").fit(table)
    paths["fc"] = fc.save(root / "fc.safetensors")
    gen = rnnkit.ConditionedGenerator(hidden_size=8, condition_size=4, epochs=2, device="cpu")
    paths["gen"] = gen.fit(["a good film", "a bad film"] * 6, ["pos", "neg"] * 6).save(root / "gen.safetensors")
    src = ["a b c", "b c d", "c d a", "d a b"] * 6
    tr = rnnkit.Translator(hidden_size=16, embedding_size=8, epochs=2, beam_size=1, device="cpu")
    paths["tr"] = tr.fit(src, [" ".join(s.split()[::-1]) for s in src]).save(root / "tr.safetensors")
    roll = np.zeros((8, 88), np.float32)
    roll[::2, 39] = 1.0
    music = rnnkit.MusicModeler(hidden_size=8, epochs=1, device="cpu").fit({"train": [roll], "valid": [roll]})
    paths["music"] = music.save(root / "music.safetensors")
    X, y = ctc_utterances(120, letters="ab", features=4, lengths=(1, 4))
    rec = rnnkit.Recognizer(hidden_size=24, num_layers=1, bidirectional=False, epochs=30, seed=0, device="cpu")
    paths["rec"] = rec.fit(X, y).save(root / "rec.safetensors")
    rec_bi = rnnkit.Recognizer(hidden_size=8, num_layers=1, epochs=1, device="cpu")
    paths["rec_bi"] = rec_bi.fit(X, y).save(root / "rec_bi.safetensors")
    return {k: str(v) for k, v in paths.items()}

