"""Shared test helpers: compare a module to a torch reference forward *and* backward; write
PCM WAV files; unaligned utterances for CTC."""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import Tensor, nn


def _flatten(x) -> list[Tensor]:
    if isinstance(x, Tensor):
        return [x]
    out: list[Tensor] = []
    for item in x:
        out += _flatten(item)
    return out


def assert_matches_torch(
    ours: nn.Module,
    theirs: nn.Module,
    inputs: Iterable,
    param_map: Callable[[str], str] | dict[str, str] | None = None,
    call_ours: Callable | None = None,
    call_theirs: Callable | None = None,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> None:
    """Outputs, states, input gradients and every parameter gradient agree.

    ``inputs`` are cloned for each side with ``requires_grad`` where floating. The loss is
    a fixed random projection of all outputs, so every output element gets a distinct
    upstream gradient. ``param_map`` maps our parameter names to theirs (default:
    identical names).
    """
    inputs = list(inputs)
    mine = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    ref = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    out_ours = _flatten((call_ours or ours)(*mine))
    out_theirs = _flatten((call_theirs or theirs)(*ref))
    assert len(out_ours) == len(out_theirs), f"{len(out_ours)} outputs vs {len(out_theirs)}"
    gen = torch.Generator().manual_seed(1234)
    loss_o = loss_t = 0.0
    for a, b in zip(out_ours, out_theirs):
        assert a.shape == b.shape, f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
        torch.testing.assert_close(a, b, atol=atol, rtol=rtol)
        w = torch.randn(a.shape, generator=gen, dtype=a.dtype)
        loss_o = loss_o + (a * w).sum()
        loss_t = loss_t + (b * w).sum()
    loss_o.backward()
    loss_t.backward()
    for a, b in zip(mine, ref):
        if a.is_floating_point():
            torch.testing.assert_close(a.grad, b.grad, atol=atol, rtol=rtol)
    theirs_params = dict(theirs.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert ours_params, "module under test has no parameters"
    for name, p in ours_params.items():
        tname = param_map(name) if callable(param_map) else (param_map or {}).get(name, name)
        q = theirs_params[tname]
        assert p.grad is not None and q.grad is not None, f"no gradient for {name}"
        torch.testing.assert_close(p.grad, q.grad, atol=atol, rtol=rtol, msg=f"gradient of {name}")


def write_wav(path, samples: np.ndarray, rate: int, width: int = 2, channels: int = 1) -> None:
    """``samples`` in [-1, 1] as a PCM WAV of ``width`` bytes per sample, ``channels`` copies."""
    x = np.repeat(samples[:, None], channels, axis=1).reshape(-1)
    if width == 2:
        raw = (np.clip(x, -1, 1 - 1 / 32768) * 32768).astype("<i2").tobytes()
    elif width == 3:
        v = (np.clip(x, -1, 1 - 2 ** -23) * 2 ** 23).astype(np.int32)
        raw = np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], axis=1).astype(np.uint8).tobytes()
    else:
        raw = ((np.clip(x, -1, 1) * 127) + 128).astype(np.uint8).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)


def ctc_utterances(n: int, seed: int = 0, letters: str = "abc", features: int = 8,
                   lengths: tuple[int, int] = (2, 6)) -> tuple[list[np.ndarray], list[str]]:
    """Utterances whose characters are noisy prototype frames of random durations, with short
    gaps: what each frame says is clear, where each character starts is not given. ``n``
    (T, features) arrays and their transcripts of ``lengths`` characters (low, high exclusive)."""
    rng = np.random.default_rng(seed)
    table = np.random.default_rng(99).normal(0, 1, (len(letters) + 1, features))
    protos = dict(zip(letters, table))
    X, y = [], []
    for _ in range(n):
        text = "".join(rng.choice(list(letters), int(rng.integers(*lengths))))
        frames = [rng.normal(0, 0.3, (int(rng.integers(1, 3)), features))]
        for c in text:
            frames += [protos[c] + rng.normal(0, 0.3, (int(rng.integers(3, 6)), features)),
                       rng.normal(0, 0.3, (int(rng.integers(1, 3)), features))]
        X.append(np.concatenate(frames).astype(np.float32))
        y.append(text)
    return X, y


def fake_fsdd(folder, speakers=("ann", "bob"), digits=range(3), indices=(0, 1, 5, 6)):
    """FSDD-named recordings (``{digit}_{speaker}_{index}.wav`` at 8 kHz) whose samples encode
    who said what: a tone of 200 + 100 * digit Hz, with a speaker-specific background hiss at
    each end."""
    rate = 8000
    rng = np.random.default_rng(0)
    folder.mkdir()
    for s, hiss in zip(speakers, (0.01, 0.002)):
        for d in digits:
            for i in indices:
                t = np.arange(int(0.2 * rate)) / rate
                word = 0.5 * np.sin(2 * np.pi * (200 + 100 * d) * t)
                edge = rng.normal(0, hiss, int(0.03 * rate))
                write_wav(folder / f"{d}_{s}_{i}.wav", np.concatenate([edge, word, edge]).astype(np.float32), rate)
    return folder
