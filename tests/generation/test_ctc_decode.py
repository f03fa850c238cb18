"""CTC: the loss against a hand count of paths, best-path and prefix-beam decoding on
hand-made posteriors and against brute force, shallow fusion, and error rates."""

import itertools
import math

import numpy as np
import pytest
import torch

from rnnkit.evaluation.error_rate import edit_distance, error_rates
from rnnkit.generation.ctc_decode import CharNGram, GreedyStream, collapse, greedy_decode, prefix_beam_search


def ctc_nll(probs: np.ndarray, target: list[int]) -> float:
    """-log p(target) by summing over every path that collapses to it (brute force)."""
    t, c = probs.shape
    total = sum(math.prod(probs[i, s] for i, s in enumerate(path))
                for path in itertools.product(range(c), repeat=t) if collapse(path) == target)
    return -math.log(total)


def test_ctc_loss_equals_the_paths_counted_by_hand():
    probs = np.array([[0.6, 0.4], [0.3, 0.7]])  # blank, "a"
    # "a" in two frames: aa, a-, -a
    by_hand = 0.4 * 0.7 + 0.4 * 0.3 + 0.6 * 0.7
    assert ctc_nll(probs, [1]) == pytest.approx(-math.log(by_hand))
    log_probs = torch.tensor(np.log(probs), dtype=torch.float64).unsqueeze(1)  # (T, B, C)
    loss = torch.nn.CTCLoss(blank=0, reduction="sum")(log_probs, torch.tensor([[1]]), torch.tensor([2]),
                                                      torch.tensor([1]))
    assert float(loss) == pytest.approx(-math.log(by_hand))
    # "aa" needs a blank between the copies: a-a is the only path in three frames
    probs3 = np.array([[0.2, 0.8], [0.5, 0.5], [0.1, 0.9]])
    loss = torch.nn.CTCLoss(blank=0, reduction="sum")(torch.tensor(np.log(probs3)).unsqueeze(1),
                                                      torch.tensor([[1, 1]]), torch.tensor([3]), torch.tensor([2]))
    assert float(loss) == pytest.approx(-math.log(0.8 * 0.5 * 0.9))


def test_greedy_decoding_merges_repeats_and_drops_blanks():
    path = [0, 1, 1, 0, 1, 2, 2, 0, 0, 3]
    scores = np.log(np.eye(4)[path] * 0.9 + 0.025)
    assert greedy_decode(scores) == [1, 1, 2, 3]
    stream = GreedyStream()
    pieces = [stream.push(scores[i:i + 3]) for i in range(0, len(path), 3)]
    assert sum(pieces, []) == [1, 1, 2, 3]  # chunk by chunk, the same labels


def test_prefix_beam_finds_the_labelling_the_best_path_misses():
    probs = np.array([[0.6, 0.4], [0.6, 0.4]])
    assert greedy_decode(np.log(probs)) == []  # best path -- (0.36)
    assert prefix_beam_search(np.log(probs), beam=4) == [1]  # "a": aa + a- + -a = 0.64


@pytest.mark.parametrize("seed", range(5))
def test_prefix_beam_with_a_wide_beam_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(3) * 0.7, size=5)
    labellings: dict[tuple, float] = {}
    for path in itertools.product(range(3), repeat=5):
        key = tuple(collapse(path))
        labellings[key] = labellings.get(key, 0.0) + math.prod(probs[i, s] for i, s in enumerate(path))
    best = max(labellings, key=labellings.get)
    assert tuple(prefix_beam_search(np.log(probs), beam=100, prune=-math.inf)) == best


def test_shallow_fusion_lets_the_language_model_break_a_tie():
    # two frames that cannot tell label 1 from label 2 after a sure label 1
    probs = np.array([[0.05, 0.9, 0.05], [0.9, 0.05, 0.05], [0.1, 0.45, 0.45]])
    lm = CharNGram(order=2, num_labels=3).fit([[1, 2]] * 20)  # 1 is always followed by 2
    assert prefix_beam_search(np.log(probs), beam=8, lm=lm, lm_weight=1.0) == [1, 2]
    lm_other = CharNGram(order=2, num_labels=3).fit([[1, 1]] * 20)
    assert prefix_beam_search(np.log(probs), beam=8, lm=lm_other, lm_weight=1.0) == [1, 1]


def test_char_ngram_is_a_distribution_and_round_trips():
    lm = CharNGram(order=3, num_labels=4).fit([[1, 2, 3], [1, 2, 2], [3, 1]])
    for context in ([], [1], [1, 2], [3, 3]):
        assert sum(math.exp(lm.log_prob(context, c)) for c in range(4)) == pytest.approx(1.0)
    again = CharNGram.from_dict(lm.to_dict())
    assert again.log_prob([1, 2], 3) == lm.log_prob([1, 2], 3)


def test_edit_distance_and_error_rates():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3 and edit_distance("abc", "abc") == 0
    assert edit_distance("one two three".split(), "one three".split()) == 1
    r = error_rates(["one two", "three"], ["one too", "three"])
    assert r["wer"] == pytest.approx(1 / 3) and r["cer"] == pytest.approx(1 / 12) and r["exact"] == 0.5
