"""A language-modelling corpus: vocabulary plus train/valid/test token ids."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from rnnkit.data.cache import cached_ids, write_npy_header
from rnnkit.data.text import encode_cached, encode_chars, id_dtype, iter_text, read_text, tokens
from rnnkit.data.vocab import LM_WORDS, Vocab
from rnnkit.errors import DataError


@dataclass
class Corpus:
    """Token ids of each split (1-D integer arrays, possibly memory-mapped) and the vocabulary."""

    vocab: Vocab
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def load_corpus(
    train: str | os.PathLike | Sequence[str | os.PathLike],
    valid: str | os.PathLike | None = None,
    test: str | os.PathLike | None = None,
    level: str = "char",
    split: tuple[float, float, float] = (0.9, 0.05, 0.05),
    min_freq: int = 1,
    max_vocab: int | None = None,
) -> Corpus:
    """Read text files into a :class:`Corpus`.

    ``train`` is one file or several (concatenated). With ``valid``/``test`` files given
    they are used as is; otherwise the training text is split *contiguously* by
    ``split`` fractions (default 90/5/5), so no evaluation text is interleaved with
    training text. A word vocabulary comes from the training split only (unknown words
    map to ``<unk>``); a character vocabulary covers every file, as char-rnn does, so
    evaluation never meets an unknown character.
    """
    if level not in ("char", "word"):
        raise DataError(f"level must be 'char' or 'word', got {level!r}")
    train_files = [train] if isinstance(train, (str, os.PathLike)) else list(train)
    if not train_files:
        raise DataError("no training file given")
    if (valid is None) != (test is None):
        raise DataError("give both --valid and --test files, or neither (to split the training text)")
    if valid is None and (len(split) != 3 or abs(sum(split) - 1) > 1e-6 or min(split) <= 0):
        raise DataError(f"split fractions must be three positive numbers summing to 1, got {split}")
    if level == "char":
        return _char_corpus(train_files, valid, test, split)
    train_text = "\n".join(read_text(p) for p in train_files) if len(train_files) > 1 else read_text(train_files[0])
    if valid is None:
        n = len(train_text)
        a, b = int(n * split[0]), int(n * (split[0] + split[1]))
        a, b = _line_end(train_text, a), _line_end(train_text, b)  # cut at line ends: no word split in two
        texts = {"train": train_text[:a], "valid": train_text[a:b], "test": train_text[b:]}
        del train_text  # the three slices are copies: do not hold the whole text twice
        for name, t in texts.items():
            if not t.strip():
                raise DataError(f"the {name} split of the training text is empty; the corpus is too small to split")
    else:
        assert test is not None  # both or neither, checked above
        texts = {"train": train_text, "valid": read_text(valid), "test": read_text(test)}
    vocab = Vocab.build_words([tokens(texts["train"], "word")], min_freq=min_freq, max_size=max_vocab,
                              specials=LM_WORDS)

    corpus = Corpus(vocab, *(encode_cached(texts[name], vocab) for name in ("train", "valid", "test")))
    if len(corpus.train) < 2:
        raise DataError("the training text has fewer than 2 tokens")
    return corpus


def _chunks(files: Sequence[str | os.PathLike]) -> Iterator[str]:
    """The files' text, a chunk at a time, with a newline between files."""
    for i, path in enumerate(files):
        if i:
            yield "\n"
        yield from iter_text(path)


def _char_corpus(train_files: Sequence[str | os.PathLike], valid: str | os.PathLike | None,
                 test: str | os.PathLike | None, split: tuple[float, float, float]) -> Corpus:
    """A character corpus streamed from disk: one pass collects the characters and sizes, a
    second writes the ids straight into the memory-mapped cache, and the three splits are
    views of it. A corpus costs a few MB of working memory beyond its mapped ids, whatever
    its size."""
    sources = {"train": list(train_files), "valid": [valid] if valid else [], "test": [test] if test else []}
    chars: set[str] = set()
    sizes, keys = {}, {}
    for name, files in sources.items():
        key, n = hashlib.sha256(), 0
        for chunk in _chunks(files):
            chars.update(chunk)
            n += len(chunk)
            key.update(chunk.encode("utf-8"))
        sizes[name], keys[name] = n, key
    vocab = Vocab(sorted(chars), level="char", specials=())
    ids = {name: _encode_chars_cached(files, vocab, sizes[name], keys[name])
           for name, files in sources.items() if files}
    if valid is None:
        n = sizes["train"]
        a, b = int(n * split[0]), int(n * (split[0] + split[1]))
        whole = ids["train"]
        ids = {"train": whole[:a], "valid": whole[a:b], "test": whole[b:]}
        is_blank = np.array([c.isspace() for c in vocab.tokens])
        for name, part in ids.items():
            # blank if every character is whitespace: read in slices, stopping at the first that is not
            if all(is_blank[part[i:i + (1 << 22)]].all() for i in range(0, len(part), 1 << 22)):
                raise DataError(f"the {name} split of the training text is empty; the corpus is too small to split")
    corpus = Corpus(vocab, ids["train"], ids["valid"], ids["test"])
    if len(corpus.train) < 2:
        raise DataError("the training text has fewer than 2 tokens")
    return corpus


def _encode_chars_cached(files: Sequence[str | os.PathLike], vocab: Vocab, size: int, key: Any) -> np.ndarray:
    """The character ids of ``files`` from the cache, encoded into it chunk by chunk if absent."""
    key = key.copy()
    key.update(repr(vocab.to_dict()).encode("utf-8"))
    dtype = id_dtype(len(vocab)).newbyteorder("<")

    def write(f: BinaryIO) -> None:
        write_npy_header(f, dtype, size)
        for chunk in _chunks(files):
            f.write(encode_chars(chunk, vocab).astype(dtype).tobytes())

    return cached_ids(key.hexdigest()[:32], write)


def _line_end(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


__all__ = ["Corpus", "load_corpus"]
