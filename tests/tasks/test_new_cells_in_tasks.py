"""Every task fits with every new cell (one tiny fit each) and its saved model predicts the same; the command
line takes every cell; zoneout and the projection reach the models through the estimators."""

from __future__ import annotations

import numpy as np
import pytest
from test_estimator_contract import (  # the contract test's small configurations and data
    FAMILIES,
    series_data,
    tagging_data,
    text_file,
)

import rnnkit

NEW = ["peephole_lstm", "layernorm_lstm", "mingru", "minlstm", "slstm", "mlstm"]


@pytest.mark.parametrize("cell", NEW)
@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_every_task_fits_with_the_cell(tmp_path, family, cell):
    est = family.make().set_params(cell=cell)
    data = family.data(tmp_path)
    est.fit(*data)
    assert np.isfinite(est.best_valid_loss_)
    path = est.save(tmp_path / "m.safetensors")
    again = type(est).load(path)
    a, b = family.predict(est, data), family.predict(again, data)
    if isinstance(a, list):
        a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
        assert (a == b).all()
    else:
        assert np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=1e-6)


def test_the_command_line_takes_every_cell(tmp_path):
    import subprocess
    import sys

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(f"the cat {i % 4} sat" for i in range(200)) + "\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "rnnkit", "lm", "train", str(corpus), "--cell", "minlstm", "--hidden",
                        "16", "--layers", "2", "--batch-size", "4", "--bptt", "8", "--epochs", "1", "--quiet",
                        "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([sys.executable, "-m", "rnnkit", "lm", "generate", str(tmp_path / "run" / "best.safetensors"),
                        "--length", "20"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip(), r.stderr[-2000:]
    r = subprocess.run([sys.executable, "-m", "rnnkit", "lm", "train", str(corpus), "--cell", "qlstm", "--out",
                        str(tmp_path / "bad")], capture_output=True, text=True, timeout=300)
    lines = [x for x in (r.stdout + r.stderr).splitlines() if x.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "mingru" in lines[0], lines


def test_zoneout_and_projection_through_the_estimators(tmp_path):
    X, y = series_data(tmp_path)
    clf = rnnkit.RNNClassifier(hidden_size=8, epochs=2, zoneout=0.2, device="cpu").fit(X, y)
    assert clf.model_.encoder.zoneout == 0.2 and np.isfinite(clf.best_valid_loss_)
    tagger = rnnkit.RNNTagger(hidden_size=8, embedding_size=8, epochs=1, zoneout=0.1, device="cpu")
    tagger.fit(*tagging_data(tmp_path))
    assert tagger.model_.encoder.zoneout == 0.1
    lm = rnnkit.LanguageModeler(hidden_size=16, num_layers=2, proj_size=8, zoneout=0.1, batch_size=4, bptt=8,
                                epochs=1, device="cpu").fit(*text_file(tmp_path))
    assert lm.model_.rnn.output_size == 8 and lm.model_.rnn.zoneout == 0.1
    assert lm.generate(length=5)
    for family in FAMILIES:
        if family.name in ("Forecaster", "MusicModeler", "Translator", "ConditionedGenerator"):
            est = family.make().set_params(zoneout=0.1).fit(*family.data(tmp_path))
            rnn = getattr(est.model_, "encoder", None) or est.model_.rnn
            assert rnn.zoneout == 0.1 and np.isfinite(est.best_valid_loss_)
