"""Vocabularies: the map between tokens (characters or words) and integer ids.

One class, :class:`Vocab`, serves every model; what differs is its *specials policy*: which
special tokens come first, and so which ids they have. The policies, by use:

=================  =====================  ==============================================
``NO_SPECIALS``    ``()``                 character language models (char-rnn)
``LM_WORDS``       ``(<eos>, <unk>)``     word language models: ``<eos>`` closes a line
``PADDED``         ``(<pad>, <unk>)``     padded batches (classifier, tagger): 0 pads
``SEQ2SEQ``        ``(<pad>, <unk>,       sentence generators and translators: decoding
                   <bos>, <eos>)``        starts at ``<bos>`` and ends at ``<eos>``
=================  =====================  ==============================================

Code that needs a special id asks the vocabulary (``vocab.eos_id``), never a constant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from rnnkit.data.word_split import check_word_split, split_words
from rnnkit.errors import DataError

UNK = "<unk>"
EOS = "<eos>"
PAD = "<pad>"
BOS = "<bos>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)

NO_SPECIALS: tuple[str, ...] = ()
LM_WORDS = (EOS, UNK)
PADDED = (PAD, UNK)
SEQ2SEQ = (PAD, UNK, BOS, EOS)


class Vocab:
    """An ordered token list with its inverse; ids are positions in ``tokens``.

    ``level`` is ``"char"`` (a token is one character) or ``"word"`` (whitespace-split
    words, ``<eos>`` closing each line as in Mikolov's Penn Treebank files). If ``unk``
    is set, unknown tokens map to it; otherwise encoding an unknown token is an error.
    ``specials``: the special tokens the vocabulary starts with (its policy, see the module
    docstring); ``pad_id``/``unk_id``/``bos_id``/``eos_id`` are their ids, ``None`` if absent.
    ``tokenizer`` (word level): how a line of text was split into these words
    (:mod:`rnnkit.data.word_split`); :meth:`words` splits new text the same way.
    """

    def __init__(self, tokens: Sequence[str], level: str = "char", unk: str | None = None,
                 specials: Sequence[str] | None = None, tokenizer: str = "whitespace") -> None:
        if level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {level!r}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        if unk is not None and unk not in tokens:
            raise ValueError(f"unk token {unk!r} is not in the vocabulary")
        self.tokens = list(tokens)
        self.level = level
        self.unk = unk
        self.specials = _leading_specials(self.tokens) if specials is None else tuple(specials)
        if self.tokens[:len(self.specials)] != list(self.specials):
            raise ValueError(f"the vocabulary must start with its specials {self.specials}")
        self.stoi = {t: i for i, t in enumerate(self.tokens)}
        self.tokenizer = check_word_split(tokenizer)

    def words(self, line: str) -> list[str]:
        """The words of one line of text, split as this vocabulary's were."""
        return split_words(line, self.tokenizer)

    def _special_id(self, token: str) -> int | None:
        return self.specials.index(token) if token in self.specials else None

    @property
    def pad_id(self) -> int | None:
        return self._special_id(PAD)

    @property
    def unk_id(self) -> int | None:
        return self._special_id(UNK)

    @property
    def bos_id(self) -> int | None:
        return self._special_id(BOS)

    @property
    def eos_id(self) -> int | None:
        return self._special_id(EOS)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocab({len(self)} {self.level} tokens, specials={self.specials})"

    @classmethod
    def build_chars(cls, texts: Iterable[str]) -> Vocab:
        """Every distinct character, sorted by code point (char-rnn's convention)."""
        chars: set[str] = set()
        for text in texts:
            chars.update(text)
        if not chars:
            raise DataError("cannot build a vocabulary from empty text")
        return cls(sorted(chars), level="char", specials=NO_SPECIALS)

    @classmethod
    def build_words(cls, token_lists: Iterable[Iterable[str]], min_freq: int = 1,
                    max_size: int | None = None, specials: Sequence[str] = LM_WORDS) -> Vocab:
        """``specials`` first (ids 0, 1, ...; ``<unk>`` must be among them; one of the
        policies of the module docstring), then words by descending frequency, ties
        alphabetical."""
        if UNK not in specials:
            raise ValueError(f"specials must include {UNK!r}")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        words = sorted((w for w, c in counts.items() if c >= min_freq and w not in specials),
                       key=lambda w: (-counts[w], w))
        if max_size is not None:
            words = words[: max(0, max_size - len(specials))]
        return cls(list(specials) + words, level="word", unk=UNK, specials=specials)

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Token ids as an ``int64`` array; unknown tokens map to ``unk`` or raise ``DataError``."""
        if self.unk is not None:
            unk_id = self.stoi[self.unk]
            return np.fromiter((self.stoi.get(t, unk_id) for t in tokens), dtype=np.int64)
        ids = []
        for t in tokens:
            i = self.stoi.get(t)
            if i is None:
                raise DataError(f"{t!r} is not in the model's {self.level} vocabulary "
                                f"({len(self)} tokens); use only tokens seen in training")
            ids.append(i)
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        """Text from ids: characters joined directly, words with spaces and ``<eos>`` as newline."""
        toks = [self.tokens[int(i)] for i in ids]
        if self.level == "char":
            return "".join(toks)
        lines: list[str] = []
        words: list[str] = []
        for t in toks:
            if t == EOS:
                lines.append(" ".join(words) + "\n")
                words = []
            else:
                words.append(t)
        return "".join(lines) + " ".join(words)

    def to_dict(self) -> dict:
        d = {"tokens": self.tokens, "level": self.level, "unk": self.unk, "specials": list(self.specials)}
        if self.tokenizer != "whitespace":  # recorded only when not the default: older files stay as they were
            d["tokenizer"] = self.tokenizer
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        # checkpoints from before the specials were recorded: the leading special tokens
        return cls(d["tokens"], d["level"], d.get("unk"), d.get("specials"), d.get("tokenizer", "whitespace"))


def _leading_specials(tokens: Sequence[str]) -> tuple[str, ...]:
    """The run of special tokens a vocabulary starts with."""
    n = 0
    while n < len(tokens) and tokens[n] in SPECIAL_TOKENS:
        n += 1
    return tuple(tokens[:n])
