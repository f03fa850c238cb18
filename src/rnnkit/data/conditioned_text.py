"""Sentences with what they are conditioned on: a label, or a vector of numeric features.

Two file shapes:

* a table with a header (``.csv``, or ``.tsv``/``.txt`` whose first line names the
  columns): the text in ``text_col``, the condition in ``condition_col`` (a label) or in
  ``feature_cols`` (numbers);
* a labelled-sentence file without a header, ``label<TAB>sentence`` or SST's
  ``label sentence`` lines: the first field is the label.

:class:`ConditionedBatches` batches the encoded sentences with their conditions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.sentences import decoder_targets
from rnnkit.data.sequences import BucketedBatches
from rnnkit.data.text import iter_lines, read_text
from rnnkit.data.text_column import header as _header
from rnnkit.data.text_column import read_table
from rnnkit.errors import DataError


@dataclass
class ConditionedText:
    """``texts`` with ``labels`` (strings) or ``features`` ``(N, F)`` float32, one per text."""

    texts: list[str]
    labels: list[str] | None = None
    features: np.ndarray | None = None
    feature_names: list[str] | None = None


def read_conditioned_text(path: str | os.PathLike, condition_col: str | None = "label", text_col: str = "text",
                          feature_cols: list[str] | None = None) -> ConditionedText:
    """Read ``path`` (see the module docstring); rows with an empty text are an error."""
    path = Path(path)
    if (condition_col is None) == (not feature_cols):
        raise DataError("give either a condition column (a label) or feature columns, not both or neither")
    text = read_text(path)
    first = next(iter_lines(text), "")
    wanted = [text_col] + ([condition_col] if condition_col else list(feature_cols or []))
    if path.suffix.lower() == ".csv" or set(wanted) <= set(_header(first)):
        return _from_table(path, text, wanted, condition_col, text_col, feature_cols)
    if feature_cols:
        raise DataError(f"{path} has no header line naming the columns {', '.join(wanted)}")
    from rnnkit.data.labelled_text import read_labelled_sentences

    sentences, labels, _ = read_labelled_sentences(path)  # plain text is refused there
    return ConditionedText(sentences, labels=labels)


def _from_table(path: Path, text: str, wanted: list[str], condition_col, text_col, feature_cols) -> ConditionedText:
    import pandas as pd

    df = read_table(path, text)
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise DataError(f"{path} has no column {', '.join(map(repr, missing))}; "
                        f"its columns are {', '.join(map(str, df.columns))}")
    texts = df[text_col].str.strip()
    empty = np.flatnonzero((texts == "").to_numpy())
    if len(empty):
        raise DataError(f"{path}, row {empty[0] + 2}: the {text_col!r} column is empty")
    if condition_col:
        labels = df[condition_col].str.strip()
        blank = np.flatnonzero((labels == "").to_numpy())
        if len(blank):
            raise DataError(f"{path}, row {blank[0] + 2}: no {condition_col!r} value")
        return ConditionedText(texts.tolist(), labels=labels.tolist())
    values = df[list(feature_cols)].apply(pd.to_numeric, errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise DataError(f"{path}, row {row + 2}: column {feature_cols[col]!r} is not a number "
                        f"({df[feature_cols[col]].iloc[row]!r})")
    return ConditionedText(texts.tolist(), features=values.to_numpy(np.float32), feature_names=list(feature_cols))


class ConditionedBatches(BucketedBatches):
    """``(inputs, lengths, targets, conditions)`` of encoded sentences with their condition
    ids or feature rows: ``<bos> w_1 .. w_n`` predicts ``w_1 .. w_n <eos>``; batches of
    similar length."""

    def __init__(self, sentences: Sequence[np.ndarray], conditions: np.ndarray, batch_size: int,
                 shuffle: bool = True, seed: int = 0) -> None:
        if len(sentences) != len(conditions):
            raise DataError(f"{len(sentences)} sentences but {len(conditions)} conditions")
        if not len(sentences):
            raise DataError("no sentences to train on")
        self.sentences, self.conditions = sentences, conditions
        super().__init__([len(s) for s in sentences], batch_size, shuffle, seed)

    def batch(self, idx: np.ndarray) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x, y, lengths = decoder_targets([self.sentences[i] for i in idx])
        return x, lengths, y, torch.as_tensor(self.conditions[idx])
