"""A language-modelling corpus: vocabulary plus train/valid/test token ids."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.data.text import encode_cached, read_text, tokens
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
    train_text = "\n".join(read_text(p) for p in train_files) if len(train_files) > 1 else read_text(train_files[0])
    if (valid is None) != (test is None):
        raise DataError("give both --valid and --test files, or neither (to split the training text)")
    if valid is None:
        if len(split) != 3 or abs(sum(split) - 1) > 1e-6 or min(split) <= 0:
            raise DataError(f"split fractions must be three positive numbers summing to 1, got {split}")
        n = len(train_text)
        a, b = int(n * split[0]), int(n * (split[0] + split[1]))
        if level == "word":  # cut at line ends so no word is split in two
            a, b = _line_end(train_text, a), _line_end(train_text, b)
        texts = {"train": train_text[:a], "valid": train_text[a:b], "test": train_text[b:]}
        for name, t in texts.items():
            if not t.strip():
                raise DataError(f"the {name} split of the training text is empty; the corpus is too small to split")
    else:
        assert test is not None  # both or neither, checked above
        texts = {"train": train_text, "valid": read_text(valid), "test": read_text(test)}
    if level == "char":
        vocab = Vocab.build_chars(texts.values())
    else:
        vocab = Vocab.build_words([tokens(texts["train"], "word")], min_freq=min_freq, max_size=max_vocab,
                                  specials=LM_WORDS)

    corpus = Corpus(vocab, *(encode_cached(texts[name], vocab) for name in ("train", "valid", "test")))
    if len(corpus.train) < 2:
        raise DataError("the training text has fewer than 2 tokens")
    return corpus


def _line_end(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


__all__ = ["Corpus", "load_corpus"]
