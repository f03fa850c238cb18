"""Speech input: WAV files -> log-mel frames, the features a recurrent recogniser reads.

* :func:`read_wav`: PCM WAV (8/16/24/32-bit integer or 32-bit float, any channel count,
  mixed down to mono) through Python's own ``wave`` module, as float32 in [-1, 1]; an
  unreadable file is a one-line :class:`DataError` naming it.
* :func:`resample`: polyphase resampling (``scipy.signal.resample_poly``; the ``recognize``
  extra), so a model trained at one rate reads files recorded at another.
* :func:`log_mel`: short-time Fourier transform (torch's, Hann window) -> power spectrum ->
  triangular mel filters -> ``log(mel + 1e-6)``: ``(frames, n_mels)``. The mel scale is HTK's,
  :math:`m = 2595 \\log_{10}(1 + f / 700)`; filter ``i`` rises linearly from the frequency of
  mel point ``i`` to 1 at point ``i + 1`` and falls to 0 at point ``i + 2``, the points evenly
  spaced in mel from ``fmin`` to ``fmax``.
* :func:`normalise` (per utterance: each channel to zero mean and unit variance over the
  utterance's frames) and :func:`spec_augment` (Park et al. 2019: random frequency and time
  masks set to the mean, 0 after normalisation) for training.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import torch

from rnnkit.errors import ConfigError, DataError


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """``(samples, sample_rate)``: mono float32 samples in [-1, 1]."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such audio file")
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except (wave.Error, EOFError) as e:
        raise DataError(f"{path} is not a readable PCM WAV file ({e})") from None
    x: np.ndarray
    if width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)).astype(np.float32)
    elif width == 4:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)
    else:
        raise DataError(f"{path}: {8 * width}-bit samples are not supported (8, 16, 24 or 32-bit PCM)")
    x = x[: len(x) - len(x) % channels].reshape(-1, channels).mean(1) if channels > 1 else x
    if len(x) == 0:
        raise DataError(f"{path} holds no audio samples")
    return x, rate


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``x`` at ``rate`` Hz resampled to ``target`` Hz (polyphase, anti-aliased)."""
    if rate == target:
        return x
    try:
        from scipy.signal import resample_poly  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError(f"audio at {rate} Hz must be resampled to {target} Hz, which needs scipy: "
                          "pip install 'rnnkit[recognize]'") from None
    from math import gcd

    g = gcd(rate, target)
    return resample_poly(x, target // g, rate // g).astype(np.float32)


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, rate: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """``(n_mels, n_fft // 2 + 1)`` triangular filters over the FFT bins (see the module)."""
    fmax = rate / 2 if fmax is None else fmax
    if not 0 <= fmin < fmax <= rate / 2:
        raise ConfigError(f"mel filters need 0 <= fmin < fmax <= {rate / 2:g} Hz, got {fmin:g}-{fmax:g}")
    points = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    bins = np.linspace(0, rate / 2, n_fft // 2 + 1)
    lower, centre, upper = points[:-2, None], points[1:-1, None], points[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def log_mel(x: np.ndarray, rate: int, n_mels: int = 40, window: float = 0.025, hop: float = 0.010,
            fmin: float = 20.0, fmax: float | None = None) -> np.ndarray:
    """``(frames, n_mels)`` log-mel energies of mono samples ``x`` (``window``/``hop`` in s):
    frames of ``n_fft`` samples (the window length rounded up to a power of two, the window
    centred in it) every ``hop``, ``1 + (len(x) - n_fft) // hop`` of them."""
    win = int(round(window * rate))
    step = int(round(hop * rate))
    n_fft = 1 << max(0, (win - 1).bit_length())
    signal = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if len(signal) < n_fft:  # shorter than one frame (n_fft samples, the window centred in it): pad
        signal = torch.nn.functional.pad(signal, (0, n_fft - len(signal)))
    spec = torch.stft(signal, n_fft, hop_length=step, win_length=win, window=torch.hann_window(win),
                      center=False, return_complex=True)  # (n_fft/2 + 1, frames)
    power = spec.abs().pow(2)
    bank = torch.from_numpy(mel_filterbank(n_mels, n_fft, rate, fmin, fmax))
    return torch.log(bank @ power + 1e-6).T.contiguous().numpy()


NORMALISATIONS = ("level", "channel")


def normalise(features: np.ndarray, per: str = "level") -> np.ndarray:
    """Per-utterance normalisation of ``(frames, channels)`` log-mel features.

    * ``"level"``: one mean and one standard deviation over all the utterance's values: the
      recording's loudness and dynamic range go, its spectral shape stays;
    * ``"channel"``: each channel to zero mean and unit variance over the frames (cepstral mean
      and variance normalisation), which also removes a microphone's colouring but, in an
      utterance of one word, the word's own average spectrum: short utterances then look
      unlike the same words inside long ones (on FSDD, a model trained on connected digits read
      single recordings far worse with it: ``benchmarks/README.md``).

    A recogniser also standardises each channel with its training set's statistics, so
    ``"level"`` loses no scaling.
    """
    if per not in NORMALISATIONS:
        raise ConfigError(f"unknown normalisation {per!r}; choose one of {', '.join(NORMALISATIONS)}")
    axis = 0 if per == "channel" else None
    mean = features.mean(axis, keepdims=True)
    std = features.std(axis, keepdims=True)
    return ((features - mean) / (std + 1e-5)).astype(np.float32)


def spec_augment(features: np.ndarray, rng: np.random.Generator, freq_masks: int = 2, freq_width: int = 6,
                 time_masks: int = 2, time_fraction: float = 0.1) -> np.ndarray:
    """A copy of normalised ``(frames, channels)`` features with ``freq_masks`` bands of up to
    ``freq_width`` channels and ``time_masks`` spans of up to ``time_fraction`` of the frames
    set to 0 (the mean)."""
    out = features.copy()
    frames, channels = out.shape
    for _ in range(freq_masks):
        w = int(rng.integers(0, freq_width + 1))
        start = int(rng.integers(0, max(1, channels - w + 1)))
        out[:, start:start + w] = 0.0
    for _ in range(time_masks):
        w = int(rng.integers(0, max(1, int(frames * time_fraction)) + 1))
        start = int(rng.integers(0, max(1, frames - w + 1)))
        out[start:start + w] = 0.0
    return out


__all__ = ["read_wav", "resample", "hz_to_mel", "mel_to_hz", "mel_filterbank", "log_mel", "normalise",
           "spec_augment"]
