"""Connected-digit utterances from FSDD-named recordings: the standard split is kept, each
utterance is one speaker's recordings in order of its transcript, and pauses sound like the
recordings' own background."""

import numpy as np
import pytest

from helpers import fake_fsdd
from rnnkit.data.connected_digits import RATE, background, connected_digits, fsdd_recordings
from rnnkit.errors import DataError


def test_the_standard_split_is_kept(tmp_path):
    folder = fake_fsdd(tmp_path / "rec")
    train, test = fsdd_recordings(folder, "train"), fsdd_recordings(folder, "test")
    assert {r.index for r in train} == {5, 6} and {r.index for r in test} == {0, 1}
    assert len(fsdd_recordings(folder, "all")) == len(train) + len(test) == 24
    with pytest.raises(DataError, match="no such folder"):
        fsdd_recordings(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no FSDD recordings"):
        fsdd_recordings(tmp_path / "empty")


@pytest.mark.parametrize("noise", ["match", 1e-3])
def test_utterances_join_one_speakers_digits_with_pauses(tmp_path, noise):
    recordings = fsdd_recordings(fake_fsdd(tmp_path / "rec"), "train")
    utterances = connected_digits(recordings, 20, np.random.default_rng(1), min_digits=2, max_digits=4,
                                  pause=(0.1, 0.1), noise=noise)
    word = int(0.26 * RATE)  # each recording: 30 ms edge + 200 ms tone + 30 ms edge
    for samples, text in utterances:
        n = len(text.split())
        assert 2 <= n <= 4 and len(samples) == n * word + (n + 1) * int(0.1 * RATE)
        pause = samples[: int(0.1 * RATE)]
        level = float(np.sqrt(np.mean(pause.astype(np.float64) ** 2)))
        # a "matched" pause has the level of the speaker's background (0.01 or 0.002), not 1e-3
        expected = [0.01, 0.002] if noise == "match" else [1e-3]
        assert min(abs(level - e) / e for e in expected) < 0.3  # 20 ms edges estimate the level
        # the tones follow the transcript: the strongest frequency of each word is its digit's
        for k, digit in enumerate(text.split()):
            start = int(0.1 * RATE) * (k + 1) + word * k + int(0.03 * RATE)
            spectrum = np.abs(np.fft.rfft(samples[start: start + int(0.2 * RATE)]))
            assert round(np.argmax(spectrum) * RATE / int(0.2 * RATE)) == 200 + 100 * int(digit)


def test_background_is_the_quieter_edge():
    loud, quiet = np.full(400, 0.5, np.float32), np.full(400, 0.01, np.float32)
    assert background(np.concatenate([loud, quiet])) == pytest.approx(0.01)
    assert background(np.concatenate([quiet, loud])) == pytest.approx(0.01)
    assert background(np.zeros(800, np.float32)) == 1e-4


def test_fsdd_tables_list_the_standard_split_for_a_recogniser(tmp_path):
    from rnnkit.data.connected_digits import write_fsdd_tables
    from rnnkit.data.recognition_files import read_transcripts

    fake_fsdd(tmp_path / "recordings")
    write_fsdd_tables(tmp_path)
    train, test = read_transcripts(tmp_path / "train.csv"), read_transcripts(tmp_path / "test.csv")
    assert len(train[0]) == len(test[0]) == 12
    assert {p.name.split("_")[2] for p in test[0]} == {"0.wav", "1.wav"}
    assert {p.name.split("_")[2] for p in train[0]} == {"5.wav", "6.wav"}
    assert all(p.is_file() and p.name.startswith(text + "_") for files, texts in (train, test)
               for p, text in zip(files, texts))
    assert not list(tmp_path.glob("*.tmp"))
