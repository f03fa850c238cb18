"""How a line of text becomes words, for word-level language models and what reads their
vocabulary (a classifier on a pretrained encoder must split text exactly as its language
model did).

* ``"whitespace"`` (default): the text is already tokenised (Mikolov's Penn Treebank files,
  Moses output): words are what lies between spaces, case kept;
* ``"simple"``: raw text such as reviews: lowercased, words (with inner apostrophes or
  hyphens: ``man's``, ``t-shirt``) and single punctuation marks, ``"A man's hat."`` ->
  ``a man's hat .``; the same splitting as the sentence models' ``simple`` tokenizer.
"""

from __future__ import annotations

import re

from rnnkit.errors import ConfigError

WORD_SPLITS = ("whitespace", "simple")

# a word (letters/digits, with inner apostrophes or hyphens: "man's", "t-shirt") or one mark
_SIMPLE = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")


def simple_tokens(text: str) -> list[str]:
    """Words and single punctuation marks of ``text``, case as given."""
    return _SIMPLE.findall(text)


def split_words(line: str, how: str = "whitespace") -> list[str]:
    """The words of one line under ``how`` (one of :data:`WORD_SPLITS`)."""
    if how == "whitespace":
        return line.split()
    if how == "simple":
        return _SIMPLE.findall(line.lower())
    raise ConfigError(f"unknown word split {how!r}; choose one of {', '.join(WORD_SPLITS)}")


def check_word_split(how: str) -> str:
    if how not in WORD_SPLITS:
        raise ConfigError(f"unknown tokenizer {how!r} for a word language model; choose one of "
                          f"{', '.join(WORD_SPLITS)}")
    return how


__all__ = ["WORD_SPLITS", "split_words", "simple_tokens", "check_word_split"]
