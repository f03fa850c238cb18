"""RNNTagger: scikit-learn contract, learning a toy grammar, save/load, errors."""

import numpy as np
import pytest

from rnnkit.errors import CheckpointError, DataError
from rnnkit.tasks.classify import RNNClassifier
from rnnkit.tasks.tag import RNNTagger

FAST = dict(hidden_size=16, num_layers=1, embedding_size=8, epochs=12, batch_size=8, lr=0.02, dropout=0.0,
            device="cpu", early_stopping=None)

WORDS = {"DET": ["the", "a", "every"], "ADJ": ["big", "red", "Old"], "NOUN": ["cat", "dog", "idea", "Paris"],
         "VERB": ["sees", "likes", "runs"]}


def toy_sentences(n=120, seed=0):
    """DET ADJ? NOUN VERB DET NOUN; 'run' is a NOUN after a DET and a VERB after a NOUN."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    pick = (lambda tag: WORDS[tag][rng.integers(len(WORDS[tag]))])
    for _ in range(n):
        tags = ["DET"] + (["ADJ"] if rng.random() < 0.5 else []) + ["NOUN", "VERB", "DET", "NOUN"]
        words = [pick(t) for t in tags]
        k = len(tags) - 1
        if rng.random() < 0.5:
            words[k] = "run"  # ambiguous word: the left context (DET) says NOUN
        if rng.random() < 0.5:
            words[tags.index("VERB")] = "run"  # after a NOUN it is a VERB
        X.append(words)
        y.append(tags)
    return X, y


def test_contract_and_learning():
    tagger = RNNTagger(**FAST)
    assert RNNTagger(**tagger.get_params()).get_params() == tagger.get_params()
    assert "hidden_size=16" in repr(tagger)
    with pytest.raises(RuntimeError, match="not fitted"):
        tagger.predict([["a"]])
    X, y = toy_sentences()
    assert tagger.fit(X[:100], y[:100]) is tagger
    assert set(tagger.classes_) == {"DET", "ADJ", "NOUN", "VERB"}
    proba = tagger.predict_proba(X[100:])
    assert [p.shape for p in proba] == [(len(x), 4) for x in X[100:]]
    assert all(np.allclose(p.sum(1), 1, atol=1e-5) for p in proba)
    assert tagger.score(X[100:], y[100:]) >= 0.97
    assert tagger.predict([["the", "run", "sees", "a", "run"]]) == [["DET", "NOUN", "VERB", "DET", "NOUN"]]
    # unseen words are tagged through their characters (capitalised -> like "Paris"/"Old")
    assert len(tagger.predict([["the", "Zorblax", "runs"]])[0]) == 3


def test_save_load_round_trip(tmp_path):
    X, y = toy_sentences(60)
    tagger = RNNTagger(**dict(FAST, epochs=3)).fit(X, y)
    path = tagger.save(tmp_path / "tagger.safetensors")
    loaded = RNNTagger.load(path)
    assert loaded.get_params() == tagger.get_params()
    for a, b in zip(loaded.predict_proba(X[:5]), tagger.predict_proba(X[:5])):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(CheckpointError, match="not a 'classify' checkpoint"):
        RNNClassifier.load(path)


def test_real_valued_steps():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 2)).astype(np.float32) for n in rng.integers(5, 12, 80)]
    y = [np.where(x[:, 0] > 0, "hi", "lo") for x in X]
    tagger = RNNTagger(**dict(FAST, char_features=False)).fit(X, y)
    assert tagger.n_features_in_ == 2 and tagger.score(X, y) > 0.9


def test_errors():
    X, y = toy_sentences(10)
    tagger = RNNTagger(**FAST)
    with pytest.raises(DataError, match="sequence 2 has 5 steps but 4 tags|sequence 2 has \\d+ steps but \\d+ tags"):
        bad = [list(t) for t in y]
        bad[2] = bad[2][:-1]
        tagger.fit(X, bad)
    with pytest.raises(DataError, match="token lists"):
        tagger.fit(["the cat"], [["DET", "NOUN"]])
    with pytest.raises(DataError, match="has no tokens"):
        tagger.fit([[]], [[]])


@pytest.mark.slow
def test_tagger_on_a_slice_of_ud_english_ewt(shared_data):
    from rnnkit.data.conll import read_conll

    root = shared_data / "ud-english-ewt"
    if not root.is_dir():
        pytest.skip("UD English EWT not present")
    X, y = read_conll(root / "en_ewt-ud-train.conllu")
    X_test, y_test = read_conll(root / "en_ewt-ud-dev.conllu")
    tagger = RNNTagger(epochs=2, device="cpu").fit(X[:3000], y[:3000])
    assert tagger.score(X_test[:500], y_test[:500]) >= 0.85  # a majority-tag baseline is about 0.17


def test_a_very_long_sentence_is_tagged_in_bounded_pieces():
    """One huge input (a corpus on a single line) is read in pieces of MAX_PIECE tokens, and
    tagged like the same tokens given as separate short sentences."""
    from rnnkit.tasks.tag import RNNTagger

    words = [["the", "cat", "sat"], ["a", "dog", "ran"]] * 4
    tags = [["DET", "NOUN", "VERB"]] * 8
    tagger = RNNTagger(hidden_size=8, num_layers=1, embedding_size=8, epochs=2, device="cpu").fit(words, tags)
    tagger.MAX_PIECE = 5
    long = [w for s in words for w in s]  # 24 tokens: pieces of 5
    probs = tagger.predict_proba([long, ["the", "cat"]])
    assert probs[0].shape == (24, len(tagger.classes_)) and probs[1].shape == (2, len(tagger.classes_))
    pieces = [long[i:i + 5] for i in range(0, 24, 5)]
    expected = np.concatenate(tagger.predict_proba(pieces))
    np.testing.assert_allclose(probs[0], expected, rtol=1e-5, atol=1e-6)
