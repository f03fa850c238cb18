"""Audio input: WAV reading of every PCM width, resampling, the mel filterbank and log-mel
features (against the numbers they must give), normalisation and SpecAugment masks."""

import numpy as np
import pytest

from helpers import write_wav
from rnnkit.data.audio import (
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_to_hz,
    normalise,
    read_wav,
    resample,
    spec_augment,
)
from rnnkit.errors import ConfigError, DataError


def tone(freq: float, rate: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("width, channels", [(1, 1), (2, 1), (2, 2), (3, 1)])
def test_read_wav_every_width_and_channel_count(tmp_path, width, channels):
    x = tone(440, 8000)
    write_wav(tmp_path / "a.wav", x, 8000, width, channels)
    y, rate = read_wav(tmp_path / "a.wav")
    assert rate == 8000 and y.shape == x.shape and y.dtype == np.float32
    assert np.abs(y - x).max() < (0.02 if width == 1 else 1e-4)


def test_bad_audio_is_a_one_line_error_naming_the_file(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(DataError, match="bad.wav is not a readable PCM WAV"):
        read_wav(tmp_path / "bad.wav")
    with pytest.raises(DataError, match="no such audio file"):
        read_wav(tmp_path / "absent.wav")
    write_wav(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(DataError, match="no audio samples"):
        read_wav(tmp_path / "empty.wav")


def test_resampling_keeps_duration_and_pitch():
    x = tone(500, 16000, seconds=1.0)
    y = resample(x, 16000, 8000)
    assert len(y) == 8000
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) == 500  # 1 Hz bins over one second


def test_mel_scale_and_filterbank():
    assert hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.1)  # HTK: 1 kHz is ~1000 mel
    assert mel_to_hz(hz_to_mel(3000.0)) == pytest.approx(3000.0)
    bank = mel_filterbank(10, 256, 8000, fmin=0.0)
    assert bank.shape == (10, 129) and bank.min() >= 0 and bank.max() <= 1
    points = mel_to_hz(np.linspace(0, hz_to_mel(4000.0), 12))
    bins = np.linspace(0, 4000, 129)
    for i in range(10):  # each filter peaks at its centre and is zero outside its neighbours
        assert abs(bins[np.argmax(bank[i])] - points[i + 1]) <= 4000 / 128
        outside = (bins <= points[i]) | (bins >= points[i + 2])
        assert np.all(bank[i][outside] == 0)


def test_log_mel_puts_a_tone_in_its_band():
    rate = 8000
    feats = log_mel(tone(1000, rate), rate, n_mels=20)
    assert feats.shape == (1 + (4000 - 256) // 80, 20)  # 25 ms windows in 256-sample frames, 10 ms hop
    centres = mel_to_hz(np.linspace(hz_to_mel(20.0), hz_to_mel(4000.0), 22))[1:-1]
    assert abs(centres[feats.mean(0).argmax()] - 1000) < 150
    assert log_mel(tone(1000, rate, seconds=0.01), rate).shape[0] == 1  # shorter than a window: one frame


def test_normalise_and_spec_augment():
    rng = np.random.default_rng(0)
    raw = rng.normal(3, 2, size=(100, 16)).astype(np.float32) + np.linspace(0, 8, 16, dtype=np.float32)
    feats = normalise(raw, "channel")
    assert np.allclose(feats.mean(0), 0, atol=1e-5) and np.allclose(feats.std(0), 1, atol=1e-3)
    # by level: one mean and spread for the utterance, so the channels keep their shape (the tilt)
    level = normalise(raw, "level")
    assert abs(level.mean()) < 1e-5 and abs(level.std() - 1) < 1e-3
    assert np.allclose(level, (raw - raw.mean()) / raw.std(), atol=1e-4)
    assert level.mean(0)[-1] - level.mean(0)[0] > 1 and np.array_equal(normalise(raw), level)
    with pytest.raises(ConfigError, match="unknown normalisation"):
        normalise(raw, "global")
    masked = spec_augment(feats, rng, freq_masks=1, freq_width=4, time_masks=1, time_fraction=0.2)
    assert masked.shape == feats.shape and not np.shares_memory(masked, feats)
    zero_cols = np.flatnonzero((masked == 0).all(0))
    zero_rows = np.flatnonzero((masked == 0).all(1))
    assert len(zero_cols) <= 4 and len(zero_rows) <= 20
    assert np.array_equal(masked[masked != 0], feats[masked != 0])
