"""Words to ids for padded batches: a word vocabulary and, optionally, a character one.

Text classifiers and taggers look words up in a vocabulary built from the training data
(``<pad>`` = 0, ``<unk>`` = 1; words rarer than ``min_freq`` become ``<unk>``). Character
features (Ling et al. 2015; Lample et al. 2016) see every word, even unknown ones, spelled
out in characters, with the case kept even when the word lookup is lowercased: capitals,
digits and suffixes are what tell a tagger about a word it never saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.data.vocab import PADDED, UNK, Vocab


@dataclass
class EncodedTokens:
    """One sequence: ``words`` (T,) ids and ``chars`` (T, L) char ids (0-padded) or ``None``."""

    words: np.ndarray
    chars: np.ndarray | None


class TokenEncoder:
    """Word (and character) vocabularies fitted on training sentences.

    ``max_word_length`` caps the characters read per word: the character encoder's cost
    grows with it, and the first letters and the suffix carry the signal.
    """

    def __init__(self, words: Vocab, chars: Vocab | None = None, lowercase: bool = True,
                 max_word_length: int = 20) -> None:
        self.words, self.chars, self.lowercase, self.max_word_length = words, chars, lowercase, max_word_length

    @classmethod
    def fit(cls, sentences: Iterable[Sequence[str]], min_freq: int = 1, lowercase: bool = True,
            char_features: bool = False, max_word_length: int = 20) -> TokenEncoder:
        sentences = list(sentences)
        fold = (lambda w: w.lower()) if lowercase else (lambda w: w)
        words = Vocab.build_words(([fold(w) for w in s] for s in sentences), min_freq=min_freq, specials=PADDED)
        chars = None
        if char_features:
            # id 0 pads, 1 stands for characters never seen in training.
            seen = sorted({c for s in sentences for w in s for c in w})
            chars = Vocab([*PADDED, *(c for c in seen if c not in PADDED)], level="char", unk=UNK, specials=PADDED)
        return cls(words, chars, lowercase, max_word_length)

    def encode(self, tokens: Sequence[str]) -> EncodedTokens:
        """Ids for one token sequence (an empty one becomes a single ``<unk>``)."""
        tokens = list(tokens) or [UNK]
        words = self.words.encode([w.lower() if self.lowercase else w for w in tokens])
        if self.chars is None:
            return EncodedTokens(words, None)
        width = min(self.max_word_length, max(len(w) for w in tokens))
        chars = np.zeros((len(tokens), max(1, width)), dtype=np.int64)
        for i, w in enumerate(tokens):
            ids = self.chars.encode(list(w[:width])) if w else np.array([self.chars.stoi[UNK]])
            chars[i, : len(ids)] = ids
        return EncodedTokens(words, chars)

    def to_dict(self) -> dict:
        return {"words": self.words.to_dict(), "chars": self.chars.to_dict() if self.chars else None,
                "lowercase": self.lowercase, "max_word_length": self.max_word_length}

    @classmethod
    def from_dict(cls, d: dict) -> TokenEncoder:
        chars = Vocab.from_dict(d["chars"]) if d.get("chars") else None
        return cls(Vocab.from_dict(d["words"]), chars, d["lowercase"], d["max_word_length"])
