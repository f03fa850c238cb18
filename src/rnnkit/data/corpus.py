"""A language-modelling corpus: vocabulary plus train/valid/test token ids."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from rnnkit.data.cache import cached_ids, write_npy_header
from rnnkit.data.text import encode_chars, id_dtype, iter_text
from rnnkit.data.vocab import EOS, LM_WORDS, UNK, Vocab
from rnnkit.data.word_split import check_word_split, split_words
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
    tokenizer: str = "whitespace",
) -> Corpus:
    """Read text files into a :class:`Corpus`.

    ``train`` is one file or several (concatenated). With ``valid``/``test`` files given
    they are used as is; otherwise the training text is split *contiguously* by
    ``split`` fractions (default 90/5/5), so no evaluation text is interleaved with
    training text. A word vocabulary comes from the training split only (unknown words
    map to ``<unk>``); a character vocabulary covers every file, as char-rnn does, so
    evaluation never meets an unknown character. ``tokenizer`` (word level): how each line
    splits into words (:mod:`rnnkit.data.word_split`), recorded in the vocabulary.
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
    return _word_corpus(train_files, valid, test, split, min_freq, max_vocab, check_word_split(tokenizer))


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


def _lines(files: Sequence[str | os.PathLike]) -> Iterator[tuple[int, str]]:
    """``(offset, line)`` for every line of the files' text (split on ``\\n`` only, as
    :func:`~rnnkit.data.text.iter_lines`), streamed: the offset of its first character."""
    offset, pending = 0, ""
    for chunk in _chunks(files):
        pending += chunk
        start = 0
        while True:
            end = pending.find("\n", start)
            if end < 0:
                break
            yield offset + start, pending[start:end].rstrip("\r")
            start = end + 1
        offset += start
        pending = pending[start:]
    if pending:
        yield offset, pending.rstrip("\r")


def _word_corpus(train_files: Sequence[str | os.PathLike], valid: str | os.PathLike | None,
                 test: str | os.PathLike | None, split: tuple[float, float, float], min_freq: int,
                 max_vocab: int | None, tokenizer: str = "whitespace") -> Corpus:
    """A word corpus streamed from disk: the training text is cut at the first line ends at
    or after the ``split`` fractions of its characters (a line so long that this would leave
    a split empty is cut at the first space instead; no word is split in two), the
    vocabulary comes from the training part, and the ids of all parts are written to one
    cached file, of which the splits are views."""
    sources: list[tuple[str, list[str | os.PathLike]]] = [("train", list(train_files))]
    if valid is not None and test is not None:
        sources += [("valid", [valid]), ("test", [test])]
        cut = None
    else:  # pass 1: the training text's length, for the cuts
        n = sum(len(chunk) for chunk in _chunks(train_files))
        cut = (int(n * split[0]), int(n * (split[0] + split[1])))
    total_chars = n if cut is not None else 0

    def parts() -> Iterator[tuple[str, str]]:
        """``(split name, line)`` over every source; a line that spans a cut (a corpus of
        one long line) is cut at the first space at or after it."""
        for name, files in sources:
            for offset, line in _lines(files):
                if cut is None:
                    yield name, line
                    continue
                start = 0
                end = offset + len(line)
                for c, beyond in zip(cut, (cut[1], total_chars - 1)):
                    # a line that reaches past the next boundary too (a corpus of one long line)
                    # would leave a split empty: cut it at a space; other lines stay whole
                    if offset + start <= c < end and end > beyond:
                        at = line.find(" ", c - offset)
                        if at < 0:
                            break
                        yield ("train" if offset + start <= cut[0] else "valid"), line[start:at]
                        start = at + 1
                rest_at = offset + start
                yield ("train" if rest_at <= cut[0] else "valid" if rest_at <= cut[1] else "test"), line[start:]

    # pass 2: the vocabulary of the training part, the size of each part, the content digest
    counts: Counter[str] = Counter()
    sizes = {"train": 0, "valid": 0, "test": 0}
    words = {"train": 0, "valid": 0, "test": 0}  # tokens other than <eos>: a part without any is empty
    key = hashlib.sha256(repr((cut, [name for name, _ in sources], tokenizer)).encode())
    for name, line in parts():
        tokens = split_words(line, tokenizer)
        if name == "train":
            counts.update(tokens)
        sizes[name] += len(tokens) + 1
        words[name] += len(tokens)
        key.update(line.encode("utf-8") + b"\n")
    for name in ("train", "valid", "test"):
        if words[name] == 0:
            raise DataError(f"the {name} split of the training text is empty; the corpus is too small to split"
                            if cut is not None else f"the {name} file holds no words")
    specials = set(LM_WORDS)
    ranked = sorted((w for w, c in counts.items() if c >= min_freq and w not in specials),
                    key=lambda w: (-counts[w], w))
    if max_vocab is not None:
        ranked = ranked[: max(0, max_vocab - len(LM_WORDS))]
    vocab = Vocab([*LM_WORDS, *ranked], level="word", unk=UNK, specials=LM_WORDS, tokenizer=tokenizer)
    key.update(repr(vocab.to_dict()).encode("utf-8"))
    dtype = id_dtype(len(vocab)).newbyteorder("<")
    total = sum(sizes.values())

    def write(f: BinaryIO) -> None:  # pass 3: the ids, a block of lines at a time
        write_npy_header(f, dtype, total)
        stoi, unk, eos = vocab.stoi, vocab.stoi[UNK], vocab.stoi[EOS]
        block: list[int] = []
        for _, line in parts():
            block.extend(stoi.get(t, unk) for t in split_words(line, tokenizer))
            block.append(eos)
            if len(block) >= 1 << 20:
                f.write(np.asarray(block, dtype=dtype).tobytes())
                block.clear()
        f.write(np.asarray(block, dtype=dtype).tobytes())

    ids = cached_ids(key.hexdigest()[:32], write)
    a, b = sizes["train"], sizes["train"] + sizes["valid"]
    corpus = Corpus(vocab, ids[:a], ids[a:b], ids[b:])
    if len(corpus.train) < 2:
        raise DataError("the training text has fewer than 2 tokens")
    return corpus


__all__ = ["Corpus", "load_corpus"]
