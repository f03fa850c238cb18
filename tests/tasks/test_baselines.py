"""The simple baselines printed beside a model: each equals its published or hand-computed value."""

import numpy as np
import pytest

from rnnkit.evaluation.series_baseline import nearest_neighbour_baseline

#: 1-NN Euclidean test error rates published with the UCR archive (2018) for these sets
UCR_1NN_ED_ERROR = {"Coffee": 0.000, "ECG200": 0.120, "Beef": 0.333, "CBF": 0.148, "Adiac": 0.389,
                    "Lightning2": 0.246, "OliveOil": 0.133, "Plane": 0.038, "SwedishLeaf": 0.211,
                    "FiftyWords": 0.369, "FaceFour": 0.216, "Fish": 0.217, "Wine": 0.389, "Strawberry": 0.054,
                    "MedicalImages": 0.316, "ECGFiveDays": 0.203, "Earthquakes": 0.288}


def test_nearest_neighbour_baseline_equals_the_ucr_archives_published_error_rates(shared_data):
    from rnnkit.data.ucr import read_series_file

    checked = 0
    for name, error in UCR_1NN_ED_ERROR.items():
        folder = shared_data / "ucr" / name
        if not folder.is_dir():
            continue
        train, test = read_series_file(folder / f"{name}_TRAIN.tsv"), read_series_file(folder / f"{name}_TEST.tsv")
        result = nearest_neighbour_baseline(train.series, train.labels, test.series, test.labels)
        assert abs((1 - result["accuracy"]) - error) < 0.0015, name  # published to three decimals
        checked += 1
    if not checked:
        pytest.skip("no UCR set of the list is present")


def test_nearest_neighbour_compares_shapes_of_any_length_and_scale():
    # a rising and a falling ramp; the test series are the same shapes scaled, shifted and resampled
    ramp = np.linspace(0, 1, 20)[:, None]
    train = [ramp, -ramp, np.sin(np.linspace(0, 6, 20))[:, None]]
    test = [100 * np.linspace(0, 1, 33)[:, None] + 7, -3 * np.linspace(0, 1, 9)[:, None],
            np.sin(np.linspace(0, 6, 50))[:, None], np.full((12, 1), 5.0)]
    result = nearest_neighbour_baseline(train, ["up", "down", "wave"], test[:3], ["up", "down", "wave"])
    assert result["accuracy"] == 1.0 and result["n"] == 3
    # a constant series is centred, not divided by zero: it is nearest to something, not NaN
    assert nearest_neighbour_baseline(train, ["up", "down", "wave"], test[3:], ["up"])["n"] == 1


def test_nearest_neighbour_reads_several_channels_and_blocks_of_test_series(monkeypatch):
    from rnnkit.evaluation import series_baseline

    rng = np.random.default_rng(0)
    protos = [rng.normal(size=(15, 3)) for _ in range(4)]
    train = [p + 0.05 * rng.normal(size=p.shape) for p in protos]
    labels = [str(i) for i in range(4)] * 5
    test = [protos[int(y)] + 0.3 * rng.normal(size=(15, 3)) for y in labels]
    monkeypatch.setattr(series_baseline, "BLOCK", 3)  # 20 test series in 7 blocks
    assert nearest_neighbour_baseline(train, labels[:4], test, labels)["accuracy"] == 1.0


def test_multivariate_series_keep_their_levels_as_the_classifier_does():
    # two classes of flat two-channel series that differ only in level: per-series z-normalisation
    # would erase the difference; standardising channels on the training set keeps it
    rng = np.random.default_rng(1)
    labels = ["low", "high"] * 10
    make = lambda y: (1.0 if y == "high" else -1.0) + 0.1 * rng.normal(size=(12, 2))  # noqa: E731
    train, test = [make(y) for y in labels], [make(y) for y in labels]
    result = nearest_neighbour_baseline(train, labels, test, labels)
    assert result["accuracy"] == 1.0 and "channels standardised on the training set" in result["name"]
    assert "z-normalised series" in nearest_neighbour_baseline([t[:, :1] for t in train], labels,
                                                               [t[:, :1] for t in test], labels)["name"]


def test_most_frequent_tag_baseline_by_hand():
    from rnnkit.evaluation.tag_baseline import most_frequent_tag_baseline

    train = [["The", "can", "can", "rust"], ["I", "can", "run"], ["Rust", "is", "red"], ["A", "dog"]]
    tags = [["DET", "NOUN", "AUX", "VERB"], ["PRON", "AUX", "VERB"], ["NOUN", "AUX", "ADJ"], ["DET", "NOUN"]]
    test = [["the", "can", "dog", "zyx", "RED"], ["I", "fly"]]
    gold = [["DET", "AUX", "NOUN", "VERB", "ADJ"], ["PRON", "SCONJ"]]
    result = most_frequent_tag_baseline(train, tags, test, gold)
    # the -> DET (its lowercased form "The"); can -> AUX (2 of 3); dog -> NOUN; RED -> ADJ ("red");
    # I -> PRON. zyx was never seen: the words seen once have DET, VERB, NOUN twice each, and the tie
    # goes to NOUN, the more frequent overall (3 against 2 each): wrong against VERB.
    # "fly" is tagged SCONJ, which training never has: not counted.
    assert (result["n"], result["unknown_words"]) == (6, 1)
    assert result["accuracy"] == 5 / 6


def test_markov_key_baseline_by_hand():
    from rnnkit.evaluation.music_baseline import markov_key_baseline

    # one key (of two) that alternates on, off, on, off: after silence it turns on 2 times in 2
    # (the piece's first step follows silence), after sounding it never stays on
    train = [np.array([[1, 0], [0, 0], [1, 0], [0, 0]])]
    result = markov_key_baseline(train, train)
    # add-one: P(on | off) for key 0 = (2 + 1) / (2 + 2), P(on | on) = (0 + 1) / (2 + 2); key 1 never
    # sounds: P(on | off) = (0 + 1) / (4 + 2)
    p_on_off, p_on_on, p1 = 3 / 4, 1 / 4, 1 / 6
    nll = -(2 * np.log(p_on_off) + 2 * np.log(1 - p_on_on) + 4 * np.log(1 - p1)) / 4
    assert result["steps"] == 4 and np.isclose(result["nll"], nll)
    assert result["frame_accuracy"] == 1.0  # it predicts key 0 on exactly after a silent step


def test_nearest_neighbour_searches_a_random_subset_when_the_distances_would_take_too_long(monkeypatch):
    from rnnkit.evaluation import series_baseline

    rng = np.random.default_rng(2)
    train = [rng.normal(size=(10, 1)) for _ in range(50)]
    labels = ["a", "b"] * 25
    full = nearest_neighbour_baseline(train, labels, train[:5], labels[:5])
    assert full["train_used"] == 50 and full["accuracy"] == 1.0  # each finds itself
    monkeypatch.setattr(series_baseline, "MAX_WORK", 5 * 10 * 20)  # room for 20 training series per test series
    capped = nearest_neighbour_baseline(train, labels, train[:5], labels[:5])
    assert capped["train_used"] == 20 and "20 of the 50 training series, drawn at random" in capped["name"]


def test_bag_of_words_chooses_c_on_a_subset_of_a_large_corpus_and_fits_on_all(monkeypatch):
    pytest.importorskip("sklearn")
    import sklearn.model_selection

    from rnnkit.evaluation import text_baseline

    texts = [f"{'great fine' if i % 2 else 'dull poor'} film number {i}" for i in range(200)]
    labels = ["pos" if i % 2 else "neg" for i in range(200)]
    seen = []
    real = sklearn.model_selection.cross_val_score
    monkeypatch.setattr(sklearn.model_selection, "cross_val_score",
                        lambda model, x, y, **kw: seen.append(x.shape[0]) or real(model, x, y, **kw))
    monkeypatch.setattr(text_baseline, "MAX_CV_TEXTS", 60)
    result = text_baseline.bag_of_words_baseline(texts, labels, texts[:20], labels[:20])
    assert seen == [60] * 4 and result["accuracy"] == 1.0  # one search of C on 60 texts, the fit on all 200
