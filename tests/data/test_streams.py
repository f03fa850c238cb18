"""Sequence batching: B contiguous streams cut into bptt windows, checked by hand."""

import numpy as np
import pytest
import torch

from rnnkit.data import StreamBatches
from rnnkit.errors import DataError


def test_hand_checkable_layout():
    ids = np.arange(27)  # 27 tokens, 2 streams -> 13 each, token 26 dropped
    s = StreamBatches(ids, batch_size=2, bptt=4)
    assert s.rows.tolist() == [list(range(0, 13)), list(range(13, 26))]
    windows = list(s)
    assert len(s) == len(windows) == 3  # 12 targets per stream: 4 + 4 + 4
    x0, y0 = windows[0]
    assert x0.tolist() == [[0, 1, 2, 3], [13, 14, 15, 16]]
    assert y0.tolist() == [[1, 2, 3, 4], [14, 15, 16, 17]]
    x2, y2 = windows[2]
    assert x2.tolist() == [[8, 9, 10, 11], [21, 22, 23, 24]]
    assert y2.tolist() == [[9, 10, 11, 12], [22, 23, 24, 25]]
    assert x0.dtype == torch.int64


def test_each_stream_continues_across_windows_and_last_window_is_short():
    s = StreamBatches(np.arange(100), batch_size=3, bptt=7)  # 33 per stream, 32 targets
    windows = list(s)
    assert [w[0].shape[1] for w in windows] == [7, 7, 7, 7, 4]
    xs = torch.cat([x for x, _ in windows], dim=1)
    ys = torch.cat([y for _, y in windows], dim=1)
    for b in range(3):
        assert xs[b].tolist() == list(range(33 * b, 33 * b + 32))
        assert ys[b].tolist() == list(range(33 * b + 1, 33 * b + 33))


def test_iter_from_resumes_mid_epoch():
    s = StreamBatches(np.arange(50), 2, 5)
    rest = list(s.iter_from(2))
    assert len(rest) == len(s) - 2 and torch.equal(rest[0][0], s.window(2)[0])


def test_too_few_tokens_for_the_batch():
    with pytest.raises(DataError, match="too few for 8 streams"):
        StreamBatches(np.arange(10), 8, 4)


def test_a_word_corpus_of_one_long_line_is_split_by_words(tmp_path, monkeypatch):
    from rnnkit.data import load_corpus

    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "one_line.txt"
    path.write_text(" ".join(f"w{i % 37}" for i in range(5000)), encoding="utf-8")
    corpus = load_corpus([str(path)], None, None, "word", (0.9, 0.05, 0.05), 1, None)
    sizes = [len(corpus.train), len(corpus.valid), len(corpus.test)]
    assert min(sizes) > 200 and abs(sizes[0] - 4500) < 10  # the cuts fall on word boundaries near 90 / 95 %
