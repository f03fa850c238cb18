"""RNNClassifier: scikit-learn contract, input kinds, learning, errors; stratified split; metrics."""

import numpy as np
import pytest

from rnnkit.data.sequences import SequenceBatches
from rnnkit.errors import DataError
from rnnkit.evaluation.classification import classification_metrics, confusion_matrix
from rnnkit.tasks.classify import RNNClassifier, stratified_split
from rnnkit.tasks.estimator import to_targets

FAST = dict(hidden_size=16, epochs=15, batch_size=16, lr=0.01, device="cpu", early_stopping=None)


def _series(n=120, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(8, 20, n)
    y = np.where(rng.random(n) < 0.5, "up", "down")
    X = [np.cumsum(rng.normal(0.3 if c == "up" else -0.3, 0.2, (t, 1)), axis=0) for c, t in zip(y, lengths)]
    return X, y


def test_estimator_contract():
    clf = RNNClassifier(hidden_size=8, epochs=3)
    params = clf.get_params()
    assert params["hidden_size"] == 8 and params["epochs"] == 3
    clone = RNNClassifier(**params)
    assert clone.get_params() == params
    assert clf.set_params(hidden_size=4) is clf and clf.hidden_size == 4
    assert repr(clf) == "RNNClassifier(hidden_size=4, epochs=3)"
    with pytest.raises(ValueError, match="invalid parameter"):
        clf.set_params(hiden=1)
    with pytest.raises(RuntimeError, match="not fitted"):
        clf.predict([np.zeros((3, 1))])
    assert not [k for k in vars(clf) if k.endswith("_")], "no learned attributes before fit"


def test_variable_length_series_learn_and_predict():
    X, y = _series()
    clf = RNNClassifier(**FAST)
    before = clf.get_params()
    assert clf.fit(X[:90], y[:90]) is clf
    assert clf.get_params() == before, "fit must not change hyperparameters"
    assert set(clf.classes_) == {"down", "up"} and clf.n_features_in_ == 1
    proba = clf.predict_proba(X[90:])
    assert proba.shape == (30, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert clf.score(X[90:], y[90:]) >= 0.9
    assert any(r["kind"] == "valid" for r in clf.history_)


def test_three_d_array_and_text_inputs():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 10, 2)).astype(np.float32)
    y = (X[:, :, 0].mean(1) > 0).astype(int)
    clf = RNNClassifier(**FAST, znorm=False).fit(X, y)  # the label *is* the level, which per-series z-norm removes
    assert clf.predict(X).dtype.kind in "iu" and clf.score(X, y) > 0.8
    texts = [f"{'great fine lovely' if i % 2 else 'awful dull bad'} film number {i}" for i in range(80)]
    labels = ["pos" if i % 2 else "neg" for i in range(80)]
    tclf = RNNClassifier(**FAST, embedding_size=8).fit(texts, labels)
    assert tclf.predict(["a lovely film", "what a dull film", "unseen words only"]).tolist()[:2] == ["pos", "neg"]
    with pytest.raises(DataError, match="fitted on text input"):
        tclf.predict(X)


def test_input_errors():
    X, y = _series(20)
    clf = RNNClassifier(**FAST)
    with pytest.raises(DataError, match="X has 20 sequences but y has 19 labels"):
        clf.fit(X, y[:-1])
    with pytest.raises(DataError, match="single class"):
        clf.fit(X, np.array(["a"] * 20))
    bad = list(X)
    bad[3] = bad[3].copy()
    bad[3][0, 0] = np.nan
    with pytest.raises(DataError, match="sequence 3 contains NaN"):
        clf.fit(bad, y)
    clf.fit(X, y)
    with pytest.raises(DataError, match="2 features per step"):
        clf.predict([np.zeros((4, 2))])


def test_stratified_split_keeps_class_proportions():
    labels = np.array([0] * 80 + [1] * 20)
    tr, va = stratified_split(labels, 0.1, seed=0)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 100
    assert (labels[va] == 0).sum() == 8 and (labels[va] == 1).sum() == 2


def test_epoch_order_is_seeded_and_differs_between_epochs():
    seqs = [np.full((i + 1, 1), float(i + 1)) for i in range(10)]  # sequence i: length i+1, value i+1
    a = SequenceBatches(seqs, list(range(10)), 3, seed=5)
    b = SequenceBatches(seqs, list(range(10)), 3, seed=5)
    assert (a.order(2) == b.order(2)).all() and not (a.order(2) == a.order(3)).all()
    x, lengths, y, _ = next(iter(a.for_epoch(2)))
    first = a.order(2)[:3]
    assert y.tolist() == first.tolist() and lengths.tolist() == (first + 1).tolist()
    for row, n in zip(x, lengths):
        assert (row[:n] == n).all() and not row[n:].any()  # values, then zero padding


def test_metrics_on_a_hand_example():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 0])
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    m = classification_metrics(y_true, y_pred, 3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    f1_0 = 2 * (2 / 3) * (2 / 3) / (4 / 3)
    f1_1 = 2 * (2 / 3) * 1 / (5 / 3)
    assert m["macro_f1"] == pytest.approx((f1_0 + f1_1 + 0) / 3)


def test_save_load_and_run_dir(tmp_path):
    X, y = _series(60)
    clf = RNNClassifier(**dict(FAST, epochs=3), run_dir=str(tmp_path / "run")).fit(X, y)
    assert (tmp_path / "run" / "model.safetensors").exists() and (tmp_path / "run" / "best.safetensors").exists()
    for path in (tmp_path / "run" / "model.safetensors", clf.save(tmp_path / "m.safetensors")):
        loaded = RNNClassifier.load(path)
        assert loaded.get_params() == clf.get_params() and loaded.n_features_in_ == 1
        assert loaded.classes_.tolist() == clf.classes_.tolist()
        np.testing.assert_allclose(loaded.predict_proba(X[:7]), clf.predict_proba(X[:7]), rtol=1e-5, atol=1e-6)


def test_model_chosen_by_training_loss_and_options():
    X, y = _series(40)
    clf = RNNClassifier(**FAST, validation_fraction=0.0, conv_branch=True, class_weight="balanced",
                        label_smoothing=0.1).fit(X, y)
    assert clf.model_.conv is not None
    valid = [r for r in clf.history_ if r["kind"] == "valid"]
    assert len(valid) == FAST["epochs"] and clf.best_valid_loss_ == min(r["loss"] for r in valid)
    with pytest.raises(ValueError, match="class_weight"):
        RNNClassifier(**FAST, class_weight="heavy").fit(X, y)


def test_text_with_char_features_and_labels_unseen_in_training():
    texts = [f"{'great' if i % 2 else 'awful'} film {i}" for i in range(40)]
    labels = ["pos" if i % 2 else "neg" for i in range(40)]
    clf = RNNClassifier(**FAST, embedding_size=8, char_features=True).fit(texts, labels)
    assert clf.model_.chars is not None and clf.encoder_.chars is not None
    assert clf.predict(["great film", "awful film"]).tolist() == ["pos", "neg"]
    with pytest.raises(DataError, match="labels not seen in training: meh"):
        to_targets(clf.classes_, ["pos", "meh"])


@pytest.mark.slow
def test_lstm_fcn_on_real_ucr_cbf(shared_data):
    from rnnkit.data.ucr import read_ucr_tsv

    root = shared_data / "ucr" / "CBF"
    if not root.is_dir():
        pytest.skip("UCR CBF not present")
    train, test = read_ucr_tsv(root / "CBF_TRAIN.tsv"), read_ucr_tsv(root / "CBF_TEST.tsv")
    clf = RNNClassifier(conv_branch=True, hidden_size=64, epochs=60, batch_size=16, lr=3e-3, schedule="cosine",
                        validation_fraction=0.0, early_stopping=None, device="cpu")
    assert clf.fit(train.series, train.labels).score(test.series, test.labels) >= 0.95  # FCN: 0.994


def test_znorm_modes_and_training_set_scaling():
    rng = np.random.default_rng(0)
    X = [rng.normal(0, 1, (n, 3)) + (50.0 if i % 2 else 40.0) for i, n in enumerate(rng.integers(5, 9, 60))]
    y = np.array(["high" if i % 2 else "low" for i in range(60)])
    clf = RNNClassifier(**FAST).fit(X, y)  # auto: multivariate -> training-set scaling, which keeps levels
    assert not clf.model_.config.znorm
    steps = np.concatenate(X)
    np.testing.assert_allclose(clf.model_.input_mean.numpy(), steps.mean(0), rtol=1e-5)
    np.testing.assert_allclose(clf.model_.input_std.numpy(), steps.std(0), rtol=1e-4)
    assert clf.score(X, y) == 1.0
    assert RNNClassifier(**dict(FAST, epochs=1)).fit([x[:, :1] for x in X], y).model_.config.znorm  # univariate
    with pytest.raises(ValueError, match="znorm must be"):
        RNNClassifier(**FAST, znorm="yes").fit(X, y)
