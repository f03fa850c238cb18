"""Token-per-line tagging files: CoNLL-U (Universal Dependencies) and plain CoNLL columns.

A sentence is a block of lines separated by a blank line. In CoNLL-U, ``#`` lines are
comments, multi-word token lines (ID ``3-4``) and empty nodes (ID ``5.1``) are skipped,
the word is column 2 and the tag column is chosen by name (``upos`` = column 4, ``xpos``
= column 5). In plain CoNLL the word is the first column and the tag the last.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rnnkit.data.text import iter_lines, read_text
from rnnkit.errors import DataError

# a word ("7"), or a multi-word token ("7-8") or empty node ("7.1"), which carry no tag
_ID = re.compile(r"(\d+)([-.]\d+)?")

CONLLU_COLUMNS = {"form": 1, "lemma": 2, "upos": 3, "xpos": 4, "deprel": 7}


def read_conll(path: str | os.PathLike, tag: str = "upos") -> tuple[list[list[str]], list[list[str]]]:
    """``(sentences, tags)``: lists of token lists and of equally long tag lists."""
    path = Path(path)
    conllu = path.suffix.lower() == ".conllu"
    if conllu and tag not in CONLLU_COLUMNS:
        raise DataError(f"unknown CoNLL-U tag column {tag!r}; choose one of {', '.join(CONLLU_COLUMNS)}")
    sentences, tags = [], []
    words: list[str] = []
    labels: list[str] = []

    def close() -> None:
        if words:
            sentences.append(list(words))
            tags.append(list(labels))
            words.clear()
            labels.clear()

    for lineno, line in enumerate(iter_lines(read_text(path)), 1):
        if not line.strip():
            close()
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t") if conllu else line.split()
        if conllu:
            if len(cols) != 10:
                raise DataError(f"{path}, line {lineno}: a CoNLL-U line has 10 tab-separated columns, got {len(cols)}")
            kind = _ID.fullmatch(cols[0])
            if kind is None:
                raise DataError(f"{path}, line {lineno}: {cols[0]!r} is not a CoNLL-U word ID (1, 2-3 or 4.1)")
            if kind.group(2):
                continue  # multi-word token or empty node: not a tagged word
            label = cols[CONLLU_COLUMNS[tag]]
            if label == "_" and tag in ("upos", "deprel"):
                raise DataError(f"{path}, line {lineno}: word {cols[1]!r} has no {tag} ('_'); tag every word, or "
                                f"choose another --tag-column")
            words.append(cols[1])
            labels.append(label)
        else:
            if len(cols) < 2:
                raise DataError(f"{path}, line {lineno}: expected 'token tag' columns")
            words.append(cols[0])
            labels.append(cols[-1])
    close()
    if not sentences:
        raise DataError(f"{path} holds no sentences")
    return sentences, tags
