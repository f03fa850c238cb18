"""The text of a table's column as a plain text file, one row per line, for the corpus
reader: how a language model is fine-tuned on the texts of a labelled data set (ULMFiT's
second stage) without the user writing them out first.

Two file shapes, as for conditioned generation:

* a table with a header (``.csv``, or a ``.tsv``/``.txt`` whose first line names the
  column): the column ``text_col``;
* a labelled-sentence file without a header (``label<TAB>text`` such as IMDb's
  ``train.tsv``, or SST's ``label sentence`` lines) with ``text_col="text"``: the text side
  of each line, found as :func:`~rnnkit.data.labelled_text.read_labelled_sentences` finds it
  for the classifier.

The extracted file lives in the cache folder under a hash of the source's bytes and the
column, written atomically; line breaks inside a text become spaces (one text, one line).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from rnnkit.data.cache import cache_dir
from rnnkit.data.text import iter_lines, read_text
from rnnkit.errors import DataError


def separator(first_line: str) -> str:
    """A table's field separator: a tab if its first line has one, else a comma."""
    return "\t" if "\t" in first_line else ","


def header(first_line: str) -> list[str]:
    """The column names a table's first line gives."""
    return [c.strip() for c in first_line.split(separator(first_line))]


def read_table(path: str | os.PathLike, text: str):
    """``text``, the contents of the table ``path`` (CSV, or TSV when its first line has a tab),
    as a pandas DataFrame of strings (empty cells as ""); unparsable is a one-line error."""
    import pandas as pd

    try:
        return pd.read_csv(io.StringIO(text), sep=separator(next(iter_lines(text), "")), dtype=str,
                           keep_default_na=False)
    except pd.errors.ParserError as e:
        raise DataError(f"{path} is not a readable table: {str(e).splitlines()[0]}") from None


def read_text_column(path: str | os.PathLike, text_col: str) -> list[str]:
    """The texts of column ``text_col`` of ``path`` (see the module docstring)."""
    path = Path(path)
    text = read_text(path)
    first = next(iter_lines(text), "")
    if path.suffix.lower() == ".csv" or text_col in header(first):
        df = read_table(path, text)
        if text_col not in df.columns:
            raise DataError(f"{path} has no column {text_col!r}; its columns are {', '.join(map(str, df.columns))}")
        texts = df[text_col].tolist()
    elif text_col == "text":
        from rnnkit.data.labelled_text import read_labelled_sentences

        texts = read_labelled_sentences(path).sentences
    else:
        raise DataError(f"{path} has no header line naming a column {text_col!r}; for label<TAB>text lines "
                        "use --text-col text")
    texts = [" ".join(t.split()) for t in texts]
    if not any(texts):
        raise DataError(f"the {text_col!r} column of {path} is empty")
    return texts


def text_column_file(path: str | os.PathLike, text_col: str) -> Path:
    """A cached plain-text file holding the column's texts, one per line (made if absent)."""
    path = Path(path)
    if not path.is_file():
        read_text(path)  # its one-line error: a missing file, a folder
    digest = hashlib.sha256(text_col.encode("utf-8") + b"\0")
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    target = cache_dir() / "text-columns" / f"{digest.hexdigest()[:32]}.txt"
    if not target.exists():
        texts = read_text_column(path, text_col)  # a missing or unreadable file fails here, by name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text("\n".join(t for t in texts if t) + "\n", encoding="utf-8")
        os.replace(tmp, target)
    return target


__all__ = ["read_text_column", "text_column_file", "read_table", "header", "separator"]
