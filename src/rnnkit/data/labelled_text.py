"""Sentence classification files: one example per line, a label and a sentence.

Formats (``fmt="auto"`` picks by the first line):
* ``tab``: ``label<TAB>sentence`` or ``sentence<TAB>label``;
* ``space``: ``label sentence`` -- the SST files of Kim (2014) (``stsa.binary.train``) --
  or ``sentence label``.

Which end holds the label (``label="auto"``) is read from the data: labels repeat, the
words of sentences hardly do, so the side with fewer distinct values is the label. A file
where both sides take about as many values as there are lines is refused rather than read
as one class per example.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from rnnkit.data.text import iter_lines, read_text
from rnnkit.errors import DataError

#: at least this many lines before a file can be called free text on both sides
MIN_LINES_TO_JUDGE = 20


class LabelledSentences(NamedTuple):
    sentences: list[str]
    labels: list[str]
    label_side: str  # "first" or "last": where each line's label was


def read_labelled_sentences(path: str | os.PathLike, fmt: str = "auto", label: str = "auto") -> LabelledSentences:
    """``(sentences, labels, label_side)`` from a labelled-sentence file."""
    path = Path(path)
    numbered = [(n, line) for n, line in enumerate(iter_lines(read_text(path)), 1) if line.strip()]
    lines = [line for _, line in numbered]
    if not lines:
        raise DataError(f"{path} has no lines")
    if fmt == "auto":
        fmt = "tab" if "\t" in lines[0] else "space"
    if fmt not in ("tab", "space"):
        raise DataError(f"unknown labelled-text format {fmt!r}; use tab, space or auto")
    if label not in ("auto", "first", "last"):
        raise DataError(f"label must be auto, first or last, got {label!r}")
    sep = "\t" if fmt == "tab" else " "
    pairs = []  # (first part, rest) and (rest, last part) of each line
    for lineno, line in numbered:  # numbered as in the file: blank lines count
        text = line.strip("\r\n") if fmt == "tab" else line.strip()
        head, found, tail = text.partition(sep)
        front, found_back, back = text.rpartition(sep)
        if not found or not head.strip() or not tail.strip():
            shown = "<TAB>" if fmt == "tab" else " "
            raise DataError(f"{path}, line {lineno}: expected 'label{shown}sentence' or 'sentence{shown}label'")
        pairs.append((head.strip(), tail.strip(), front.strip(), back.strip()))
    first = [p[0] for p in pairs]
    last = [p[3] for p in pairs]
    if label == "auto":  # fewer distinct values, but at least two (one class is no label); ties: first
        d_first, d_last = len(set(first)), len(set(last))
        label = "last" if 2 <= d_last < d_first or (d_first < 2 <= d_last) else "first"
    labels = first if label == "first" else last
    sentences = [p[1] for p in pairs] if label == "first" else [p[2] for p in pairs]
    distinct = len(set(labels))
    if len(labels) >= MIN_LINES_TO_JUDGE and distinct > len(labels) // 2:
        shown = "<TAB>" if fmt == "tab" else " "
        raise DataError(f"{path} does not look like labelled sentences: the label would take {distinct} different "
                        f"values in {len(labels)} lines at either end of the line; give 'label{shown}sentence' or "
                        f"'sentence{shown}label' lines")
    return LabelledSentences(sentences, labels, label)


def read_sentences_to_classify(path: str | os.PathLike, classes: list[str]) -> tuple[list[str], list[str] | None, str]:
    """``(sentences, labels or None, note)`` for a classifier that knows ``classes``.

    A file whose lines mostly start (or end) with one of those classes is labelled on that
    side, read as :func:`read_labelled_sentences` reads it; otherwise each non-blank line is one
    unlabelled sentence, whole (guessing a label from the words would drop each line's first
    word and score the predictions against it).
    """
    path = Path(path)
    lines = [line.strip() for line in iter_lines(read_text(path)) if line.strip()]
    if not lines:
        raise DataError(f"{path} has no lines")
    known = set(map(str, classes))
    sep = "\t" if "\t" in lines[0] else " "
    share = {side: sum(part in known for part in parts) / len(lines)
             for side, parts in (("first", [x.partition(sep)[0].strip() for x in lines]),
                                 ("last", [x.rpartition(sep)[2].strip() for x in lines]))}
    side = max(share, key=lambda k: share[k])  # ties: first
    if share[side] >= 0.5 and all(sep in x for x in lines):
        sentences, labels, side = read_labelled_sentences(path, "tab" if sep == "\t" else "space", side)
        return sentences, labels, f"labels: the {side} field of each line"
    shown = ", ".join(sorted(known)[:5]) + (", ..." if len(known) > 5 else "")
    return lines, None, (f"read as unlabelled, one text per line: most lines neither start nor end with a "
                         f"class ({shown})")
