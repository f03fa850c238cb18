"""Every estimator opens its family's stream, and the stream agrees with the estimator's
own predictions on the same input."""

import numpy as np
import pandas as pd
import pytest
import torch

import rnnkit
from rnnkit.data.sentences import BOS_ID
from rnnkit.errors import ConfigError


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def test_classifier_stream_ends_at_predict_proba():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 9, 2)).astype(np.float32)
    y = np.where(X[:, :, 0].mean(1) > 0, "up", "down")
    clf = rnnkit.RNNClassifier(hidden_size=8, bidirectional=False, znorm=False, conv_branch=False, epochs=2,
                               device="cpu").fit(X, y)
    s = clf.stream(batch=len(X))
    out = s.feed(X)
    np.testing.assert_allclose(_softmax(out[:, -1]), clf.predict_proba(X), atol=1e-5)
    with pytest.raises(ConfigError, match="bidirectional"):
        rnnkit.RNNClassifier(hidden_size=8, conv_branch=False, epochs=1, device="cpu").fit(X, y).stream()
    with pytest.raises(ConfigError, match="convolutional branch"):  # the series default (LSTM-FCN)
        rnnkit.RNNClassifier(hidden_size=8, epochs=1, device="cpu").fit(X, y).stream()


def test_tagger_stream_equals_predict_proba():
    sentences = [["the", "cat", "sat"], ["a", "dog", "ran"]] * 6
    tags = [["DET", "NOUN", "VERB"]] * len(sentences)
    tagger = rnnkit.RNNTagger(hidden_size=8, num_layers=1, embedding_size=8, bidirectional=False, epochs=2,
                              char_features=False,
                              device="cpu").fit(sentences, tags)
    ids = tagger.encoder_.encode(["the", "dog", "sat"]).words
    out = tagger.stream().feed(np.asarray(ids)[None])
    np.testing.assert_allclose(_softmax(out[0]), tagger.predict_proba([["the", "dog", "sat"]])[0], atol=1e-5)


def test_language_modeler_stream(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcabcabd\n" * 40, encoding="utf-8")
    lm = rnnkit.LanguageModeler(hidden_size=16, num_layers=1, batch_size=4, bptt=8, epochs=1, device="cpu")
    lm.fit(str(path))
    ids = np.array([lm.vocab_.encode(list("abcab"))])
    with torch.no_grad():
        ref, _ = lm.model_(torch.from_numpy(ids))
    np.testing.assert_allclose(lm.stream().feed(ids), ref.numpy(), atol=1e-5)


def test_translator_stream_decodes_like_greedy_search():
    src = ["a b c", "b c d", "c d a", "d a b"] * 6
    tgt = [" ".join(s.split()[::-1]) for s in src]
    tr = rnnkit.Translator(hidden_size=16, embedding_size=8, epochs=3, beam_size=1, device="cpu").fit(src, tgt)
    s = tr.stream(["a b c"])
    greedy = tr._hypotheses(tr.model_, ["a b c"], 1)[0].ids
    token, words = np.array([BOS_ID]), []
    for _ in range(len(greedy)):
        token = s.step(token).argmax(-1)
        words.append(int(token[0]))
    assert words == list(greedy)


def test_conditioned_music_and_forecast_streams_open():
    gen = rnnkit.ConditionedGenerator(hidden_size=8, condition_size=4, epochs=1, device="cpu")
    gen.fit(["a good film", "a bad film"] * 6, ["pos", "neg"] * 6)
    s = gen.stream(["pos", "neg"])
    assert s.step(np.array([BOS_ID, BOS_ID])).shape == (2, len(gen.codec_))

    roll = np.zeros((8, 88), np.float32)
    roll[::2, 39] = 1.0
    music = rnnkit.MusicModeler(hidden_size=8, epochs=1, device="cpu").fit({"train": [roll], "valid": [roll]})
    with torch.no_grad():
        ref, _ = music.model_(music.model_.shifted(torch.from_numpy(roll)[None]))
    np.testing.assert_allclose(music.stream().feed(music.model_.shifted(torch.from_numpy(roll)[None]).numpy()),
                               ref.numpy(), atol=1e-5)

    i = np.arange(200)
    table = pd.DataFrame({"date": pd.date_range("2022-01-01", periods=200, freq="h"),
                          "y": 5 + np.sin(2 * np.pi * i / 24)})
    fc = rnnkit.Forecaster(horizon=4, context=12, hidden_size=8, epochs=1, likelihood="gaussian",
                           device="cpu").fit(table)
    fs = fc.stream()
    for t, value in zip(table["date"][:150], table["y"][:150]):
        fs.update({"y": value}, t)
    expected = fc.predict(table.iloc[:150])
    got = fs.forecast()
    pd.testing.assert_frame_equal(got[expected.columns], expected, atol=1e-4, check_dtype=False)
    again = fc.stream()
    again.restore(fs.to_bytes())
    fs.update([table["y"][150]], table["date"][150])
    again.update({"y": table["y"][150]}, table["date"][150])
    pd.testing.assert_frame_equal(again.forecast(), fs.forecast())
    with pytest.raises(ConfigError, match="move forward in time"):
        again.update({"y": 1.0}, table["date"][3])
    with pytest.raises(ConfigError, match="lacks 'y'"):
        again.update({"x": 1.0}, table["date"][190])
