"""Connected-digit utterances built from the Free Spoken Digit Dataset (FSDD): 2-7 recordings
of one speaker joined by short random pauses, transcribed as digits with spaces (``"3 9 1"``),
so a word error is a digit error.

FSDD's standard split (its README) puts repetitions 0-4 of every digit and speaker in the test
set and 5-49 in training; :func:`fsdd_recordings` keeps it, and utterances built from one
side's recordings never use the other's, so no test recording is heard in training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.errors import DataError

RATE = 8000


@dataclass(frozen=True)
class Recording:
    path: Path
    digit: int
    speaker: str
    index: int


def fsdd_recordings(folder: str | os.PathLike, split: str = "train") -> list[Recording]:
    """FSDD's ``{digit}_{speaker}_{index}.wav`` files of ``split`` (``train``: index >= 5,
    ``test``: index 0-4, ``all``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of FSDD recordings")
    out = []
    for path in sorted(folder.glob("*.wav")):
        parts = path.stem.split("_")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
            continue
        rec = Recording(path, int(parts[0]), parts[1], int(parts[2]))
        if split == "all" or (split == "test") == (rec.index <= 4):
            out.append(rec)
    if not out:
        raise DataError(f"{folder} holds no FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav) for {split!r}")
    return out


def connected_digits(recordings: list[Recording], n: int, rng: np.random.Generator, min_digits: int = 2,
                     max_digits: int = 7, pause: tuple[float, float] = (0.05, 0.3), noise: float = 1e-3
                     ) -> list[tuple[np.ndarray, str]]:
    """``n`` utterances ``(samples at 8 kHz, "d d d")``: for each, one speaker, 2-7 of their
    recordings in random order, joined (and led and closed) by pauses of random length filled
    with faint noise (a recording's own silence is never perfectly zero either)."""
    from rnnkit.data.audio import read_wav

    by_speaker: dict[str, list[Recording]] = {}
    for r in recordings:
        by_speaker.setdefault(r.speaker, []).append(r)
    speakers = sorted(by_speaker)
    cache: dict[Path, np.ndarray] = {}
    out = []
    for _ in range(n):
        pool = by_speaker[speakers[int(rng.integers(len(speakers)))]]
        picks = [pool[int(i)] for i in rng.integers(0, len(pool), int(rng.integers(min_digits, max_digits + 1)))]
        pieces = []
        for r in picks:
            if r.path not in cache:
                x, rate = read_wav(r.path)
                if rate != RATE:
                    raise DataError(f"{r.path}: FSDD recordings are {RATE} Hz, this one {rate} Hz")
                cache[r.path] = x
            pieces += [rng.normal(0, noise, int(rng.uniform(*pause) * RATE)).astype(np.float32), cache[r.path]]
        pieces.append(rng.normal(0, noise, int(rng.uniform(*pause) * RATE)).astype(np.float32))
        out.append((np.concatenate(pieces), " ".join(str(r.digit) for r in picks)))
    return out


__all__ = ["Recording", "fsdd_recordings", "connected_digits", "RATE"]
