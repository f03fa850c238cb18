"""One entry point for every labelled-sequence file the classifier reads.

Formats (``fmt="auto"`` picks one from the extension and the first line):

* ``ucr``: UCR ``.tsv``/``.txt`` series, label first (:func:`~rnnkit.data.ucr.read_ucr_tsv`);
* ``ts``: sktime/aeon ``.ts`` files (:func:`~rnnkit.data.ucr.read_ts`);
* ``csv``: a CSV of sequences with a header (:func:`~rnnkit.data.csv_sequences.read_sequence_csv`);
* ``text``: ``label<TAB>sentence`` or SST-style ``label sentence`` lines
  (:func:`~rnnkit.data.labelled_text.read_labelled_sentences`).

A ``.tsv``/``.txt`` file is UCR series when every field after the label is a number
(or empty / ``NaN``), and labelled sentences otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rnnkit.data.text import iter_lines, read_text
from rnnkit.errors import DataError

FORMATS = ("auto", "ucr", "ts", "csv", "text")


@dataclass
class LabelledSequences:
    """``X``: ``(T, C)`` float arrays (``kind="series"``) or sentences (``kind="text"``);
    ``y``: labels, or ``None`` for unlabelled input."""

    X: list
    y: list[str] | None
    kind: str
    name: str = ""
    note: str = ""  # how the file was read, when it could have been read otherwise


def _numeric_field(v: str) -> bool:
    v = v.strip()
    if not v or v.lower() == "nan":
        return True
    try:
        float(v)
    except ValueError:
        return False
    return True


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".ts":
        return "ts"
    if suffix == ".csv":
        return "csv"
    first = next((line for line in iter_lines(read_text(path)) if line.strip()), "")
    fields = first.split("\t") if "\t" in first else first.split()
    return "ucr" if len(fields) > 1 and all(_numeric_field(v) for v in fields[1:]) else "text"


def read_labelled_file(path: str | os.PathLike, fmt: str = "auto", label_column: str = "label",
                       id_column: str | None = None, time_column: str | None = None,
                       missing: str = "error", classes: list[str] | None = None) -> LabelledSequences:
    """Read ``path`` as ``fmt`` (see the module docstring). ``classes``: those of a trained
    classifier about to predict; text lines that hold none of them are read as unlabelled."""
    path = Path(path)
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "text":
        from rnnkit.data.labelled_text import read_labelled_sentences, read_sentences_to_classify

        if classes is not None:
            texts, found, note = read_sentences_to_classify(path, classes)
            return LabelledSequences(texts, found, "text", path.stem, note=note)
        sentences, labels, side = read_labelled_sentences(path)
        where = "the first field of each line" if side == "first" else "the last field of each line"
        return LabelledSequences(sentences, labels, "text", path.stem, note=f"labels: {where}")
    if fmt == "csv":
        from rnnkit.data.csv_sequences import read_sequence_csv

        data = read_sequence_csv(path, label_column, id_column, time_column, missing)
    else:
        from rnnkit.data.ucr import read_ts, read_ucr_tsv

        data = read_ts(path, missing) if fmt == "ts" else read_ucr_tsv(path, missing)
    return LabelledSequences(data.series, data.labels, "series", data.name)

