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
EDGE = 0.02  # seconds at each end of a recording taken as its background level
EDGE_SAMPLES = int(EDGE * RATE)


def background(samples: np.ndarray) -> float:
    """A recording's background level: the root mean square of its first or of its last
    :data:`EDGE` seconds, whichever is quieter (a trimmed recording may start or end inside
    the word), at least 1e-4 (a digitally silent edge still gets faint noise)."""
    edges = [samples[:EDGE_SAMPLES], samples[-EDGE_SAMPLES:]]
    return max(min(float(np.sqrt(np.mean(np.square(e, dtype=np.float64)))) for e in edges), 1e-4)


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


def write_fsdd_tables(folder: str | os.PathLike) -> None:
    """``train.csv`` and ``test.csv`` beside FSDD's ``recordings/`` folder: ``file,text`` rows
    (the recording relative to the table, its digit as the transcript) in the standard split,
    so a recogniser reads FSDD as any table of recordings (``recognize train --train data:fsdd``).
    Each is written to a temporary name and renamed, so a half-written table is never read."""
    folder = Path(folder)
    for split in ("train", "test"):
        rows = [f"recordings/{r.path.name},{r.digit}" for r in fsdd_recordings(folder / "recordings", split)]
        tmp = folder / f".{split}.csv.{os.getpid()}.tmp"
        tmp.write_text("file,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
        os.replace(tmp, folder / f"{split}.csv")


def connected_digits(recordings: list[Recording], n: int, rng: np.random.Generator, min_digits: int = 2,
                     max_digits: int = 7, pause: tuple[float, float] = (0.05, 0.3), noise: float | str = "match"
                     ) -> list[tuple[np.ndarray, str]]:
    """``n`` utterances ``(samples at 8 kHz, "d d d")``: for each, one speaker, 2-7 of their
    recordings in random order, joined (and led and closed) by pauses of random length filled
    with Gaussian noise: of standard deviation ``noise``, or with ``"match"`` at the level of the
    following (for the last pause: the preceding) recording's own background
    (:func:`background`), so that a pause sounds like the room the speaker recorded in and the
    level statistics of an utterance (per-utterance normalisation uses them) are those of real
    recordings, not of digital silence."""
    from rnnkit.data.audio import read_wav

    by_speaker: dict[str, list[Recording]] = {}
    for r in recordings:
        by_speaker.setdefault(r.speaker, []).append(r)
    speakers = sorted(by_speaker)
    cache: dict[Path, np.ndarray] = {}
    out = []

    def gap(level: float) -> np.ndarray:
        scale = level if noise == "match" else float(noise)
        return rng.normal(0, scale, int(rng.uniform(*pause) * RATE)).astype(np.float32)

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
            pieces += [gap(background(cache[r.path])), cache[r.path]]
        pieces.append(gap(background(cache[picks[-1].path])))
        out.append((np.concatenate(pieces), " ".join(str(r.digit) for r in picks)))
    return out


__all__ = ["Recording", "fsdd_recordings", "connected_digits", "background", "RATE"]
