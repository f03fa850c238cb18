"""Recorded activations are the model's own (match its fused forward), features, the HTML page."""

import json
import re

import numpy as np
import pytest
import torch

from rnnkit.data import Vocab
from rnnkit.diagnostics.activation_page import page_data, write_activation_page
from rnnkit.diagnostics.activations import feature_correlations, gate_saturation, record_activations, text_features
from rnnkit.models import LanguageModel, LanguageModelConfig


@pytest.mark.parametrize("cell, signals", [("lstm", {"h", "c", "input", "forget", "candidate", "output"}),
                                           ("gru", {"h", "reset", "update", "candidate"}),
                                           ("rnn_tanh", {"h"})])
def test_recorded_states_match_the_fused_forward(cell, signals):
    text = 'def f(x):\n    return "a(b)"\n'
    vocab = Vocab.build_chars([text])
    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(vocab_size=len(vocab), cell=cell, hidden_size=8, num_layers=2))
    rec = record_activations(model, vocab, text)
    assert len(rec.signals) == 2 and set(rec.signals[1]) == signals
    ids = torch.as_tensor(vocab.encode(list(text))).unsqueeze(0)
    with torch.no_grad():
        out, _ = model.rnn(model.embedding(ids))
    np.testing.assert_allclose(rec.signals[1]["h"], out[0].numpy(), rtol=1e-5, atol=1e-6)
    for name, v in rec.signals[0].items():
        assert v.shape == (len(text), 8)
        if name not in ("h", "c", "candidate"):
            assert (v >= 0).all() and (v <= 1).all()
    assert all(0 <= r["near_0"] <= 1 for r in gate_saturation(rec))


def test_text_features_by_hand():
    f = text_features(list('a "b"\n  (c)'))
    assert f["inside quotes"].tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    assert f["position in line"].tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4]
    assert f["indentation"].tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2]
    assert f["inside brackets"].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]


def test_triple_quotes_and_apostrophes():
    # One string per tripled quote (the " inside it does not close it); "don't" opens none.
    f = text_features(list('"""a"b""" x'))
    assert f["inside quotes"].tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    f = text_features(list("don't (x) 'y'"))
    assert f["inside quotes"].tolist() == [0] * 10 + [0, 1, 1]
    assert f["inside brackets"].tolist() == [0] * 6 + [1, 1, 1] + [0] * 4


def test_page_embeds_everything(tmp_path):
    text = 'x = "</script>"\n' * 3
    vocab = Vocab.build_chars([text])
    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(vocab_size=len(vocab), hidden_size=6, num_layers=1))
    rec = record_activations(model, vocab, text)
    ranking = feature_correlations(rec)
    assert ranking and all(-1 <= r["r"] <= 1 for r in ranking)
    path = write_activation_page(rec, tmp_path / "a.html", title="t")
    page = path.read_text()
    assert "http" not in re.sub(r"<!DOCTYPE html>", "", page)  # nothing fetched from the network
    payload = re.search(r'<script id="payload" type="application/json">(.*?)</script>', page, re.S).group(1)
    data = json.loads(payload)
    assert data["tokens"] == list(text) and data == json.loads(json.dumps(page_data(rec)))
