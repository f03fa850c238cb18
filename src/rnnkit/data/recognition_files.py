"""A recogniser's own files: a folder of WAV recordings or line images with a table of
transcripts, read into frames.

The table (CSV, or TSV when its first line has a tab) has a header naming a file column
(``file``, ``path``, ``audio``, ``image`` or ``filename``) and a transcript column (``text``,
``transcript`` or ``sentence``); file paths are relative to the table's folder. Every problem
is a one-line :class:`DataError` naming the table row or the file: a missing or unreadable
file, an empty transcript.

* audio (``.wav``): :func:`~rnnkit.data.audio.read_wav`, resampled to ``sample_rate`` if
  recorded at another, log-mel frames (25 ms windows, 10 ms hop), normalised per utterance
  (:func:`~rnnkit.data.audio.normalise`: by level, or per channel);
* images (``.png``, ``.jpg``, ...; Pillow, the ``recognize`` extra): greyscale, scaled to
  ``height`` pixels (the width in proportion), ink as 1 and paper as 0; each pixel column is
  one frame of ``height`` features, read left to right.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rnnkit.errors import ConfigError, DataError

AUDIO = (".wav",)
IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
FILE_COLUMNS = ("file", "path", "audio", "image", "filename")
TEXT_COLUMNS = ("text", "transcript", "sentence")


@dataclass
class FrameSpec:
    """How files become frames (saved with a recogniser, so it reads new files the same way)."""

    kind: str = "audio"  # "audio" or "image"
    sample_rate: int = 8000
    n_mels: int = 40
    height: int = 32
    normalise: str = "level"  # audio: see rnnkit.data.audio.normalise

    def frames(self, path: str | os.PathLike) -> np.ndarray:
        return audio_frames(path, self.sample_rate, self.n_mels, self.normalise) if self.kind == "audio" else \
            image_frames(path, self.height)

    def to_dict(self) -> dict:
        return asdict(self)


def kind_of(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in AUDIO:
        return "audio"
    if suffix in IMAGES:
        return "image"
    raise DataError(f"{path}: not a recognised audio ({', '.join(AUDIO)}) or image ({', '.join(IMAGES)}) file")


def audio_frames(path: str | os.PathLike, sample_rate: int = 8000, n_mels: int = 40, per: str = "level"
                 ) -> np.ndarray:
    """``(frames, n_mels)`` log-mel frames of a WAV file at ``sample_rate``, normalised ``per``
    utterance level or channel."""
    from rnnkit.data.audio import log_mel, normalise, read_wav, resample

    x, rate = read_wav(path)
    x = resample(x, rate, sample_rate)
    return normalise(log_mel(x, sample_rate, n_mels=n_mels), per)


def image_frames(path: str | os.PathLike, height: int = 32) -> np.ndarray:
    """``(width, height)`` columns of a text-line image: ink 1, paper 0."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ConfigError("reading images needs Pillow: pip install 'rnnkit[recognize]'") from None
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    try:
        with Image.open(path) as im:
            grey = im.convert("L")
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path} is not a readable image ({e})") from None
    w, h = grey.size
    width = max(1, round(w * height / h))
    pixels = np.asarray(grey.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    return np.ascontiguousarray((1.0 - pixels).T)  # (width, height): one frame per column


def read_transcripts(table: str | os.PathLike) -> tuple[list[Path], list[str]]:
    """The files (absolute) and transcripts a table lists (see the module docstring)."""
    from rnnkit.data.text import read_text
    from rnnkit.data.text_column import read_table

    table = Path(table)
    df = read_table(table, read_text(table))
    columns = {c.strip().lower(): c for c in df.columns}
    file_col = next((columns[c] for c in FILE_COLUMNS if c in columns), None)
    text_col = next((columns[c] for c in TEXT_COLUMNS if c in columns), None)
    if file_col is None or text_col is None:
        raise DataError(f"{table} needs a header with a file column ({', '.join(FILE_COLUMNS)}) and a transcript "
                        f"column ({', '.join(TEXT_COLUMNS)}); it has {', '.join(map(str, df.columns))}")
    if df.empty:
        raise DataError(f"{table} lists no files")
    files, texts = [], []
    for row, (name, transcript) in enumerate(zip(df[file_col], df[text_col]), start=2):
        path = (table.parent / name.strip()).resolve()
        if not name.strip() or not path.is_file():
            raise DataError(f"{table}, row {row}: no such file {name!r}")
        transcript = " ".join(transcript.split())
        if not transcript:
            raise DataError(f"{table}, row {row}: empty transcript for {name}")
        files.append(path)
        texts.append(transcript)
    return files, texts


__all__ = ["FrameSpec", "kind_of", "audio_frames", "image_frames", "read_transcripts"]
