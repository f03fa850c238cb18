"""Sentence classification files: one example per line, label then text.

Formats (``fmt="auto"`` picks by the first line):
* ``tab``: ``label<TAB>sentence``;
* ``space``: ``label sentence`` -- the SST files of Kim (2014) (``stsa.binary.train``).
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnkit.data.text import iter_lines, read_text
from rnnkit.errors import DataError


def read_labelled_sentences(path: str | os.PathLike, fmt: str = "auto") -> tuple[list[str], list[str]]:
    """``(sentences, labels)`` from a labelled-sentence file."""
    path = Path(path)
    lines = [line for line in iter_lines(read_text(path)) if line.strip()]
    if fmt == "auto":
        fmt = "tab" if "\t" in lines[0] else "space"
    if fmt not in ("tab", "space"):
        raise DataError(f"unknown labelled-text format {fmt!r}; use tab, space or auto")
    sentences, labels = [], []
    for lineno, line in enumerate(lines, 1):
        label, sep, text = line.partition("\t") if fmt == "tab" else line.strip().partition(" ")
        if not sep or not text.strip() or not label.strip():
            raise DataError(f"{path}, line {lineno}: expected 'label{'<TAB>' if fmt == 'tab' else ' '}sentence'")
        sentences.append(text.strip())
        labels.append(label.strip())
    return sentences, labels
